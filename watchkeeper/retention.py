"""The one ``gc.freeze()`` policy of the process: objects kept for good leave the collector's sight.

The relay keeps every event as long as it runs, and the viewer keeps rows for
them: a 1 GB transcript is ~10M objects, and each full collection would walk
all of them again, holding the GIL (the UI's too) for up to seconds. Whoever
keeps objects for good says so with :func:`retained`; every ``FREEZE_EVERY`` of
them, counted across the process and its threads, a full collection frees the
cycles that died since the last one and ``gc.freeze()`` moves everything left
out of the collector's sight. Events are acyclic, so reference counting still
frees them. The collection comes first because a freeze also takes the garbage
not yet collected: every frame leaves cycles behind (Textual's strips cache
themselves), and frozen they were never freed, ~7,000 objects a second while a
live stream scrolled. It is short (it walks only what came since the last
freeze), and with it the collector's own full collections, which walked as much
and came every second, mostly find nothing to do. The side effect: a reference
cycle alive at a freeze is never collected, so what is built on cycles (Textual
widgets) must let go of them by hand when it goes (see ``viewer/widgets/timeline.py``).
"""

from __future__ import annotations

import gc
import threading

#: Objects kept between two freezes, counted over every caller of :func:`retained`. Each freeze's
#: collection walks what came since the last: at 5,000 events/s (counted by the relay and the viewer
#: both) four of ~3 ms a second, where 10,000 made one of ~12 ms, the collector's own besides.
FREEZE_EVERY = 2_500

_settle_lock = threading.Lock()
_unfrozen = 0
_settled = False


def retained(n: int) -> None:
    """``n`` more objects are kept for good; from any thread, on the hot path of every ingest.

    No lock: two threads counting at once can only lose a count, which delays a freeze a little.
    """
    global _unfrozen
    _unfrozen += n
    if _unfrozen >= FREEZE_EVERY:
        _unfrozen = 0
        gc.collect()
        gc.freeze()


def settle() -> None:
    """Once per process, when the app has built what lives as long as it does: collect, then freeze.

    Modules, styles and screens then stay out of the collector's sight, so a full
    collection walks only what came since. Once only: a later app in the same
    process (tests) would freeze the last one's garbage for good.
    """
    global _settled
    with _settle_lock:
        if _settled:
            return
        _settled = True
    gc.collect()
    gc.freeze()
