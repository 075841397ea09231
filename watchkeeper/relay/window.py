"""A list by index whose newest entries are in memory and whose older ones are read back (``spill.py``),
bounded both in events and in bytes.

A count alone does not bound memory: an agent may send events of up to ``MAX_EVENT_BYTES`` each, and
20,000 of those are 80 GB. Each entry's encoded size is kept beside it (4 bytes), taken from the one
``orjson.dumps`` that fitted it (``protocol.bounds.sized``), so the bound in bytes costs no encode.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Protocol

from ..protocol import Event

#: Events a session keeps in memory (its newest); older ones are on disk.
DEFAULT_KEEP = 20_000
#: Bytes (encoded) a session keeps in memory, whatever the count: past it the oldest spill down to three
#: quarters of it.
DEFAULT_KEEP_BYTES = 32 * 2**20
#: At most this many events past ``keep`` (and at most a quarter of it) before they spill, all at once:
#: each spill encodes, writes and frees them holding the GIL, which a viewer in the process waits for.
SPILL_CHUNK = 1_024


def slack(keep: int) -> int:
    """How many events past ``keep`` a window holds before the oldest spill (``SPILL_CHUNK``)."""
    return min(keep // 4, SPILL_CHUNK)


class Stream(Protocol):
    """What a subscriber reads (``fanout.py``): a session's log or the journal, by absolute index."""

    def __len__(self) -> int: ...

    def __getitem__(self, k: slice, /) -> list[Event]: ...


class Window:
    """``mem`` holds the newest entries, ``sizes`` their encoded sizes (``nbytes`` in all); every index below
    ``base`` is read back by :meth:`_load`. ``len``, slices, ``append`` and ``extend``, as the book and
    subscribers use a list."""

    __slots__ = ("base", "keep_bytes", "mem", "nbytes", "sizes")

    def __init__(self, keep_bytes: int = DEFAULT_KEEP_BYTES) -> None:
        #: index of ``mem[0]``: every index below it is read back.
        self.base = 0
        self.mem: list[Event] = []
        self.sizes = array("I")
        self.nbytes = 0
        self.keep_bytes = keep_bytes

    def __len__(self) -> int:
        return self.base + len(self.mem)

    def __getitem__(self, k: slice) -> list[Event]:
        start, stop, _ = k.indices(self.base + len(self.mem))
        if start >= stop:
            return []
        base = self.base
        if start >= base:
            return self.mem[start - base:stop - base]
        out = self._load(start, min(stop, base))
        if stop > base:
            out += self.mem[:stop - base]
        return out

    def append(self, ev: Event, size: int) -> None:
        self.mem.append(ev)
        self.sizes.append(size)
        self.nbytes += size

    def extend(self, events: list[Event], sizes: Iterable[int]) -> None:
        self.mem.extend(events)
        had = len(self.sizes)
        self.sizes.extend(sizes)
        self.nbytes += sum(self.sizes[had:])

    def excess(self, keep: int) -> int:
        """How many of the oldest entries to spill: past ``keep`` and its ``slack``, down to ``keep``; past
        ``keep_bytes``, down to three quarters of it (so a spill frees a quarter, not one event at a time)."""
        n = len(self.mem) - keep
        if n <= slack(keep):
            n = 0
        if self.nbytes > self.keep_bytes:
            over, sizes, k = self.nbytes - (self.keep_bytes - self.keep_bytes // 4), self.sizes, 0
            while over > 0:
                over -= sizes[k]
                k += 1
            n = max(n, k)
        return n

    def forget(self, n: int) -> None:
        """Drop the oldest ``n`` entries from memory (``base`` is the caller's to move)."""
        self.nbytes -= sum(self.sizes[:n])
        del self.sizes[:n]
        del self.mem[:n]

    def _load(self, start: int, stop: int) -> list[Event]:
        raise NotImplementedError
