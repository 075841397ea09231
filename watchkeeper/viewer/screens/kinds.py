"""A small modal to show or hide kinds of rows (``f`` on the session screen).

Each kind is checked while shown; Space or Enter flips it, Escape closes and
applies. The result is the set of hidden kinds, so any kind can be hidden,
not only one shown alone.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widgets import Checkbox, Label, SelectionList

from ...protocol.display import visible


class KindList(SelectionList[str]):
    """A hidden kind's box is drawn empty. Textual puts an X in every box, an unticked one only dimmer, which
    reads as ticked without colour (usage and state, hidden by default, looked shown)."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        index = self.scroll_offset.y + y
        if index >= self.option_count or self.get_option_at_index(index).value in self.selected:
            return line
        segments = list(line)
        if len(segments) > 1 and segments[1].text == Checkbox.BUTTON_INNER:
            segments[1] = Segment(" " * len(Checkbox.BUTTON_INNER), segments[1].style)
        return Strip(segments, line.cell_length)


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
            yield KindList(*choices)

    def action_done(self) -> None:
        chosen = set(self.query_one(KindList).selected)
        self.dismiss(frozenset(kind for kind, _ in self.counts if kind not in chosen))
