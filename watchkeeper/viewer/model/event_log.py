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
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import orjson

from ...protocol import Event

#: The newest events, kept as they came.
TAIL = 4_096
#: Older events are encoded this many at a time, as one JSON array: one object, no per-event overhead.
CHUNK = 256
#: Chunks kept for the reads to come (rows on screen, the selection, the detail pane).
RECENT = 32
#: Fields whose values repeat across a session's events: each equal value is kept once (``extend``).
SHARED_FIELDS = ("session", "agent", "kind")


class TailAndChunks(Sequence[Event]):
    """Reads like a list: the newest events as they came (``_now``), older ones ``CHUNK`` at a time from
    ``_read_chunk``, the last ``keep_chunks`` read kept. Each log says only how it keeps and reads a chunk."""

    __slots__ = ("_now", "_recent")
    #: Chunks read and kept for the reads to come (rows on screen, the selection, the detail pane).
    keep_chunks = RECENT

    def __init__(self) -> None:
        #: (index of the tail's first event, the tail): replaced whole, so a reader sees a consistent pair.
        self._now: tuple[int, list[Event]] = (0, [])
        self._recent: dict[int, list[Event]] = {}

    def _read_chunk(self, n: int, base: int) -> tuple[list[Event], bool]:
        """Chunk ``n``'s events (``base``: the tail's first index), and whether they are worth keeping."""
        raise NotImplementedError

    def _chunk(self, n: int, base: int) -> list[Event]:
        recent = self._recent
        events = recent.get(n)
        if events is not None:
            return events
        events, keep = self._read_chunk(n, base)
        if keep:
            if len(recent) >= self.keep_chunks:
                recent.clear()
            recent[n] = events
        return events

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
