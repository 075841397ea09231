"""A scrollbar drawn again only when what it shows changes, and the ``ScrollView`` that has one.

Textual redraws a scrollbar whenever its widget scrolls. Over a million rows the
thumb moves by one eighth of a cell every few thousand rows, yet each redraw
(Rich renders it line by line) took ~4 ms of a key's frame: about as much as
drawing every row of the timeline from its cache.
"""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.style import Style
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

from ..compat import own_vertical_scrollbar


class SteadyScrollBar(ScrollBar):
    """A ``ScrollBar`` that keeps its lines until the segments it would draw differ."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: tuple[tuple[object, ...], list[Strip]] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        key = (crop, self.size, self.styles.tint, self.styles.opacity, tuple(self.get_line_filters()), self._shown())
        if self._kept is not None and self._kept[0] == key:
            return self._kept[1]
        lines = super().render_lines(crop)
        self._kept = (key, lines)
        return lines

    def notify_style_update(self) -> None:
        self._kept = None
        super().notify_style_update()

    def _shown(self) -> object:
        """What the bar would draw: its segments, from the same renderer and arguments Textual's render gives it."""
        bar = self.render()
        if not isinstance(bar, ScrollBarRender):
            return bar
        style = bar.style if isinstance(bar.style, Style) else Style.parse(bar.style)
        length, thickness = (self.size.height, self.size.width) if self.vertical else (self.size.width,
                                                                                       self.size.height)
        segments = bar.render_bar(
            size=length, virtual_size=bar.virtual_size, window_size=bar.window_size, position=bar.position,
            thickness=thickness, vertical=bar.vertical,
            back_color=style.bgcolor or Color.default(), bar_color=style.color or Color.default())
        return type(bar), tuple(segments.segments)


class SteadyScrollView(ScrollView):
    """A ``ScrollView`` whose vertical scrollbar is a :class:`SteadyScrollBar`."""

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        return own_vertical_scrollbar(
            self, lambda: SteadyScrollBar(vertical=True, name="vertical", thickness=self.scrollbar_size_vertical))
