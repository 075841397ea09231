"""The timeline's lines: each row drawn once into a cache, and a Strip made over it when it is shown.

A key that scrolls the timeline draws every line on screen again. Through
Textual's styles pass each line became three Strips (the row's, the styled
line's, the filtered one's), each with seven caches of its own, and the app's
line filters ran over every segment again: most of a key's frame.
Where that pass would change nothing but the sides (``compat.lines_past_pass``)
rows are kept filtered and each line shown is one Strip over them; otherwise
the widget falls back to the pass, with rows kept unfiltered.

Kept as segments, and a new Strip made each time: Textual caches a strip's
crops and divisions in the strip itself, and a crop or division to its own size
is the strip, a reference cycle. A cached Strip was therefore freed only by a
full collection, and never once a ``gc.freeze()`` (``watchkeeper.retention``)
had moved it out of the collector's sight: every row scrolled past leaked.
Segment lists are acyclic, freed as soon as they leave the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from rich.segment import Segment
from textual.app import App
from textual.cache import LRUCache
from textual.color import Color
from textual.filter import LineFilter
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from ..compat import filtered, lines_past_pass
from ..host import host
from ..model.event_log import NotRead
from ..model.timeline_store import TimelineStore
from .styles import RoleStyles
from .timeline_reads import RowReads

#: Rendered rows kept: a dozen screens, so moving back and forth re-renders nothing.
ROW_CACHE = 512


class Rows(Protocol):
    """What of the timeline its lines use (the timeline imports this module, not the other way)."""

    store: TimelineStore
    live: bool
    calls_run: bool
    cursor: int
    reads: RowReads
    roles: RoleStyles

    @property
    def app(self) -> App[Any]: ...

    @property
    def has_focus(self) -> bool: ...

    def row_segments(self, head: int, width: int, selected: bool = False, now: float | None = None) -> list[Segment]:
        ...


class RowLines:
    """The row cache of one timeline, keyed by (head, row stamp, cursor, focus, width).

    ``widget`` is what the lines are drawn on (its size, styles and filters); ``rows`` where they come from:
    both are the timeline.
    """

    def __init__(self, widget: Widget, rows: Rows) -> None:
        self.widget, self.rows = widget, rows
        self.cache: LRUCache[tuple[Any, ...], list[Segment]] = LRUCache(ROW_CACHE)
        #: What the kept rows were drawn for: (line filters, ground) past the styles pass, None through it.
        self._drawn: object = None

    def clear(self) -> None:
        self.cache.clear()

    def strips(self, crop: Region) -> list[Strip] | None:
        """The lines in ``crop`` as Textual's styles pass would give them, or None if it must draw them."""
        return lines_past_pass(self.widget, crop, self._frame)

    def _frame(self, filters: tuple[LineFilter, ...], ground: Color, width: int) -> Callable[[int], list[Segment]]:
        self._drawn_for((filters, ground))
        top, segments = self.widget.scroll_offset.y, self.segments
        return lambda y: segments(top + y, width, filters, ground)

    def line(self, y: int) -> Strip:
        """Line ``y`` on screen, unfiltered: for the styles pass."""
        widget = self.widget
        self._drawn_for(None)
        width = widget.scrollable_content_region.width
        return Strip(self.segments(widget.scroll_offset.y + y, width, (), None), width)

    def _drawn_for(self, drawn: object) -> None:
        if drawn != self._drawn:
            self._drawn = drawn
            self.cache.clear()

    def segments(self, row: int, width: int, filters: tuple[LineFilter, ...], ground: Color | None) -> list[Segment]:
        """Row ``row``'s segments, ``width`` cells, through ``filters``; from the cache when it has them."""
        rows = self.rows
        view = rows.store.view
        key: tuple[Any, ...] | None = None
        if row >= len(view) or width <= 0:
            segments = [Segment(" " * max(width, 0), rows.roles.base())]
        else:
            head = view[row]
            now = host(rows.app).clock() if rows.live and rows.calls_run else None
            selected = row == rows.cursor
            try:
                key = (head, rows.store.stamp(head, now), selected, selected and rows.has_focus, width)
                kept = self.cache.get(key)
                if kept is not None:
                    return kept
                segments = rows.row_segments(head, width, selected, now)
            except NotRead as missing:
                key = None
                segments = rows.reads.placeholder(row, head, width, selected, missing, rows.roles)
        if filters:
            segments = filtered(segments, filters, ground)  # type: ignore[arg-type]
        if key is not None:
            self.cache[key] = segments
        return segments
