"""Rows not read yet: drawn at once as placeholders, read in a worker, filled in when they land.

A session the relay holds keeps only its newest events in the viewer; older
ones are read back a chunk at a time (``model/relay_events.py``), and such a
read may take seconds (the relay converts a window of a transcript again). So
the UI thread never reads one: the timeline draws its rows inside
``events.no_wait()``, and a row whose events are not read yet is drawn at
once as a faint placeholder — its kind and agent (kept in the store's own
columns), ``… seq N`` — while a thread worker (group ``rows``, latest wins)
reads the chunks on screen, nearest the cursor first, then a screen's worth
above and below. When a chunk lands, only the rows drawn from it repaint, and
:class:`RowsRead` tells the screen. Keys go on being handled meanwhile: the
cursor moves, pages go on into rows not read, ``q`` quits.

What needs the real events of the selected row waits visibly and completes
when they land: the detail pane says ``reading seq N…`` and shows the row
then; copying (or writing out) the row says it is reading and copies it
then. Filters and search are built in their own worker already
(``Timeline.rebuild``), which reads what it needs there: they cover every
row, read or not. A read that fails (the relay gone, its reader raising)
shows on its rows and in the detail pane as ``seq N could not be read: why``,
and is tried again when its rows are drawn ``RETRY`` seconds later; events
the relay answers for with a notice (``history-unavailable``: the transcript
changed) read back as those notices.

A log whose reads are instant (everything in the viewer's memory:
``event_log.EventLog``, or the newest ``TAIL`` events) never raises, so a
normal session draws as it always did, with no placeholder.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

from rich.segment import Segment
from textual.geometry import Offset, Size
from textual.message import Message
from textual.worker import get_current_worker

from ...protocol import ToolCall
from ...relay.api import ReadCancelled, cancellable
from ..model.event_log import CHUNK, NotRead, TailAndChunks
from ..model.rows import Row
from ..model.timeline_store import TimelineStore
from .styles import RoleStyles
from .timeline_rows import draw_row

#: Rows drawn as placeholders remembered (row -> chunk), to repaint just them when their chunk lands.
DRAWN = 1_024


class RowsRead(Message):
    """Chunk ``chunk`` of ``events`` was read (``failed``: why not); its rows on screen are repainted."""

    def __init__(self, events: TailAndChunks, chunk: int, failed: str | None) -> None:
        super().__init__()
        self.events, self.chunk, self.failed = events, chunk, failed


class Scrolled(Protocol):
    """What of a scrolled view reads use, the timeline's and the conversation's."""

    @property
    def scroll_offset(self) -> Offset: ...

    @property
    def size(self) -> Size: ...

    @property
    def selected_head(self) -> int | None: ...

    def run_worker(self, work: Callable[[], None], name: str, group: str, *, exit_on_error: bool,
                   exclusive: bool, thread: bool) -> object: ...

    def post_message(self, message: Message) -> bool: ...


class Shown(Scrolled, Protocol):
    """What of the timeline its reads use (the timeline imports this module, not the other way)."""

    store: TimelineStore

    def _refresh_row(self, row: int) -> None: ...


class ChunkReader:
    """Reads a slow log's chunks for one view in a thread worker (``group``, the latest request wins), nearest
    ``here`` first, posting :class:`RowsRead` for each; the timeline's and the conversation's reads share it."""

    def __init__(self, view: Scrolled, group: str) -> None:
        self.view, self.group = view, group
        #: The log the view draws from: its reads, wanted and pending, are of this one.
        self.events: TailAndChunks | None = None
        #: Chunks drawn missing since the last request (their reads not failed): read first.
        self.wanted: set[int] = set()
        #: Chunks the current worker reads.
        self.pending: set[int] = set()

    def note(self, events: TailAndChunks) -> bool:
        """The view draws from ``events``; whether it is a new log (a history adopted, a replay restarted),
        which makes what was wanted or pending another's."""
        if events is self.events:
            return False
        self.events, self.wanted, self.pending = events, set(), set()
        return True

    def landed(self, message: RowsRead) -> bool:
        """A chunk was read (or failed): whether it is of the view's log, for the view to repaint."""
        if message.events is not self.events:
            return False
        self.pending.discard(message.chunk)
        return True

    def read(self, events: TailAndChunks, first: set[int], near: set[int], here: int) -> None:
        """Read ``first`` (what was drawn missing) and then ``near`` (a screen around), unless being read."""
        wanted = first | near
        if not wanted or wanted <= self.pending:
            return
        order = sorted(wanted, key=lambda n: (n not in first, abs(n - here)))
        self.pending = set(order)
        self.view.run_worker(partial(self._read, events, order), name=self.group, group=self.group, thread=True,
                             exclusive=True, exit_on_error=False)

    def _read(self, events: TailAndChunks, chunks: list[int]) -> None:
        """In the worker: each chunk in turn, until a newer request replaces this one. A chunk another view's
        worker read first is posted too: this view's rows drawn from it repaint."""
        worker = get_current_worker()
        with cancellable(lambda: worker.is_cancelled):
            for n in chunks:
                if worker.is_cancelled:
                    return
                try:
                    failed = events.fetch(n) if events.unread(n * CHUNK) is not None else None
                except ReadCancelled:
                    return  # replaced by a newer request, or the app is quitting: the rest is not wanted
                self.view.post_message(RowsRead(events, n, failed))


class RowReads:
    """The timeline's reads of rows not read yet: what is wanted, what is being read, what was drawn."""

    def __init__(self, timeline: Shown) -> None:
        self.timeline = timeline
        self._reader = ChunkReader(timeline, "rows")
        #: row -> the chunk it waited for, for rows drawn as placeholders.
        self._drawn: dict[int, int] = {}

    def placeholder(self, row: int, head: int, width: int, selected: bool, missing: NotRead,
                    styles: RoleStyles) -> list[Segment]:
        """Row ``row`` (event ``head``) while its events are read, or why they could not be."""
        store, base = self.timeline.store, styles.base()
        self._note(store.events)
        if len(self._drawn) >= DRAWN:
            self._drawn.clear()
        self._drawn[row] = missing.chunk
        if missing.failed is None:
            self._reader.wanted.add(missing.chunk)
        agent = store.row_agents[head]
        seq = store.events.seq_of(head)
        if missing.failed is None:
            summary, role = f"… seq {seq}", "dim"
        else:
            summary, role = f"seq {seq} could not be read: {missing.failed}", "error"
        shown = Row("…", store.agent_names.get(agent, agent), store.kind_label(head), [(summary, role)], [], False)
        if selected:
            cursor = styles("cursor")
            return draw_row(shown, width, base + cursor, lambda _: cursor)
        return draw_row(shown, width, base, lambda r: styles(role if r == role else "dim"))

    def call_of(self, head: int | None) -> ToolCall | None:
        """The row's call if its events are read; None while they are (nothing waits for them)."""
        store = self.timeline.store
        try:
            with store.events.no_wait():
                return store.call_of(head) if head is not None else None
        except NotRead:
            return None

    def ticking(self, head: int) -> bool:
        """The row shows a running call's elapsed time (not while its events are read)."""
        store = self.timeline.store
        try:
            with store.events.no_wait():
                return store.ticking(head)
        except NotRead:
            return False

    def note(self, head: int, missing: NotRead) -> tuple[str, str]:
        """(text, role) to show instead of row ``head`` where it must be whole; asks for its read."""
        seq = self.timeline.store.events.seq_of(head)
        if missing.failed is not None:
            return f"seq {seq} could not be read: {missing.failed}", "error"
        self.want(missing.chunk)
        return f"reading seq {seq}…", "dim"

    def want(self, chunk: int) -> None:
        """Read ``chunk`` (the selected row's, for the detail pane or a copy) with the next request."""
        self._note(self.timeline.store.events)
        self._reader.wanted.add(chunk)
        self.request()

    def request(self) -> None:
        """After a pass over the rows: read what they missed, and the rows a screen above and below."""
        timeline = self.timeline
        events = timeline.store.events
        if not events.slow:
            return
        self._note(events)
        view, top, height = timeline.store.view, timeline.scroll_offset.y, max(1, timeline.size.height)
        near: set[int] = set()
        for row in range(max(0, top - height), min(len(view), top + 2 * height)):
            n = events.due(view[row])
            if n is not None:
                near.add(n)
        first, self._reader.wanted = self._reader.wanted, set()
        cursor = timeline.selected_head
        self._reader.read(events, first, near, (cursor if cursor is not None else 0) // CHUNK)

    def landed(self, message: RowsRead) -> None:
        """Repaint the rows drawn while ``message.chunk`` was read."""
        if not self._reader.landed(message):
            return
        timeline = self.timeline
        for row, n in list(self._drawn.items()):
            if n == message.chunk:
                del self._drawn[row]
                timeline._refresh_row(row)

    def _note(self, events: TailAndChunks) -> None:
        if self._reader.note(events):
            self._drawn = {}  # the rows drawn are of another log
