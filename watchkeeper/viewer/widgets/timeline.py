"""The event timeline: a Line-API ``ScrollView`` over a :class:`TimelineStore`.

Only the lines on screen are rendered, each from an LRU of rendered rows keyed
by (head, row stamp, cursor, width), so a million-event session scrolls as fast
as an empty one. Events come in batches (:meth:`Timeline.add_events`); a batch
costs the screen no layout (the scroll range grows in place) and repaints only
when something on screen changed. A new view (filter, search, collapse) is
built in a thread worker, latest wins. Rows whose events the relay must read
back first are drawn as placeholders until a worker has read them
(``timeline_reads.py``): drawing never waits.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.segment import Segment
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.worker import get_current_worker

from ...protocol import Event
from ..compat import set_scroll_range
from ..model.timeline_store import Filter, TimelineStore
from .scrollbar import SteadyScrollView
from .styles import RoleStyles
from .timeline_lines import RowLines
from .timeline_reads import RowReads, RowsRead
from .timeline_rows import ROLES, TIMELINE_CSS, draw_row


class Timeline(SteadyScrollView, can_focus=True):
    """One row per event; a tool call is one row, updated in place as its events arrive."""

    HELP = """
## Timeline
One row per event; a tool call is one row whose status fills in as it runs.

- **↑/↓**, **PgUp/PgDn**, **Home**: move (moving up turns *follow* off)
- **End**: jump to the newest row and follow again
- **z**: collapse or expand the subagents under a spawning call
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Follow", id="timeline.follow"),
        Binding("z", "toggle_collapse", "Collapse", id="timeline.collapse", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"timeline--{role}" for role in ROLES}

    DEFAULT_CSS = TIMELINE_CSS

    cursor: reactive[int] = reactive(0, repaint=False, init=False)
    #: Keep the newest row selected and on screen as rows arrive.
    follow: reactive[bool] = reactive(True, init=False)
    #: Rows that arrived while the person was looking elsewhere (follow off, live).
    unseen: reactive[int] = reactive(0, init=False)

    class Selected(Message):
        """The selected row changed (coalesced: only the latest waits in the queue).

        ``following``: because rows arrived while following, not by the person's hand.
        """

        def __init__(self, head: int | None, following: bool = False) -> None:
            super().__init__()
            self.head = head
            self.following = following

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Timeline.Selected)

    class ViewChanged(Message):
        """A new view is in place (filter, search, collapse)."""

    class ViewBuilt(Message):
        def __init__(self, generation: int, view: list[int], upto: int, flt: Filter, hidden: frozenset[str]):
            super().__init__()
            self.generation, self.view, self.upto, self.flt, self.hidden = generation, view, upto, flt, hidden

    #: Calls without a result run on (their elapsed time shown); else they read unfinished.
    calls_run = True

    def __init__(self, store: TimelineStore | None = None, *, live: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store or TimelineStore()
        self.live = live
        self.lines = RowLines(self, rows=self)
        self.roles = RoleStyles(self, "timeline")
        self._generation = 0
        self._looked_back = False
        self.reads = RowReads(self)
        self.set_reactive(Timeline.follow, live)

    # --- data in ------------------------------------------------------------------

    def add_events(self, batch: list[Event]) -> None:
        """Fold a batch in; keeps the selected row, or follows the newest.

        Repaints only if the batch shows: rows scrolled in (following), or a row
        on screen that changed, moved, or arrived below the last one shown.
        """
        store = self.store
        before = self.selected_head
        old_rows = len(store.view)
        added = store.add(batch)
        if added.rebuild:
            self.rebuild()
            return
        cursor = self.cursor
        for at in added.inserted_at:
            if at <= cursor:
                cursor += 1
        if cursor != self.cursor:
            self.set_reactive(Timeline.cursor, cursor)
        self._resize()
        new_rows = added.appended + len(added.inserted_at)
        if self.follow and new_rows:
            self._go_last(following=True)
        elif new_rows and self.live:
            self.unseen += new_rows
        if before is None or before in added.changed:
            self.post_message(self.Selected(self.selected_head, following=self.follow))
        top, height = self.scroll_offset.y, self.size.height
        if (
            old_rows < top + height
            or any(at < top + height for at in added.inserted_at)
            or (added.changed and not added.changed.isdisjoint(store.view[top:top + height]))
        ):
            self.refresh()

    def rebuild(self, flt: Filter | None = None) -> None:
        """Build a new view for ``flt`` (default: the current filter) in a worker; latest wins."""
        self._generation += 1
        self._build(self._generation, self.store.filter if flt is None else flt, self.store.hidden_agents())

    @work(thread=True, exclusive=True, group="filter", exit_on_error=False)
    def _build(self, generation: int, flt: Filter, hidden: frozenset[str]) -> None:
        worker = get_current_worker()
        upto = len(self.store.heads)
        view = self.store.build_view(flt, hidden, upto, lambda: worker.is_cancelled)
        if view is not None and not worker.is_cancelled:
            self.post_message(self.ViewBuilt(generation, view, upto, flt, hidden))

    def on_timeline_view_built(self, message: ViewBuilt) -> None:
        message.stop()
        if message.generation != self._generation:
            return
        head = self.selected_head
        self.store.set_view(message.view, message.upto, message.flt, message.hidden)
        self._resize()
        if self.follow:
            self._go_last()
        else:
            self.set_reactive(Timeline.cursor, self.store.nearest(head))
            self._scroll_to_cursor()
        self.lines.clear()
        self.refresh()
        self.post_message(self.Selected(self.selected_head))
        self.post_message(self.ViewChanged())

    def adopt_store(self, store: TimelineStore) -> None:
        """Show ``store`` instead (the session's rebuilt history): the selected event stays selected,
        or the newest row when following; the filter and collapsed calls carry over."""
        from ..model.history_reload import head_of

        old = self.store
        head = self.selected_head
        selected = old.events[head] if head is not None else None
        store.collapsed = set(old.collapsed)
        self.store = store
        self._generation += 1
        self.lines.clear()
        if old.filter != store.filter or old.collapsed:
            self.rebuild(old.filter)
        self._resize()
        if self.follow:
            self._go_last()
        else:
            self.set_reactive(Timeline.cursor, store.nearest(head_of(store, selected)))
            self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Selected(self.selected_head))
        self.post_message(self.ViewChanged())

    def restart(self, events: list[Event]) -> None:
        """Start over with only ``events`` (a replay's seek or step back): a new store with the same
        filter and collapsed calls; a view still being built for the old store is dropped."""
        old = self.store
        store = TimelineStore()
        store.filter = old.filter
        store.collapsed = set(old.collapsed)
        self.store = store
        self._generation += 1
        self.lines.clear()
        self.set_reactive(Timeline.cursor, 0)
        self.add_events(events)
        if store.filter.active or store.collapsed:
            self.rebuild()
        self.refresh()

    def set_live(self, live: bool) -> None:
        """The session started or stopped being live; follow it unless the person has looked around."""
        if live == self.live:
            return
        self.live = live
        if not live:
            self.follow = False
            self.unseen = 0
        elif not self._looked_back:
            self.follow = True

    def set_filter(self, flt: Filter) -> None:
        self.rebuild(flt)

    # --- selection ------------------------------------------------------------------

    @property
    def selected_head(self) -> int | None:
        view = self.store.view
        return view[self.cursor] if 0 <= self.cursor < len(view) else None

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.store.view) - 1))

    def watch_cursor(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        self._scroll_to_cursor()
        self.post_message(self.Selected(self.selected_head))

    def watch_follow(self, follow: bool) -> None:
        if not follow and self.live:
            self._looked_back = True
        if follow:
            self.unseen = 0
            self._go_last()

    # --- actions -------------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self.follow = False
        self.cursor -= 1

    def action_cursor_down(self) -> None:
        self.cursor += 1
        self._follow_at_end()

    def action_page_up(self) -> None:
        self.follow = False
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(1)
        self._follow_at_end()

    def _follow_at_end(self) -> None:
        """Reaching the newest row of a live session by hand follows it again."""
        if self.live and self.cursor >= len(self.store.view) - 1:
            self.follow = True

    def action_first(self) -> None:
        self.follow = False
        self.cursor = 0

    def action_last(self) -> None:
        if self.live:
            self.follow = True
        self._go_last()

    def action_toggle_collapse(self) -> None:
        head = self.selected_head
        call = self.reads.call_of(head)
        if call is not None and call.call_id in self.store.spawned:
            self.store.toggle_collapsed(call.call_id)
            self.rebuild()

    def _page(self, direction: int) -> None:
        height = max(1, self.scrollable_content_region.height)
        target = self.validate_cursor(self.cursor + direction * height)
        self.scroll_to(y=self.scroll_offset.y + (target - self.cursor), animate=False, immediate=True)
        self.cursor = target

    def _go_last(self, following: bool = False) -> None:
        """Select the newest row and scroll to it; ``following``: rows arrived, no key was pressed
        (the cursor moves without its watchers, and ``Selected`` says so)."""
        last = max(0, len(self.store.view) - 1)
        if self.cursor != last and following:
            old = self.cursor
            self.set_reactive(Timeline.cursor, last)
            self._refresh_row(old)
            self._refresh_row(last)
            self.post_message(self.Selected(self.selected_head, following=True))
        elif self.cursor != last:
            self.cursor = last
        top = max(0, len(self.store.view) - self.scrollable_content_region.height)
        self.scroll_to(y=top, animate=False, immediate=True)
        if self.scroll_offset.y < top:
            # The rows came before the first refresh that shows a scrollbar: until then a scroll does not take.
            self.call_after_refresh(self._scroll_to_cursor)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow = False

    def on_click(self, event: events.Click) -> None:
        """The row under the pointer: by where it is, as rows carry no meta (see :meth:`row_segments`)."""
        offset = event.get_content_offset(self)
        if offset is not None and 0 <= self.scroll_offset.y + offset.y < len(self.store.view):
            self.cursor = self.scroll_offset.y + offset.y

    def on_focus(self) -> None:
        self._refresh_row(self.cursor)

    def on_blur(self) -> None:
        self._refresh_row(self.cursor)

    # --- rendering ----------------------------------------------------------------------

    def _resize(self) -> None:
        """The scroll range follows the rows, without a layout of the screen.

        ``virtual_size`` is a layout reactive: assigned on every batch, it re-arranged
        the whole screen each time. The widget's height does not depend on its rows
        (unless it is ``auto``), so only the scroll range and the scrollbar must
        follow, which is what :func:`~watchkeeper.viewer.compat.set_scroll_range`
        does. A scrollbar that appears still lays out: showing it is a layout
        reactive of its own.
        """
        size = Size(self.scrollable_content_region.width, len(self.store.view))
        if size == self.virtual_size:
            return
        if self.styles.auto_dimensions:
            self.virtual_size = size
        else:
            set_scroll_range(self, size)

    def on_resize(self) -> None:
        """Shorter (a status line grew, a marker showed): the selected row stays in sight, followed or not."""
        self._resize()
        self._scroll_to_cursor()
        self.call_after_refresh(self._scroll_to_cursor)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)

    def on_unmount(self) -> None:
        """Let the rows go now: a widget frozen by ``gc.freeze()`` is never collected, cycles and all."""
        self.store = TimelineStore()
        self.lines.clear()

    def _tick(self) -> None:
        """Running calls of a live session show their elapsed time: those rows repaint each second."""
        if not self.live:
            return
        view, top = self.store.view, self.scroll_offset.y
        for row in range(top, min(len(view), top + self.size.height)):
            if self.reads.ticking(view[row]):
                self._refresh_row(row)

    def _scroll_to_cursor(self) -> None:
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if height <= 0:
            return
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def _refresh_row(self, row: int) -> None:
        y = row - self.scroll_offset.y
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.roles.clear()
        self.lines.clear()

    def on_rows_read(self, message: RowsRead) -> None:
        self.reads.landed(message)

    def render_lines(self, crop: Region) -> list[Strip]:
        """The rows in ``crop``, none waiting for a read (see ``timeline_reads.py``); then the reads they missed."""
        with self.store.events.no_wait():
            strips = self.lines.strips(crop)
            if strips is None:
                strips = super().render_lines(crop)
        self.reads.request()
        return strips

    def render_line(self, y: int) -> Strip:
        return self.lines.line(y)

    def render_row(self, head: int, width: int, selected: bool = False, now: float | None = None) -> Strip:
        """One row as a strip ``width`` cells wide: time, agent, kind, summary, status."""
        return Strip(self.row_segments(head, width, selected, now), width)

    def row_segments(self, head: int, width: int, selected: bool = False, now: float | None = None) -> list[Segment]:
        """One row's segments, ``width`` cells. No meta on them (a click finds its row by position):
        applying it rebuilt every segment and style of every row drawn, a third of a live frame's rows."""
        row = self.store.row(head, now)
        base = self.roles.base()
        if row.error:
            base += self.roles("error-row")
        if not selected:
            return draw_row(row, width, base, self.roles)
        # The selected row is drawn in the cursor's colours alone: a role's colour on the cursor may not contrast.
        cursor = self.roles("cursor")
        return draw_row(row, width, base + cursor, lambda role: self.roles(role) + cursor)
