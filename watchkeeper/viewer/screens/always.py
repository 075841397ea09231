"""Always allow a permission prompt: the rule the agent would add is shown verbatim before it is chosen.

Approve answers a prompt once; this is the separate, explicit choice that
also changes the agent's own rules, so the person reads exactly what they add.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...protocol.display import visible
from ...protocol.session import Held
from ..model.rows import one_line, salient_input


class AlwaysDialog(ModalScreen[bool]):
    """Dismisses True when the person adds the rule, False when they back out."""

    CSS_PATH = "dialog.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back", id="always.back")]

    def __init__(self, call: Held) -> None:
        super().__init__()
        self.call = call

    def compose(self) -> ComposeResult:
        call = self.call
        with Vertical(classes="dialog") as box:
            box.border_title = "Always allow"
            what = one_line(f"{call.name or '?'}  {salient_input(call.name, call.input)}", 200)
            yield Static(visible(what), classes="dialog-call", markup=False)
            yield Static("Allows this call and adds this to the agent's own permission rules, so it stops asking:",
                         classes="dialog-note", markup=False)
            yield Static(visible(call.always_rule or ""), id="rule", classes="dialog-call", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back", id="back")
                yield Button("Add the rule and allow", id="always", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#back", Button).focus()

    @on(Button.Pressed, "#always")
    def _always(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(False)
