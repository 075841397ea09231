"""The detail pane: everything about the selected row, and only that row.

A Line-API ``ScrollView`` holding the selected row pre-rendered to strips, so
moving the cursor never re-lays out the screen (a ``Static`` would, on every
move). Rendering happens once per selection (selections are coalesced), and the
last ``KEPT`` rows rendered (those that no longer change) are kept, so moving
back over them renders nothing; long output is folded until the person unfolds
it with ``o``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.syntax import SyntaxTheme
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.color import Color
from textual.filter import LineFilter
from textual.geometry import Region, Size
from textual.strip import Strip

from ...protocol import Event, ToolCall
from ..compat import filtered, lines_past_pass, set_scroll_range
from ..model.detail_render import Options, render_detail
from ..theme import syntax_theme
from .scrollbar import SteadyScrollView
from .styles import RoleStyles

ROLES = ("ok", "error", "running", "waiting", "denied", "dim")
#: Rows whose rendered lines are kept (folded, at one width): a few screens of moving back and forth.
KEPT = 64


class DetailPane(SteadyScrollView, can_focus=True):
    """Input and output of a call (diffs, highlighted commands, pretty JSON), or an event's data."""

    HELP = """
## Detail
The selected row in full: a call's input and output, diffs for edits.

- **o**: unfold long output (its full size is shown while folded)
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "unfold", "Unfold", id="detail.unfold"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"detail--{role}" for role in ROLES}

    DEFAULT_CSS = """
    DetailPane {
        background: $surface;
        padding: 0 1;
        overflow-x: hidden;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        & > .detail--ok { color: $text-success; }
        & > .detail--error { color: $text-error; text-style: bold; }
        & > .detail--running { color: $text-warning; }
        & > .detail--waiting { color: $text-warning; text-style: bold; }
        & > .detail--denied { color: $text-error; }
        & > .detail--dim { color: $text-muted; }
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._events: list[Event] = []
        self._call: ToolCall | None = None
        self._now: float | None = None
        self._unfold = False
        self._key: tuple[object, ...] | None = None
        self._strips: list[Strip] = []
        #: Lines drawn past Textual's styles pass, filtered, by index; for these (filters, ground, width).
        self._filtered: dict[int, list[Segment]] = {}
        self._filtered_for: object = None
        self._kept: LRUCache[tuple[object, ...], list[list[Segment]]] = LRUCache(KEPT)
        self._width = 0
        self._base: Style | None = None
        self._roles = RoleStyles(self, "detail")
        self._syntax: tuple[tuple[object, ...], SyntaxTheme] | None = None
        #: (text, role) shown instead of a row (``show_note``), else None.
        self._note: tuple[str, str] | None = None

    def show(self, events: list[Event], call: ToolCall | None, now: float | None = None) -> None:
        """Render ``events`` (one row's); skipped when the row has not changed since last time."""
        key = (tuple(e.get("id") for e in events), call.status if call else None, now is not None)
        if key == self._key:
            return
        new_row = not self._key or self._key[0] != key[0]
        self._key, self._events, self._call, self._now, self._note = key, events, call, now, None
        if new_row:
            self._unfold = False
        self._render_strips()
        if new_row:
            self.scroll_to(y=0, animate=False, immediate=True)

    def show_note(self, text: str, role: str = "dim") -> None:
        """Instead of a row: what keeps it from being shown (its events being read, or why they were not)."""
        if self._key == ("note", text, role):
            return
        self._key, self._events, self._call, self._note = ("note", text, role), [], None, (text, role)
        self._render_strips()

    @property
    def waiting(self) -> bool:
        """The pane shows a note instead of the selected row."""
        return self._note is not None

    def renderable(self, now: float | None = None) -> RenderableType:
        """The selected row as one Rich renderable (what the pane shows, before wrapping)."""
        if self._note is not None:
            return Text(self._note[0], style=self._roles(self._note[1]))
        styles = {role: self._roles(role) for role in ROLES}
        opts = Options(unfold=self._unfold, theme=self._syntax_theme(), styles=styles)
        return render_detail(self._events, self._call, opts, self._now if now is None else now)

    def _syntax_theme(self) -> str | SyntaxTheme:
        """The terminal's own palette under an ANSI theme; else colours that read on this pane (``syntax_theme``)."""
        if not self.is_mounted:
            return "ansi_dark"
        app = self.app
        dark = app.current_theme.dark
        if app.native_ansi_color:
            return "ansi_dark" if dark else "ansi_light"
        ground = self.background_colors[1]
        key = (dark, ground.hex, id(app.ansi_theme))
        if self._syntax is None or self._syntax[0] != key:
            self._syntax = (key, syntax_theme(dark, app.ansi_theme, ground))
        return self._syntax[1]

    def _render_strips(self, whole: bool = False) -> None:
        self._filtered.clear()
        width = self.scrollable_content_region.width
        whole = whole or width != self._width
        self._width = width
        if width <= 0 or not self.is_mounted:
            self._strips = []
            return
        before = len(self._strips)
        keep = not self._unfold and (self._call is None or self._call.final)
        key = (self._key, width)
        lines = self._kept.get(key) if keep else None
        if lines is None:
            console = self.app.console
            options = console.options.update(width=width, height=None, highlight=False)
            lines = console.render_lines(self.renderable(), options, style=self.rich_style, pad=False)
            if keep:
                self._kept[key] = lines
        self._strips = [Strip(line) for line in lines]
        if self._fit_range() or whole:
            self.refresh()
            return
        # Same range: only the lines that showed something, or will, are drawn again (a short row's
        # blank lines below, and the scrollbar, stay as they were).
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        shown = min(max(before, len(self._strips)), top + height) - top
        if shown > 0:
            self.refresh_lines(top, shown)

    def _fit_range(self) -> bool:
        """Set the scroll range to the row's lines, and never less than the pane's height: a row that fits
        then leaves the range, and so the scrollbar, as it was. True if the range changed."""
        size = Size(self._width, max(len(self._strips), self.scrollable_content_region.height))
        if size == self.virtual_size:
            return False
        # Setting ``virtual_size`` re-lays out the whole screen (~10 ms here) on every cursor
        # move; only the scrollbars depend on it, and the gutter keeps the width stable.
        set_scroll_range(self, size)
        return True

    def render_lines(self, crop: Region) -> list[Strip]:
        """Past Textual's styles pass, which only pads the sides here (``compat.lines_past_pass``)."""
        strips = lines_past_pass(self, crop, self._frame)
        return super().render_lines(crop) if strips is None else strips

    def _frame(self, filters: tuple[LineFilter, ...], ground: Color, width: int) -> Callable[[int], list[Segment]]:
        """Lines kept filtered by their index, until the row, the width, the filters or the ground change."""
        drawn = (filters, ground, width)
        if drawn != self._filtered_for:
            self._filtered_for = drawn
            self._filtered.clear()
        top, kept = self.scroll_offset.y, self._filtered

        def line(y: int) -> list[Segment]:
            segments = kept.get(top + y)
            if segments is None:
                segments = kept[top + y] = filtered(list(self.render_line(y)), filters, ground)
            return segments

        return line

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if self._base is None:
            self._base = self.rich_style
        i = scroll_y + y
        if i < len(self._strips):
            return self._strips[i].crop_extend(scroll_x, scroll_x + width, self._base)
        return Strip.blank(width, self._base)

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._width:
            self._render_strips(whole=True)
        elif self._fit_range():
            self.refresh()

    def action_unfold(self) -> None:
        self._unfold = not self._unfold
        self._render_strips()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            # Textual restyles the widget before its component classes: drawn now, the rows would keep the
            # old theme's role colours (an error's red, the muted grey), unreadable on the new ground.
            self.call_later(self._restyle)

    def _restyle(self) -> None:
        """Everything resolved from the styles goes, and the row is drawn again in the new ones."""
        self._base = None
        self._roles.clear()
        self._kept.clear()
        if self._events or self._note:
            self._render_strips(whole=True)
