"""The process's one ``gc.freeze()`` policy (``watchkeeper.retention``), and who follows it."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

from watchkeeper import retention

ROOT = Path(__file__).resolve().parent.parent


def test_objects_kept_for_good_are_frozen_every_freeze_every() -> None:
    kept = [[n] for n in range(100)]
    before = gc.get_freeze_count()
    retention.retained(retention.FREEZE_EVERY)
    assert gc.get_freeze_count() >= before + len(kept), "what was alive went out of the collector's sight"


class Cycle:
    """Refers to itself: only a collection frees it, reference counting never does."""

    def __init__(self) -> None:
        self.me = self


def test_a_freeze_takes_no_garbage_with_it() -> None:
    """A cycle that died before a freeze is freed by it, not frozen for good (every frame leaves some)."""
    enabled = gc.isenabled()
    gc.disable()  # no automatic collection frees it first: only the freeze's own can
    try:
        dead = Cycle()
        gone = weakref.ref(dead)
        del dead
        kept = Cycle()
        retention.retained(retention.FREEZE_EVERY)
        assert gone() is None, "a dead cycle was frozen: it would never be freed"
        assert gc.is_tracked(kept) and kept.me is kept
    finally:
        if enabled:
            gc.enable()


def test_the_count_is_shared_by_every_caller() -> None:
    """Counted across calls (and threads): many small batches freeze as one big one does."""
    code = (
        "import gc\n"
        "from watchkeeper import retention\n"
        "retention.FREEZE_EVERY = 10\n"
        "frozen, keep = [], []\n"
        "for n in range(9):\n"
        "    keep.append([n]); retention.retained(1); frozen.append(gc.get_freeze_count())\n"
        "kept = [[n] for n in range(100)]\n"
        "retention.retained(1)\n"
        "print(len(set(frozen)), gc.get_freeze_count() - frozen[-1] >= 100)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["1", "True"]


def test_gc_freeze_has_one_home() -> None:
    calls = [p.relative_to(ROOT).as_posix() for p in (ROOT / "watchkeeper").rglob("*.py")
             if "gc.freeze()" in "".join(line for line in p.read_text().splitlines() if "``" not in line)]
    assert calls == ["watchkeeper/retention.py"]
