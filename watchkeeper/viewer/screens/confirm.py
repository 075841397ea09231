"""Asks before something that cannot be taken back (leaving the watch for the demo, adding an agent's rule):
one question, with what it is about shown verbatim; y to go on, Escape or n not."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...protocol.display import visible

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

    def __init__(self, title: str, question: str, yes: str, *, about: tuple[str, ...] = (),
                 focus_yes: bool = True) -> None:
        super().__init__()
        self.title_text, self.question, self.yes = title, question, yes
        #: lines of data the question is about (a call, a rule), shown as they are, never as markup.
        self.about = about
        self.focus_yes = focus_yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            if self.about:
                yield Static(visible(self.about[0]), classes="dialog-call", markup=False)
            yield Static(self.question, classes="dialog-note", markup=False)
            # What the person agrees to scrolls, the buttons stay in sight, and yes waits until its end was shown:
            # an agent's long list of rules must not hide the end of what is added.
            with VerticalScroll(classes="dialog-about", id="about"):
                for line in self.about[1:]:
                    yield Static(visible(line), classes="dialog-call", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back (n)", id="back")
                yield Button(f"{self.yes} (y)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes" if self.focus_yes else "#back", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.action_answer(True)

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.dismiss(False)

    def action_answer(self, yes: bool) -> None:
        about = self.query_one("#about", VerticalScroll)
        if yes and about.scroll_y < about.max_scroll_y:
            about.scroll_end(animate=False)
            self.notify("It goes on below: read it to its end, then y.", severity="warning")
            return
        self.dismiss(yes)
