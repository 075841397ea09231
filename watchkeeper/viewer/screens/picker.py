"""A small modal list to pick one value (a tool, an agent, a kind) for a filter."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ...protocol.display import visible


class Picker(ModalScreen[str | None]):
    """Dismisses with the chosen value, or None on Escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel", id="picker.cancel")]

    DEFAULT_CSS = """
    Picker {
        align: center middle;
        & > Vertical {
            width: 60;
            height: auto;
            max-height: 80%;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        OptionList { height: auto; max-height: 30; }
    }
    """

    def __init__(self, title: str, choices: list[tuple[str, int]], labels: dict[str, str] | None = None, *,
                 values: bool = True, counts: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        #: value -> what to show for it (a subagent's description for its id); the value itself otherwise.
        self.labels = labels or {}
        #: Whether a labelled value is shown beside its label (an id the person may know; not a key of ours).
        self.values = values
        #: Whether each value's count is shown (how many rows it has); off where there is nothing to count.
        self.counts = counts

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(visible(self.title_text), markup=False)
            options = (Option(visible(f"{self._label(value)}  ({count:,})" if self.counts else self._label(value)),
                              id=value) for value, count in self.choices)
            # Values are tool and agent names from the data: plain text, not markup.
            yield OptionList(*options, markup=False)

    def _label(self, value: str) -> str:
        label = self.labels.get(value)
        if not label:
            return value
        return f"{label}  [{value[:12]}]" if self.values else label

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
