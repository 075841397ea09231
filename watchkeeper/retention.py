"""The one ``gc.freeze()`` policy of the process: objects kept for good leave the collector's sight.

The relay keeps every event as long as it runs, and the viewer keeps rows for
them: a 1 GB transcript is ~10M objects, and each full collection would walk
all of them again, holding the GIL (the UI's too) for up to seconds. Whoever
keeps objects for good says so with :func:`retained`; every ``FREEZE_EVERY`` of
them, counted across the process and its threads, a full collection frees the
cycles that died since the last one and ``gc.freeze()`` moves everything left
out of the collector's sight. Events are acyclic, so reference counting still
frees them. The collection comes first because a freeze also takes the garbage
not yet collected: every frame leaves cycles behind (a Textual strip divided at
its own width caches itself), and frozen they are never freed. It is short: it
walks only what came since the last freeze. The side effect: a reference cycle
alive at a freeze is never collected, so what is built on cycles (Textual
widgets) must let go of them by hand when it goes (see ``viewer/widgets/timeline.py``),
and the strips of the frame on screen at each freeze (~650 objects at 120×40)
stay for good: ``FREEZE_EVERY`` weighs that against the length of each pause.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Objects kept between two freezes, counted over every caller of :func:`retained`. A live stream
#: of 5,000 events/s (counted by the relay and the viewer both) then pauses for a collection of
#: ~3-5 ms twice a second; 10,000 without the collection first made one of 10-25 ms a second and
#: froze 1,900 dead objects each time, 2,500 with it four pauses of ~2 ms and 650 objects each.
FREEZE_EVERY = 5_000

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


def settled() -> bool:
    """Whether :func:`settle` ran: until then a full collection walks every module and style too."""
    return _settled


_pause_lock = threading.Lock()
_pausing = 0
_was_enabled = False


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic collection while a history is read whole (the viewer's ``read_store``), from any thread.

    Reading a million events decodes ~3M short-lived dicts that reference counting frees; each
    young collection walked them for nothing (~0.5 s of a 3 s load), and the viewer's idle full
    collection came every few seconds meanwhile. Nested and concurrent pauses count;
    the last one out enables collection again if it was enabled before the first.
    """
    global _pausing, _was_enabled
    with _pause_lock:
        if _pausing == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausing += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pausing -= 1
            if _pausing == 0 and _was_enabled:
                gc.enable()


def give_back() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``), where there is glibc.

    After a huge history is indexed: its 400k events a GB came and went a batch at a time, and what they
    freed stays in the process (~8 MB of the peak at 1 GB) until trimmed. Call off the UI's and the relay's
    loops: it walks the heap.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
