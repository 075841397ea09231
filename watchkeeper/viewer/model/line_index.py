"""Heights of many blocks and where each starts, when heights keep changing near the screen.

A plain prefix sum costs O(n) after each change, and the conversation view
changes heights on every frame that brings new blocks in (an estimate made
exact): at 100,000 blocks that is milliseconds a frame. Here the blocks are
cut into chunks of :data:`CHUNK`: a change updates its chunk's sum and forgets
that chunk's own prefix sum, so finding a block's first line costs a prefix
over the chunk sums (a few hundred) and, at most, one chunk's (O(CHUNK)).
An insertion before the last chunk moves the chunks' bounds: all is redone
(rare: a subagent's blocks placed under their call).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from itertools import accumulate

CHUNK = 512


class LineIndex:
    """Block heights (non-negative ints), their total, and each block's first line."""

    def __init__(self, heights: array[int] | None = None) -> None:
        self.reset(heights if heights is not None else array("l"))

    def reset(self, heights: array[int]) -> None:
        self._heights = heights
        self.total = sum(heights)
        self._sums = [sum(heights[a:a + CHUNK]) for a in range(0, len(heights), CHUNK)]
        self._starts = array("q", [0])
        self._valid = 0
        self._inner: dict[int, array[int]] = {}

    def __len__(self) -> int:
        return len(self._heights)

    def __getitem__(self, i: int) -> int:
        return self._heights[i]

    def set(self, i: int, height: int) -> None:
        delta = height - self._heights[i]
        if delta:
            self._heights[i] = height
            self.total += delta
            k = i // CHUNK
            self._sums[k] += delta
            self._valid = min(self._valid, k)
            self._inner.pop(k, None)

    def insert(self, i: int, height: int) -> None:
        heights = self._heights
        last = (len(self._sums) - 1) * CHUNK
        if i < last or not self._sums:
            heights.insert(i, height)
            self.reset(heights)
            return
        heights.insert(i, height)
        self.total += height
        if len(heights) > len(self._sums) * CHUNK:
            self._sums.append(0)
            k = len(self._sums) - 1
            self._sums[k - 1] = sum(heights[(k - 1) * CHUNK:k * CHUNK])
            self._sums[k] = sum(heights[k * CHUNK:])
            self._inner.pop(k - 1, None)
            k -= 1
        else:
            k = len(self._sums) - 1
            self._sums[k] += height
        self._valid = min(self._valid, k)
        self._inner.pop(k, None)

    def _chunk_starts(self) -> array[int]:
        v, n = self._valid, len(self._sums)
        if v < n or len(self._starts) != n + 1:
            del self._starts[v + 1:]
            self._starts.extend(accumulate(self._sums[v:], initial=self._starts[v]))
            del self._starts[v + 1]
            self._valid = n
        return self._starts

    def _chunk(self, k: int) -> array[int]:
        inner = self._inner.get(k)
        if inner is None:
            inner = self._inner[k] = array("q", accumulate(self._heights[k * CHUNK:(k + 1) * CHUNK], initial=0))
        return inner

    def start(self, i: int) -> int:
        """The first line of block ``i``; ``start(len(self))`` is the total."""
        if i >= len(self._heights):
            return self.total
        k = i // CHUNK
        return self._chunk_starts()[k] + self._chunk(k)[i - k * CHUNK]

    def find(self, y: int) -> int:
        """The block line ``y`` is in (the first or the last one outside the lines)."""
        n = len(self._heights)
        if not n:
            return 0
        starts = self._chunk_starts()
        k = max(0, min(len(self._sums) - 1, bisect_right(starts, y) - 1))
        inner = self._chunk(k)
        j = bisect_right(inner, y - starts[k], 0, len(inner) - 1) - 1
        return max(0, min(n - 1, k * CHUNK + max(0, j)))
