"""A session's events as the viewer keeps them: past the newest few thousand, each one's JSON.

A decoded event is ~1 KB of dicts and strings; its orjson text is ~200
bytes, so a million-event session keeps ~200 MB instead of ~1 GB. The newest
``TAIL`` events (what a live session shows and changes) stay as they came;
older ones are encoded ``CHUNK`` at a time as newer ones arrive, and decoded
again a chunk at a time when read, the last ``RECENT`` chunks kept for the
reads to come (rows on screen, the selection). What every row needs without decoding (its kind, its row's
agent) is in the store's own columns. An event orjson cannot encode as it is
(an integer past 64 bits, a key that is not a string) is kept as it came,
with the rest of its chunk.

The log reads like a list (``len``, indexing, slices, iteration, ``==``); an
older event read back is equal to the one added, not the same object:
nothing may change an event once added.

A log whose chunks are read from elsewhere (``slow``: the relay's range reads,
``relay_events.py``) must never make the UI wait: inside :meth:`~TailAndChunks.no_wait`
(the UI thread drawing rows, showing the selected one) an event of a chunk not
read yet raises :class:`NotRead` instead, and a worker reads the chunk
(:meth:`~TailAndChunks.fetch`); a read that failed says why, in the same way,
until it is tried again (``RETRY``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from threading import get_ident
from time import monotonic
from typing import Any, overload

import orjson

from ...protocol import Event
from ...relay.api import ReadCancelled

#: The newest events, kept as they came.
TAIL = 4_096
#: Older events are encoded this many at a time, as one JSON array: one object, no per-event overhead.
CHUNK = 256
#: Chunks kept for the reads to come (rows on screen, the selection, the detail pane).
RECENT = 32
#: Fields whose values repeat across a session's events: each equal value is kept once (``extend``).
SHARED_FIELDS = ("session", "agent", "kind")
#: Chunks read by :meth:`TailAndChunks.fetch` for the screen, kept apart from those other reads churn.
SHOWN = 8
#: Seconds a failed read is shown as failed before drawing its rows tries it again.
RETRY = 5.0


class NotRead(Exception):
    """An event of chunk ``chunk`` is not read yet, where nothing may wait for it (``no_wait``);
    ``failed``: why its last read failed, if it did."""

    def __init__(self, chunk: int, failed: str | None = None) -> None:
        super().__init__(chunk, failed)
        self.chunk, self.failed = chunk, failed


class TailAndChunks(Sequence[Event]):
    """Reads like a list: the newest events as they came (``_now``), older ones ``CHUNK`` at a time from
    ``_read_chunk``, the last ``keep_chunks`` read kept. Each log says only how it keeps and reads a chunk."""

    __slots__ = ("_failed", "_no_wait", "_now", "_recent", "_shown")
    #: Chunks read and kept for the reads to come (rows on screen, the selection, the detail pane).
    keep_chunks = RECENT
    #: Whether reading a chunk may take long (I/O, not a decode): only then does ``no_wait`` refuse to.
    slow = False

    def __init__(self) -> None:
        #: (index of the tail's first event, the tail): replaced whole, so a reader sees a consistent pair.
        self._now: tuple[int, list[Event]] = (0, [])
        self._recent: dict[int, list[Event]] = {}
        #: The chunks :meth:`fetch` read last (for the screen), oldest first.
        self._shown: dict[int, list[Event]] = {}
        #: chunk -> (when, why) its last read failed.
        self._failed: dict[int, tuple[float, str]] = {}
        #: The thread on which a chunk not read yet raises ``NotRead`` (0: none).
        self._no_wait = 0

    def _read_chunk(self, n: int, base: int) -> tuple[list[Event], bool]:
        """Chunk ``n``'s events (``base``: the tail's first index), and whether they are worth keeping."""
        raise NotImplementedError

    def _chunk(self, n: int, base: int) -> list[Event]:
        recent = self._recent
        events = recent.get(n)
        if events is None:
            events = self._shown.get(n)
        if events is not None:
            return events
        if self._no_wait and self._no_wait == get_ident():
            failed = self._failed.get(n)
            raise NotRead(n, failed[1] if failed is not None and monotonic() - failed[0] < RETRY else None)
        events, keep = self._read_chunk(n, base)
        if keep:
            if len(recent) >= self.keep_chunks:
                recent.clear()
            recent[n] = events
        return events

    @contextmanager
    def no_wait(self) -> Iterator[None]:
        """On this thread, within the block, an event of a chunk not read yet raises :class:`NotRead`
        instead of being read (a ``slow`` log only; the others read at once)."""
        if not self.slow:
            yield
            return
        before, self._no_wait = self._no_wait, get_ident()
        try:
            yield
        finally:
            self._no_wait = before

    def unread(self, index: int) -> int | None:
        """The chunk of event ``index`` if reading it would wait (a ``slow`` log, not read yet), else None."""
        n = index // CHUNK
        if not self.slow or index >= self._now[0] or n in self._recent or n in self._shown:
            return None
        return n

    def due(self, index: int) -> int | None:
        """The chunk of event ``index`` if it is to be read now: :meth:`unread`, and its read did not fail in
        the last ``RETRY`` seconds (a relay that is gone is not asked again on every repaint)."""
        n = self.unread(index)
        failed = self._failed.get(n) if n is not None else None
        return None if failed is not None and monotonic() - failed[0] < RETRY else n

    def seq_of(self, index: int) -> int:
        """What a row not read yet is called on screen: the event's seq where it has one, else its index."""
        return index

    def fetch(self, n: int) -> str | None:
        """Read chunk ``n`` and keep it for the screen (from a worker thread); why it failed, or None."""
        if n in self._recent or n in self._shown:
            return None
        try:
            events, _ = self._read_chunk(n, self._now[0])
        except ReadCancelled:
            raise  # given up by the reader itself (``relay.api.cancellable``): not a failure to show
        except Exception as e:  # the reader is another component's: whatever it raises, the rows say so
            why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            self._failed[n] = (monotonic(), why)
            return why
        self._failed.pop(n, None)
        shown = self._shown
        while len(shown) >= SHOWN:
            shown.pop(next(iter(shown)), None)
        shown[n] = events
        return None

    def __len__(self) -> int:
        base, tail = self._now
        return base + len(tail)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        base, tail = self._now
        size = base + len(tail)
        if isinstance(index, slice):
            return [self._at(i, base, tail) for i in range(*index.indices(size))]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("event index out of range")
        return self._at(index, base, tail)

    def _at(self, index: int, base: int, tail: list[Event]) -> Event:
        if index >= base:
            return tail[index - base]
        return self._chunk(index // CHUNK, base)[index % CHUNK]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class EventLog(TailAndChunks):
    """Append-only. One thread appends; others may read what was appended before they began."""

    __slots__ = ("_chunks", "_shared")

    def __init__(self, events: Sequence[Event] = ()) -> None:
        super().__init__()
        #: Each CHUNK events, oldest first: their JSON array, or the list itself if orjson cannot encode it.
        self._chunks: list[bytes | list[Event]] = []
        self._shared: dict[str, str] = {}
        for event in events:
            self.append(event)

    def append(self, event: Event) -> None:
        base, tail = self._now
        tail.append(event)
        if len(tail) < TAIL + CHUNK:
            return
        old = tail[:CHUNK]
        try:
            # A copy: orjson's own result keeps its whole working buffer allocated.
            self._chunks.append(bytes(memoryview(orjson.dumps(old))))
        except (TypeError, orjson.JSONEncodeError):
            self._chunks.append(old)
        self._now = (base + CHUNK, tail[CHUNK:])

    def extend(self, events: list[Event]) -> None:
        """``append`` each, equal values of :data:`SHARED_FIELDS` made one string first."""
        shared = self._shared
        for event in events:
            for name in SHARED_FIELDS:
                value = event.get(name)
                if value.__class__ is str:
                    event[name] = shared.setdefault(value, value)  # type: ignore[literal-required]
            self.append(event)

    def _read_chunk(self, n: int, base: int) -> tuple[list[Event], bool]:
        item = self._chunks[n]
        return (orjson.loads(item), True) if isinstance(item, bytes) else (item, False)

    def __iter__(self) -> Iterator[Event]:
        base, tail = self._now
        for n in range(base // CHUNK):
            item = self._chunks[n]
            yield from (orjson.loads(item) if isinstance(item, bytes) else item)
        yield from list(tail)

    def find_id(self, event_id: Any) -> int | None:
        """The index of the newest event with this ``id``; a chunk's JSON is searched before it is decoded."""
        base, tail = self._now
        for i in range(len(tail) - 1, -1, -1):
            if tail[i].get("id") == event_id:
                return base + i
        try:
            needle = b'"id":' + orjson.dumps(event_id)
        except (TypeError, orjson.JSONEncodeError):
            needle = b""
        for n in range(base // CHUNK - 1, -1, -1):
            item = self._chunks[n]
            if isinstance(item, bytes) and (not needle or needle not in item):
                continue
            events = self._chunk(n, base)
            for i in range(len(events) - 1, -1, -1):
                if events[i].get("id") == event_id:
                    return n * CHUNK + i
        return None
