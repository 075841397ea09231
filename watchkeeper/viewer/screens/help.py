"""Help (``?`` or F1): what the screen under it shows, and every key it takes, in a pane that fits.

Textual's help panel took a third of the width and half its height for the
focused widget's text alone, so at 80 columns the text broke off and the keys
were cut. This screen uses the whole terminal: the screen's help and that of
its parts (timeline, detail pane) as Markdown that wraps, then each key the
screen takes now with what it does, all of it scrollable.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Markdown, Static

from ..model.keys import Shown as Key
from ..model.keys import rank


def help_text(screen: Screen[object]) -> str:
    """The screen's help, then its own widgets' (each once), as Markdown."""
    parts = [screen.HELP or ""]
    seen: set[type] = {type(screen)}
    widgets: Iterable[Widget] = screen.query("*")
    for widget in widgets:
        kind = type(widget)
        if kind not in seen and widget.HELP and kind.__module__.startswith("watchkeeper."):
            seen.add(kind)
            parts.append(widget.HELP)
    return "\n\n".join(_dedent(p) for p in parts if p.strip())


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip()


def key_lines(screen: Screen[object]) -> list[tuple[str, str]]:
    """(keys, what they do) for each action the screen takes now, in its footer's order; dimmed ones too."""
    app = screen.app
    by_action: dict[tuple[int, str], tuple[list[str], Binding, bool]] = {}
    for node, binding, enabled, _tooltip in screen.active_bindings.values():
        if not binding.description or not (_ours(node, binding) or binding.key == app.COMMAND_PALETTE_BINDING):
            continue
        entry = by_action.setdefault((id(node), binding.action), ([], binding, enabled))
        entry[0].append(app.get_key_display(binding))
    table = str(getattr(screen, "KEYS", ""))
    ordered = sorted(by_action.values(),
                     key=lambda e: rank(table, Key(e[1].id or "", e[1].key, 0, e[2]))[::-1])
    return [(" ".join(dict.fromkeys(keys)), binding.description + ("" if enabled else " (not now)"))
            for keys, binding, enabled in ordered]


def _ours(node: object, binding: Binding) -> bool:
    """Whether ``binding`` is one of watchkeeper's own, not one of Textual's (scroll, focus, copy, Ctrl+Q)."""
    def declared(package: str) -> bool:
        return any(cls.__module__.startswith(package) and any(
            isinstance(b, Binding) and b.action == binding.action and binding.key in b.key.split(",")
            for b in vars(cls).get("BINDINGS", ())) for cls in type(node).__mro__)

    # A screen may list Screen's own bindings with its own (to order them); those stay Textual's.
    return declared("watchkeeper.") and not (isinstance(node, (Screen, App)) and declared("textual."))


class HelpScreen(ModalScreen[None]):
    """The help for the screen it was opened over; Escape, ? or F1 closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", id="help.close"),
        Binding("question_mark,f1", "dismiss", "Help", id="help.toggle"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background 60%;
        & > VerticalScroll {
            width: 100%;
            max-width: 100;
            height: 100%;
            border: round $primary;
            border-title-color: $text-primary;
            border-title-style: bold;
            border-subtitle-color: $foreground;
            background: $surface;
            padding: 0 1;
        }
        Markdown { margin: 0; padding: 0; background: $surface; }
        #help-keys { margin-top: 1; }
    }
    """

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.text = help_text(under)
        self.keys = key_lines(under)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Help"
            box.border_subtitle = "Esc or ? closes · ↑/↓ scroll"
            yield Markdown(self.text, id="help-text")
            yield Static(self._keys_text(), id="help-keys")

    def _keys_text(self) -> Text:
        width = max((cell_len(k) for k, _ in self.keys), default=0)
        text = Text("Keys\n", style="bold")
        for keys, what in self.keys:
            text.append(" " * (width - cell_len(keys)) + keys, style="bold")
            text.append(f"  {what}\n")
        text.rstrip()
        return text

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
