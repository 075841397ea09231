"""A session's events as the viewer keeps them: past the newest few thousand, each one's JSON.

A decoded event is ~1 KB of dicts and strings; its orjson text is ~200
bytes, so a million-event session keeps ~250 MB instead of ~1 GB. The newest
``TAIL`` events (what a live session shows and changes) stay as they came;
older ones are encoded as newer ones arrive, and decoded again when read,
the last ``RECENT`` of those kept for the reads to come (rows on screen,
the selection). What every row needs without decoding (its kind, its row's
agent) is in the store's own columns. An event orjson cannot encode as it is
(an integer past 64 bits, a key that is not a string) is kept as it came.

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
#: Older events decoded again, kept for the reads to come (rows on screen, the selection, the detail pane).
RECENT = 4_096


class EventLog(Sequence[Event]):
    """Append-only; thread-safe for one writer and readers of what was appended before they began."""

    __slots__ = ("_items", "_recent")

    def __init__(self, events: Sequence[Event] = ()) -> None:
        self._items: list[bytes | Event] = []
        self._recent: dict[int, Event] = {}
        for event in events:
            self.append(event)

    def append(self, event: Event) -> None:
        items = self._items
        items.append(event)
        old = len(items) - TAIL - 1
        if old >= 0:
            item = items[old]
            if not isinstance(item, bytes):
                try:
                    # A copy: orjson's own result keeps its whole working buffer (~4 KB) allocated.
                    items[old] = bytes(memoryview(orjson.dumps(item)))
                except (TypeError, orjson.JSONEncodeError):
                    pass

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return [self._decode(i) for i in range(*index.indices(len(self._items)))]
        if index < 0:
            index += len(self._items)
            if index < 0:
                raise IndexError("event index out of range")
        return self._decode(index)

    def _decode(self, index: int) -> Event:
        recent = self._recent
        event = recent.get(index)
        if event is not None:
            return event
        item = self._items[index]
        if not isinstance(item, bytes):
            return item
        event = orjson.loads(item)
        if len(recent) >= RECENT:
            recent.clear()
        recent[index] = event
        return event

    def __iter__(self) -> Iterator[Event]:
        loads = orjson.loads
        for item in list(self._items):
            yield loads(item) if isinstance(item, bytes) else item

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventLog | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def find_id(self, event_id: Any) -> int | None:
        """The index of the newest event with this ``id``; its JSON is searched before anything is decoded."""
        try:
            needle = b'"id":' + orjson.dumps(event_id)
        except (TypeError, orjson.JSONEncodeError):
            needle = b""
        items = self._items
        for i in range(len(items) - 1, -1, -1):
            item = items[i]
            if isinstance(item, bytes):
                if not needle or needle not in item:
                    continue
                if self._decode(i).get("id") == event_id:
                    return i
            elif item.get("id") == event_id:
                return i
        return None
