"""Full collections while the person is not pressing keys, not in the middle of a key's frame.

Each frame leaves reference cycles behind (Textual strips cache crops of
themselves), and those that outlive two young collections die in the oldest
generation, which only a full collection frees. CPython runs one every ten
middle-generation collections: at a million events that was every ~30 keys,
5-15 ms (8-9k dead objects among ~20k walked), landing on whichever key was
being drawn, twice the cost of the key itself at the p99. While the app runs,
:class:`IdleCollector` raises that step to ``OLDEST_EVERY`` (a cap for a key
held down without pause) and runs the full collection itself once no key or
click came for ``QUIET`` seconds and the young collections have moved
something into the oldest generation since the last full one. Young
collections stay as they were: ~0.1 ms each, a few per key.

The cap weighs one pause against memory: a key held at a million events
leaves ~250 dead objects (~23 KB) in the oldest generation per key, and the
forced collection walks them and the ~40k live ones. At 100 it came every
~300 keys, 45-90 ms, inside a page of ``bench/bench_timeline.py``'s 600 keys;
at 400 it comes every ~1,000 keys held without a pause (half a minute of key
repeat), holding ≤ ~25 MB meanwhile.

Nor within a second of any other full collection: while events stream in,
``retention`` collects (and freezes) every few thousand of them, and the idle
ones in between, four a second, doubled the pauses of a 5,000 events/s stream.

Nothing is collected before the process settled (``retention.settle``, a
second after the first session screen): until modules, styles and screens are
frozen a full collection walks them all, 120-170 ms on a slow two-core
machine, and the app's first second had three of them, holding the GIL from
the relay while an agent's first burst of events came in.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

from ..retention import settled

#: Seconds without input before the collector runs a full collection.
QUIET = 0.3
#: How often (seconds) the app looks whether it is quiet.
LOOK_EVERY = 0.25
#: Middle-generation collections between two automatic full ones while the app runs (CPython: 10).
OLDEST_EVERY = 400
#: Seconds after any full collection during which the collector runs none of its own.
RECENT = 1.0


class IdleCollector:
    """Installed by the app on mount (:meth:`start`), removed on unmount (:meth:`stop`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, settled: Callable[[], bool] = settled) -> None:
        self.clock = clock
        self.settled = settled
        self.last_input = clock()
        #: When the last full collection (anyone's) ended.
        self.last_full = float("-inf")
        self.collections = 0
        self._saved: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle, _ = self._saved
            gc.set_threshold(young, middle, OLDEST_EVERY)
            gc.callbacks.append(self._collected)

    def stop(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
            gc.callbacks.remove(self._collected)

    def _collected(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            self.last_full = self.clock()

    def touch(self) -> None:
        """A key or a click came in."""
        self.last_input = self.clock()

    def tick(self) -> bool:
        """Every ``LOOK_EVERY`` seconds: a full collection if quiet and the oldest generation grew."""
        now = self.clock()
        if (not gc.isenabled() or gc.get_count()[2] == 0 or now - self.last_input < QUIET
                or now - self.last_full < RECENT or not self.settled()):
            return False
        gc.collect()
        self.collections += 1
        return True
