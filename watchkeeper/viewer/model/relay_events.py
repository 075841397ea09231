"""A session's events as the viewer keeps them when the relay holds them: a seq each, read back on demand.

The relay keeps every event of a session for as long as it runs (its newest in
memory, older ones on disk: ``relay/spill.py``) and serves any range of seqs
(``RelayAPI.read_range``). Keeping a second copy in the viewer cost ~220 bytes
an event even as compact JSON (``event_log.py``); this log keeps 8: the
event's seq. The newest ``TAIL`` events stay as they came (what a live session
shows and changes); older ones are read back ``CHUNK`` at a time, the last
``RECENT`` chunks kept for the reads to come (rows on screen, the selection).

An event without a seq (it did not come through a relay) is kept as it came.
One the relay no longer serves (it was restarted, a recording was pruned)
reads back as a ``notice`` in its place, so a row still renders and says so.
Reads are safe from a worker thread while the UI appends. A read is I/O (the
relay may convert a window of a transcript again: seconds), so the log is
``slow``: the UI never reads a chunk itself (``event_log.NotRead``).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from itertools import repeat
from typing import Any

from ...protocol import Event, Kind, make_event
from .event_log import CHUNK, TAIL, TailAndChunks

#: Chunks read back and kept for the reads to come: a few screens' worth.
RECENT = 16
#: ``read(start, stop)``: the session's events with ``start <= seq < stop`` (``RelayAPI.read_range``).
Reader = Callable[[int, int], list[Event]]
_get: Callable[..., Any] = dict.get


class RelayEvents(TailAndChunks):
    """Append-only. One thread appends; others may read what was appended before they began."""

    __slots__ = ("_kept", "_read", "_seqs", "session")
    keep_chunks = RECENT
    slow = True

    def __init__(self, read: Reader, session: str = "") -> None:
        super().__init__()
        self._read = read
        self.session = session
        #: Per event, by index: its seq (-1: kept in ``_kept``).
        self._seqs = array("q")
        self._kept: dict[int, Event] = {}

    def append(self, event: Event) -> None:
        seq = event.get("seq")
        index = len(self._seqs)
        if isinstance(seq, int) and seq >= 0:
            self._seqs.append(seq)
        else:
            self._seqs.append(-1)
            self._kept[index] = event
        base, tail = self._now
        tail.append(event)
        if len(tail) >= TAIL + CHUNK:
            self._now = (base + CHUNK, tail[CHUNK:])

    def extend(self, events: list[Event]) -> None:
        """``append`` each, in one pass when every event has its seq (the usual case)."""
        try:
            seqs: array[int] = array("q", map(_get, events, repeat("seq")))
        except (TypeError, OverflowError):
            seqs = array("q", [-1])
        if not seqs or min(seqs) < 0:
            for event in events:
                self.append(event)
            return
        self._seqs += seqs
        base, tail = self._now
        tail.extend(events)
        if len(tail) >= TAIL + CHUNK:
            n = (len(tail) - TAIL) // CHUNK * CHUNK
            self._now = (base + n, tail[n:])

    def _read_chunk(self, n: int, base: int) -> tuple[list[Event], bool]:
        return self._load(n * CHUNK, min((n + 1) * CHUNK, base)), True

    def _load(self, start: int, stop: int) -> list[Event]:
        """Events ``start`` … ``stop - 1`` (indices) read back: one range read over their seqs."""
        seqs, kept = self._seqs, self._kept
        wanted = [s for s in seqs[start:stop] if s >= 0]
        got: dict[int, Event] = {}
        if wanted:
            for event in self._read(wanted[0], wanted[-1] + 1):
                seq = event.get("seq")
                if isinstance(seq, int):
                    got[seq] = event
        out = []
        for i in range(start, stop):
            seq = seqs[i]
            found = kept.get(i) if seq < 0 else got.get(seq)
            out.append(found if found is not None else self._missing(seq))
        return out

    def seq_of(self, index: int) -> int:
        seq = self._seqs[index]
        return seq if seq >= 0 else index

    def _missing(self, seq: int) -> Event:
        text = f"event {seq} is no longer served by the relay (restarted, or its recording was pruned)"
        event = make_event(f"missing:{seq}", self.session, Kind.NOTICE, {"level": "warning", "text": text}, ts="")
        event["seq"] = seq
        return event

    def __iter__(self) -> Iterator[Event]:
        base, tail = self._now
        for n in range(-(-base // CHUNK)):
            yield from self._load(n * CHUNK, min((n + 1) * CHUNK, base))
        yield from list(tail)

    def find_id(self, event_id: Any) -> int | None:
        """The index of the newest event with this ``id``; the tail first, then older chunks read back."""
        base, tail = self._now
        for i in range(len(tail) - 1, -1, -1):
            if tail[i].get("id") == event_id:
                return base + i
        for n in range(-(-base // CHUNK) - 1, -1, -1):
            events = self._chunk(n, base)
            for i in range(len(events) - 1, -1, -1):
                if events[i].get("id") == event_id:
                    return n * CHUNK + i
        return None
