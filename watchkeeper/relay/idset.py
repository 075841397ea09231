"""The ids a session has seen, in about 9 bytes each: what dedupe needs for a history that runs for days.

A ``set`` of the id strings costs ~130 bytes per event and keeps every id string
alive after its event went to disk (``spill.py``): 3M events would be ~400 MB of ids
alone. This keeps each id's 64-bit ``hash()`` instead: the newest in a ``set``
(``LEVEL`` of them), older ones in sealed, sorted ``array('q')`` levels, with a bitmap
in front so that an id never seen (nearly every id) is answered with one bit test.

Two different ids with the same 64-bit hash would be taken for one: for a session of
3M events the chance is about 2.5e-7. Hashes are per process (``PYTHONHASHSEED``),
like the set they replace; nothing here is written to disk.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

#: Hashes kept in the live ``set`` before it is sealed into a sorted level.
LEVEL = 65_536
#: Bits in the bitmap in front of the sealed levels (8 MiB), allocated at the first seal.
BITMAP_BITS = 1 << 26


class IdSet:
    """``in``, ``add`` and ``len`` over ids (strings); what ``SessionLog`` and a rebuild dedupe with."""

    __slots__ = ("_bits", "_count", "_levels", "_live")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._live: set[int] = set()
        self._levels: list[array[int]] = []
        self._bits: bytearray | None = None
        self._count = 0
        for i in ids:
            self.add(i)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, eid: object) -> bool:
        h = hash(eid)
        if h in self._live:
            return True
        bits = self._bits
        if bits is None:
            return False
        b = h & (BITMAP_BITS - 1)
        if not bits[b >> 3] & (1 << (b & 7)):
            return False
        return any(_has(level, h) for level in self._levels)

    def add(self, eid: str) -> None:
        self.add_new(eid)

    def add_new(self, eid: str) -> bool:
        """Add ``eid``; False (nothing changed) if it was there already. One hash, one lookup."""
        h = hash(eid)
        live = self._live
        if h in live:
            return False
        bits = self._bits
        if bits is not None:
            b = h & (BITMAP_BITS - 1)
            if bits[b >> 3] & (1 << (b & 7)) and any(_has(level, h) for level in self._levels):
                return False
        live.add(h)
        self._count += 1
        if len(live) >= LEVEL:
            self._seal()
        return True

    def _seal(self) -> None:
        level = array("q", sorted(self._live))
        bits = self._bits
        if bits is None:
            bits = self._bits = bytearray(BITMAP_BITS >> 3)
        mask = BITMAP_BITS - 1
        for h in level:
            b = h & mask
            bits[b >> 3] |= 1 << (b & 7)
        self._levels.append(level)
        self._live = set()


def _has(level: array[int], h: int) -> bool:
    i = bisect_left(level, h)
    return i < len(level) and level[i] == h

