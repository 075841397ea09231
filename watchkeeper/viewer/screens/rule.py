"""Ask for the one value a new breakpoint rule needs (a tool, a text, a threshold), checked as typed."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ...breakpoints import KINDS, Rule, rule_for
from ...protocol.display import visible


class RuleDialog(ModalScreen[Rule | None]):
    """Dismisses with the new rule, or None when the person backs out."""

    CSS_PATH = "dialog.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back", id="rule.back")]

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        what, question, example = KINDS[self.kind]
        with Vertical(classes="dialog") as box:
            box.border_title = f"Breakpoint on {what}"
            yield Static(question or "", markup=False)
            yield Static("A call it holds waits for you (approve, deny, step or resume); the bell rings and "
                         "the session goes to the top of the list. Kept in breakpoints.toml.",
                         classes="dialog-note", markup=False)
            yield Input(placeholder=f"e.g. {example}", id="value")
            yield Static("", id="problem", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back", id="back")
                yield Button("Add", id="add", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    @on(Input.Submitted, "#value")
    @on(Button.Pressed, "#add")
    def _add(self) -> None:
        problem = self.query_one("#problem", Static)
        try:
            rule = rule_for(self.kind, self.query_one("#value", Input).value)
        except ValueError as e:
            problem.update(visible(str(e)))
            problem.add_class("-visible")
            return
        self.dismiss(rule)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
