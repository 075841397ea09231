"""Deny a held tool call: the reason typed here is what the agent reads instead of the tool's result."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ...protocol.controls import DEFAULT_DENY_REASON
from ...protocol.display import visible
from ...protocol.session import Held
from ..model.rows import one_line, salient_input


class DenyDialog(ModalScreen[str | None]):
    """Dismisses with the reason ("" if left empty: the session gives its default), or None to back out."""

    CSS_PATH = "dialog.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back", id="deny.back")]

    def __init__(self, call: Held) -> None:
        super().__init__()
        self.call = call

    def compose(self) -> ComposeResult:
        call = self.call
        with Vertical(classes="dialog") as box:
            box.border_title = "Deny this tool call"
            what = one_line(f"{call.name or '?'}  {salient_input(call.name, call.input)}", 200)
            yield Static(visible(what), classes="dialog-call", markup=False)
            yield Static(visible(f"Held: {call.describe()}.") + " The tool does not run; the agent reads your reason "
                         "in its place and decides what to do next.\n" + self._if_empty(call), classes="dialog-note",
                         markup=False)
            yield Input(placeholder="the reason the agent will read", id="reason")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back", id="back")
                yield Button("Deny", id="deny", variant="error")

    @staticmethod
    def _if_empty(call: Held) -> str:
        """An ACP agent gets the reason as a prompt of its own: none is sent when none is given."""
        if call.options is not None:
            return "Left empty, the agent is told only that you refused."
        return f"Left empty, the agent reads “{DEFAULT_DENY_REASON}”."

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    @on(Button.Pressed, "#deny")
    def _deny(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        self.dismiss(reason)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
