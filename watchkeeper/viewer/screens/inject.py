"""Inject a message into a running session: the dialog says where and when the agent gets it."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from ...protocol.display import visible


class InjectDialog(ModalScreen[str | None]):
    """Dismisses with the text to send, or None when the person backs out (or sends nothing)."""

    CSS_PATH = "dialog.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="inject.back"),
        Binding("ctrl+s", "send", "Send", id="inject.send", priority=True),
    ]

    def __init__(self, where: str, title: str | None = None) -> None:
        super().__init__()
        self.where = where
        self.session_title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Send a message to the agent"
            if self.session_title:
                yield Static(visible(self.session_title), classes="dialog-call", markup=False)
            yield Static(visible(self.where), classes="dialog-note", markup=False)
            yield TextArea(id="text", soft_wrap=True, show_line_numbers=False)
            yield Static("", id="empty", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back", id="back")
                yield Button("Send (Ctrl+S)", id="send", variant="primary")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @on(Button.Pressed, "#send")
    def action_send(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            empty = self.query_one("#empty", Static)
            empty.update("Nothing to send: type the message first.")
            empty.add_class("-visible")
            return
        self.dismiss(text)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
