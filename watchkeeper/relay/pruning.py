"""Retention for recordings: older than so many days, or past so many GiB in all, the oldest go.

Recordings are where hooked sessions' history lives once it leaves the relay's
working set (``recorder.py``, ``spill.py``), so they are kept, not copied; without
a limit they would fill the disk of a ``serve`` that runs for months. The limits
come from ``config.toml`` (``[recordings] keep_days``, ``keep_gib``). A recording
being written or read by this relay is never pruned; each pruning is said as a
notice (``Recorder`` puts it in the stream of the session whose recording began).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DAYS = 30.0
DEFAULT_GIB = 5.0


@dataclass(frozen=True)
class Retention:
    """``days``/``gib``: None for no limit of that kind."""

    directory: Path
    days: float | None = DEFAULT_DAYS
    gib: float | None = DEFAULT_GIB

    def prune(self, in_use: Collection[Path] = (), now: float | None = None) -> list[str]:
        """Remove what is past the limits, oldest first; what was removed and why, one line each."""
        now = time.time() if now is None else now
        files = []
        for path in self.directory.glob("*.jsonl"):
            with contextlib.suppress(OSError):
                st = path.stat()
                files.append((st.st_mtime, st.st_size, path))
        files.sort()
        busy = {Path(p) for p in in_use}
        total = sum(size for _, size, _ in files)
        pruned: list[str] = []
        for mtime, size, path in files:
            if path in busy:
                continue
            if self.days is not None and now - mtime > self.days * 86400:
                why = f"older than {self.days:g} days"
            elif self.gib is not None and total > self.gib * 2**30:
                why = f"recordings over {self.gib:g} GiB"
            else:
                continue
            try:
                path.unlink()
            except OSError:
                continue
            total -= size
            pruned.append(f"{path.name} ({size / 2**20:,.1f} MiB, {why})")
        return pruned
