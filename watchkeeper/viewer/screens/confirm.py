"""Asks before something that leaves the watch (the demo): one question, Enter or y to go on, Escape or n not."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

#: The demo's question (title, question, the yes button): it ends this watch.
DEMO = ("Play the demo?", "This stops watching the sessions here and plays the demo's sample sessions instead. "
        "Run `watchkeeper` again to come back.", "Play the demo")


class Confirm(ModalScreen[bool]):
    """Dismisses with True when the person confirms; Escape, n or Back is False."""

    CSS_PATH = "dialog.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "Back", id="confirm.back"),
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
    ]

    def __init__(self, title: str, question: str, yes: str) -> None:
        super().__init__()
        self.title_text, self.question, self.yes = title, question, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Static(self.question, classes="dialog-note", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back (n)", id="back")
                yield Button(f"{self.yes} (y)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
