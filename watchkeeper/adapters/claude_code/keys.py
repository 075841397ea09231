"""A set of strings numbered in order of arrival, kept in a few flat buffers instead of objects.

A converter remembers something of nearly every record it has read: each uuid
(to drop copies, to find abandoned branches), each message's usage. As ``str``
objects in sets and dicts that is ~130 bytes a key (a
converter's state at the end of a 1 GB transcript: 91 MB traced, 48 MB flat),
for every converter alive at once (the one that follows the file, and each
``backing`` cursor reading it again). Here a key is its UTF-8 bytes in one
``bytearray``, an end offset, 32 bits of its hash and a slot of an
open-addressed index: its length plus ~24 bytes, in buffers large enough that
freeing them gives the memory back. The price is CPU: a probe in Python costs
~0.5 µs more a key than a dict's (less when the table is sized up front, and a
new key's first slot is free: nearly every key is new).

Lookups hash with Python's ``hash`` (so a crafted key cannot make the probes
long) and always compare the bytes: the answer is exact, whatever the keys.
"""

from __future__ import annotations

from array import array

_LOW32 = 0xFFFFFFFF


def index_size(expected: int) -> int:
    """Slots of an open-addressed index for ``expected`` entries: a power of two, at most half full."""
    size = 8
    while size <= 2 * expected + 1:
        size *= 2
    return size


class KeyTable:
    """Distinct strings, each with its index: 0, 1, … in the order they were first added."""

    __slots__ = ("_blob", "_ends", "_hashes", "_mask", "_slots")

    def __init__(self, expected: int = 0) -> None:
        """``expected``: about how many keys will come (the index is sized for them at once)."""
        self._blob = bytearray()
        #: key i is ``_blob[_ends[i - 1]:_ends[i]]``
        self._ends = array("q")
        #: the low 32 bits of each key's hash: enough to place it in any index this can grow to
        self._hashes = array("I")
        size = index_size(expected)
        self._slots = array("i", [-1]) * size
        self._mask = size - 1

    def __len__(self) -> int:
        return len(self._ends)

    def add(self, key: str) -> int:
        """The index of a new key; for a key already held, ``-1 - its index`` (``~index``)."""
        h = hash(key) & _LOW32
        data = key.encode("utf-8", "surrogatepass")
        slots, mask = self._slots, self._mask
        i = h & mask
        if slots[i] >= 0:  # nearly every key is new, and most find their slot free at once
            i, j = self._probe(data, h)
            if j >= 0:
                return ~j
        ends = self._ends
        j = len(ends)
        slots[i] = j
        self._blob += data
        ends.append(len(self._blob))
        self._hashes.append(h)
        if 2 * (j + 1) > mask:
            self._grow()
        return j

    def find(self, key: str) -> int:
        """The index of ``key``, or -1."""
        return self._probe(key.encode("utf-8", "surrogatepass"), hash(key) & _LOW32)[1]

    def _probe(self, data: bytes, h: int) -> tuple[int, int]:
        """(the slot, the key's index) for the key of bytes ``data`` and hash ``h``; its index -1 and the
        free slot it would take if it is not held."""
        slots, mask, hashes, ends = self._slots, self._mask, self._hashes, self._ends
        i = h & mask
        j = slots[i]
        while j >= 0:
            if hashes[j] == h:
                start = ends[j - 1] if j else 0
                if ends[j] - start == len(data) and self._blob.startswith(data, start):
                    return i, j
            i = (i + 1) & mask
            j = slots[i]
        return i, -1

    def key(self, index: int) -> str:
        """The key with ``index``."""
        start = self._ends[index - 1] if index else 0
        return self._blob[start:self._ends[index]].decode("utf-8", "surrogatepass")

    def _grow(self) -> None:
        """Twice the slots (at most half of them used), every key placed again by its stored hash."""
        size = 2 * (self._mask + 1)
        mask = size - 1
        slots = array("i", [-1]) * size
        for j, h in enumerate(self._hashes):
            i = h & mask
            while slots[i] >= 0:
                i = (i + 1) & mask
            slots[i] = j
        self._slots, self._mask = slots, mask
