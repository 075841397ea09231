"""The conversation view: a session read as prose, on the same Line API as the timeline.

A ``ScrollView`` that renders only the lines on screen (``render_line``), no
widget per message. It reads the timeline's store (the same events, calls and
view, so the timeline's filter narrows it too) through
:class:`~watchkeeper.viewer.model.conversation.Conversation`, which knows each
block's height: estimated until the block comes near the screen, then exact.
Before a frame is drawn the blocks on and around the screen are measured and
the scroll position is corrected so that the top line stays where it was: an
estimate proven wrong never makes the text jump. The selected block is the
timeline's selected row, so the detail pane, copy and the toggle back to the
timeline all keep the same event. Nothing here waits for an event the relay
must read back: such blocks are placeholders until a worker has read them
(``conversation_reads.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.strip import Strip

from ..compat import set_scroll_range
from ..host import host
from ..model.conversation import Conversation as Blocks
from ..model.event_log import NotRead
from ..model.prose import Line
from .conversation_reads import BlockReads
from .conversation_style import CONVERSATION_CSS, ROLES
from .scrollbar import SteadyScrollView
from .styles import RoleStyles
from .timeline import Timeline
from .timeline_reads import RowsRead

#: Drawn lines kept: a dozen screens.
LINE_CACHE = 512


class Conversation(SteadyScrollView, can_focus=True):
    """The session as turns of prose, tool calls folded to a line each; shown instead of the timeline."""

    HELP = """
## Conversation (v)
The session as a conversation: each turn's speaker and time once, its text
wrapped, each tool call folded to one line. Links are shown with their
address, never opened.

- **↑/↓**: the previous / next block (a long message scrolls first)
- **PgUp/PgDn**, **Home**: move (moving up turns *follow* off)
- **End**: the newest block, and follow again
- **Enter** or **Space**: show a call's input and output, a thinking, a long message
- **v**: back to the timeline, on the same event
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Follow", id="conversation.follow"),
        Binding("enter", "toggle_expand", "Open", id="conversation.expand"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"conversation--{role}" for role in ROLES}

    DEFAULT_CSS = CONVERSATION_CSS

    #: Keep the newest block selected and on screen as events arrive.
    follow: reactive[bool] = reactive(True, init=False)
    #: Blocks that arrived while the person was reading elsewhere (follow off, live).
    unseen: reactive[int] = reactive(0, init=False)

    def __init__(self, source: Timeline, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.blocks = Blocks(source.store)
        self.cursor = 0
        self.live = source.live
        self._styles = RoleStyles(self, "conversation")
        #: Drawn lines, by (block's head, line, width, selected, focused), with the lines they were drawn from.
        self._cache: LRUCache[tuple[Any, ...], tuple[list[Line], list[Segment]]] = LRUCache(LINE_CACHE)
        #: A block to bring on screen at the next layout (a key moved the selection there).
        self._reveal: int | None = None
        self.reads = BlockReads(self)
        self.set_reactive(Conversation.follow, source.follow)

    # --- shown instead of the timeline -------------------------------------------------------

    def open(self) -> None:
        """Show the conversation in the timeline's place, on the timeline's selected row (or following)."""
        source = self.source
        self.live = source.live
        self.blocks.sync(source.store)
        self.set_reactive(Conversation.follow, source.follow)
        self.unseen = 0
        last = len(self.blocks.blocks) - 1
        self.cursor = max(0, last) if self.follow else self.blocks.index_of(source.selected_head)
        self._reveal = self.cursor
        source.display = False
        self.display = True
        self.focus()
        self.refresh()

    def close(self) -> None:
        """Back to the timeline, the same row selected."""
        self._select_in_source()
        source = self.source
        self.display = False
        source.display = True
        source.focus()
        if source.follow:
            source.action_last()
        else:
            source.call_after_refresh(source.scroll_to_region, Region(0, source.cursor, 1, 1), animate=False)

    # --- data in ---------------------------------------------------------------------------------

    def sync(self) -> None:
        """The timeline took events or a new view: take them in (only while shown; ``open`` catches up)."""
        if not self.display:
            return
        blocks = self.blocks
        selected = self.selected_head
        anchor = self._anchor()
        added, rebuilt = blocks.sync(self.source.store)
        self._set_live(self.source.live)
        if self.follow and (added or rebuilt):
            self.cursor = max(0, len(blocks.blocks) - 1)
        else:
            if selected is not None:
                self.cursor = blocks.index_of(selected)
            if rebuilt:
                self._reveal = self.cursor
            elif anchor is not None:
                self._restore(anchor)
            if added and self.live and not rebuilt:
                self.unseen += added
        self._settle()
        self.refresh()

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            if not live:
                self.follow = False
                self.unseen = 0

    def _anchor(self) -> tuple[int, int] | None:
        """The block at the top of the screen and the line of it shown first."""
        blocks = self.blocks
        if not blocks.blocks:
            return None
        y = self.scroll_offset.y
        i = blocks.block_at(y)
        return blocks.blocks[i], y - blocks.start(i)

    def _restore(self, anchor: tuple[int, int]) -> None:
        head, off = anchor
        blocks = self.blocks
        i = blocks.index_of(head)
        if blocks.blocks and blocks.blocks[i] == head:
            self._scroll(blocks.start(i) + off)

    # --- selection -------------------------------------------------------------------------------

    @property
    def selected_head(self) -> int | None:
        blocks = self.blocks.blocks
        return blocks[self.cursor] if 0 <= self.cursor < len(blocks) else None

    def _select(self, i: int) -> None:
        n = len(self.blocks.blocks)
        old, top = self.cursor, self.scroll_offset.y
        self.cursor = max(0, min(i, n - 1))
        self._reveal = self.cursor
        self._settle()
        if self.scroll_offset.y == top and old < n:
            self._refresh_block(old)
            self._refresh_block(self.cursor)
        else:
            self.refresh()
        self._select_in_source()

    def _refresh_block(self, i: int) -> None:
        """Repaint block ``i``'s lines that are on screen (the selection moved on a still screen)."""
        top = self.blocks.start(i) - self.scroll_offset.y
        bottom = min(self.size.height, top + self.blocks.height(i))
        top = max(0, top)
        if top < bottom:
            self.refresh(Region(0, top, self.size.width, bottom - top))

    def _select_in_source(self) -> None:
        """The timeline selects the same row: the detail pane, copy and the way back follow it."""
        source, head = self.source, self.selected_head
        if source.follow != self.follow:
            source.follow = self.follow
        if head is None or self.follow:
            return
        pos = source.store.position(head)
        if pos is not None and pos != source.cursor:
            source.cursor = pos

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.unseen = 0
            self._select(len(self.blocks.blocks) - 1)

    # --- actions ---------------------------------------------------------------------------------

    def _view(self) -> tuple[int, int]:
        return self.scroll_offset.y, max(1, self.scrollable_content_region.height)

    def action_cursor_down(self) -> None:
        blocks, (y, h) = self.blocks, self._view()
        if not blocks.blocks:
            return
        end = blocks.start(self.cursor) + blocks.height(self.cursor)
        if end > y + h:
            self._scroll(min(end - h, y + max(1, h // 2)))
            self.refresh()
        elif self.cursor < len(blocks.blocks) - 1:
            self._select(self.cursor + 1)
        if self.live and self.cursor >= len(blocks.blocks) - 1 and end <= y + h:
            self.follow = True

    def action_cursor_up(self) -> None:
        blocks, (y, h) = self.blocks, self._view()
        self.follow = False
        if not blocks.blocks:
            return
        start = blocks.start(self.cursor)
        if start < y:
            self._scroll(max(start, y - max(1, h // 2)))
            self.refresh()
        elif self.cursor > 0:
            self._select(self.cursor - 1)

    def action_page_down(self) -> None:
        self._page(1)
        if self.live and self.scroll_offset.y >= self.max_scroll_y:
            self.follow = True

    def action_page_up(self) -> None:
        self.follow = False
        self._page(-1)

    def _page(self, direction: int) -> None:
        blocks, (y, h) = self.blocks, self._view()
        if not blocks.blocks:
            return
        self._scroll(y + direction * h)
        self._settle()
        y = self.scroll_offset.y
        i = blocks.block_at(y)
        if blocks.start(i) < y and i + 1 < len(blocks.blocks) and blocks.start(i + 1) < y + h:
            i += 1
        self.cursor = i
        self.refresh()
        self._select_in_source()

    def action_first(self) -> None:
        self.follow = False
        self._scroll(0)
        self._select(0)

    def action_last(self) -> None:
        if self.live:
            self.follow = True
        self._select(len(self.blocks.blocks) - 1)

    def action_toggle_expand(self) -> None:
        try:
            with self.blocks.store.events.no_wait():
                toggled = bool(self.blocks.blocks) and self.blocks.toggle(self.cursor)
        except NotRead:  # not read yet: nothing to open until it is
            toggled = False
        if toggled:
            self._reveal = self.cursor
            self._settle()
            self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow = False

    def on_click(self, event: events.Click) -> None:
        head = event.style.meta.get("head")
        if head is not None:
            self.follow = False
            self._select(self.blocks.index_of(head))

    # --- layout ----------------------------------------------------------------------------------

    def _scroll(self, y: int) -> None:
        self.scroll_to(y=max(0, y), animate=False, immediate=True)

    def _settle(self) -> None:
        """Measure the blocks on and around the screen, then place the scroll position; read the blocks
        not read yet (their estimates stand until they are)."""
        with self.blocks.store.events.no_wait():
            self._place()
        self.reads.request()

    def _place(self) -> None:
        """The top line stays where it was unless a block is to be revealed or the
        newest followed; a height corrected above it moves the offset with it.
        """
        blocks = self.blocks
        region = self.scrollable_content_region
        width, h = region.width, region.height
        if width <= 0 or h <= 0:
            return
        blocks.set_width(width)
        n = len(blocks.blocks)
        now = self._now()
        if not n:
            self._set_range()
            return
        if self.follow:
            i, lines = n - 1, 0
            while i >= 0 and lines < 2 * h:
                lines += blocks.measure(i, now)
                i -= 1
            self._set_range()
            self._scroll(blocks.total - h)
            return
        y = self.scroll_offset.y
        if self._reveal is not None:
            y = self._revealed(min(self._reveal, n - 1), y, h, now)
        t = blocks.block_at(y)
        off = y - blocks.start(t)
        for i in range(blocks.block_at(max(0, y - h)), t + 1):
            blocks.measure(i, now)
        y = blocks.start(t) + max(0, min(off, blocks.height(t) - 1))
        i, bottom, end = t, blocks.start(t), y + 2 * h
        while i < n and bottom < end:
            bottom += blocks.measure(i, now)
            i += 1
        self._set_range()
        self._scroll(y)
        if self.scroll_offset.y == y:
            self._reveal = None

    def _revealed(self, i: int, y: int, h: int, now: float | None) -> int:
        """The top line that shows block ``i`` (its start, or as much of it as fits above the bottom)."""
        blocks = self.blocks
        for j in range(blocks.block_at(max(0, blocks.start(i) - h)), i + 1):
            blocks.measure(j, now)
        start, height = blocks.start(i), blocks.height(i)
        if start < y:
            return start
        if start + min(height, h) > y + h:
            return start + min(height, h) - h
        return y

    def _set_range(self) -> None:
        size = Size(self.scrollable_content_region.width, self.blocks.total)
        if size != self.virtual_size:
            set_scroll_range(self, size)

    def on_resize(self) -> None:
        self._reveal = self.cursor if not self.follow else None
        self._settle()
        self.refresh()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def on_unmount(self) -> None:
        """Let the blocks go now (see ``Timeline.on_unmount``: a frozen widget is never collected)."""
        self.blocks = Blocks()

    def _tick(self) -> None:
        """A live session's running calls show their elapsed time; the session may have ended."""
        if self.display:
            self._set_live(self.source.live)
            if self.live:
                self.refresh()

    def _now(self) -> float | None:
        return host(self.app).clock() if self.live else None

    # --- rendering -------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        with self.blocks.store.events.no_wait():
            self._place()
            strips = super().render_lines(crop)
        self.reads.request()
        return strips

    def on_rows_read(self, message: RowsRead) -> None:
        """Blocks were read: repaint (the screen, where it bubbles, shows the detail pane waiting for them)."""
        if self.reads.landed(message) and self.display:
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the screen: a line of the block there, with the selection bar in the gutter."""
        width = self.scrollable_content_region.width
        base = self._styles.base()
        row = self.scroll_offset.y + y
        blocks = self.blocks
        if width <= 0 or row >= blocks.total:
            return Strip.blank(width, base)
        i = blocks.block_at(row)
        try:
            lines = blocks.lines(i, self._now())
        except NotRead as missing:
            lines = self.reads.placeholder(i, missing)
        off = row - blocks.start(i)
        if not 0 <= off < len(lines):
            return Strip.blank(width, base)
        head, selected = blocks.blocks[i], i == self.cursor
        key = (head, off, width, selected, selected and self.has_focus)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is lines:
            return Strip(hit[1], width)
        cursor = self._styles("cursor") if selected and off == blocks.first_line(i) else None
        segments = list(self.draw(lines[off], width, base, selected, cursor).apply_meta({"head": head}))
        self._cache[key] = (lines, segments)
        return Strip(segments, width)

    def draw(self, line: Line, width: int, base: Style, selected: bool, cursor: Style | None = None) -> Strip:
        """One line; on ``cursor`` (the selected block's first line) in the cursor's colours alone, as the
        timeline draws its selected row: a role's colour on the cursor may not contrast."""
        style = self._styles
        if cursor is not None:
            base += cursor
            segments = [Segment("▌", base)] + [Segment(text, base + style(role) + cursor) for text, role in line]
        else:
            segments = [Segment("▌" if selected else " ", base + style("bar"))]
            segments += [Segment(text, base + style(role)) for text, role in line]
        return Strip(segments).adjust_cell_length(width, base)
