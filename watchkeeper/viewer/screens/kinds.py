"""A small modal to show or hide kinds of rows (``f`` on the session screen).

Each kind is checked while shown; Space or Enter flips it, Escape closes and
applies. The result is the set of hidden kinds, so any kind can be hidden,
not only one shown alone.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList

from ...protocol.display import visible


class KindChooser(ModalScreen[frozenset[str]]):
    """Dismisses with the kinds left unchecked (hidden)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f", "done", "Done", id="kinds.done"),
    ]

    DEFAULT_CSS = """
    KindChooser {
        align: center middle;
        & > Vertical {
            width: 50;
            height: auto;
            max-height: 80%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        SelectionList { height: auto; max-height: 24; }
    }
    """

    def __init__(self, counts: list[tuple[str, int]], hidden: frozenset[str]) -> None:
        super().__init__()
        self.counts = counts
        self.hidden = hidden

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Kinds shown — Space: show/hide · Esc: done", markup=False)
            # Kind names may come from the data (an unknown kind): plain text, not markup.
            choices = [(Content(visible(f"{kind}  ({n:,})")), kind, kind not in self.hidden) for kind, n in self.counts]
            yield SelectionList[str](*choices)

    def action_done(self) -> None:
        chosen = set(self.query_one(SelectionList).selected)
        self.dismiss(frozenset(kind for kind, _ in self.counts if kind not in chosen))
