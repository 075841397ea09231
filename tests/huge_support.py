"""Helpers for the huge-transcript tests: a big Claude Code transcript grown from real records.

The session the real CLI recorded (``SAMPLE_LOGS``, 2.1.332) is repeated with every uuid and API id rewritten per
copy (so no record is a copy of another and every event id is unique) until
the file reaches the wanted size; the session id stays, so it is one session.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

from conftest import SAMPLE_LOGS
from waiting import until

from watchkeeper.protocol import Event

WAIT = 20.0

_UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ID = re.compile(rb"(" + _UUID + rb"|(?:msg|toolu|srvtoolu|req)_[A-Za-z0-9_]+)")

SESSION = "b258fcd5-dddc-5674-bc87-3cbb11ebc230"


def sample_session() -> Path:
    return SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / f"{SESSION}.jsonl"


def _rewrite(ident: bytes, copy: int) -> bytes:
    if ident == SESSION.encode() or copy == 0:
        return ident
    if re.fullmatch(_UUID, ident):
        tail = (int(ident[-12:], 16) + copy * 7919) % (1 << 48)
        return ident[:-12] + f"{tail:012x}".encode()
    return ident + f"_c{copy}".encode()


def copies(source: Path, n: int, first: int = 0) -> bytes:
    """Copies ``first`` … ``first + n - 1`` of the session's records, ids rewritten per copy."""
    lines = [line for line in source.read_bytes().splitlines() if line.strip()]
    out = []
    for copy in range(first, first + n):
        for line in lines:
            out.append(_ID.sub(lambda m, c=copy: _rewrite(m.group(0), c), line))
    return b"\n".join(out) + b"\n"


def grow(target: Path, source: Path, min_bytes: int) -> int:
    """Write copies of ``source`` to ``target`` until it holds ``min_bytes``; returns the copies written."""
    per_copy = len(copies(source, 1))
    n = max(1, -(-min_bytes // per_copy))
    target.write_bytes(copies(source, n))
    return n


# --- holding the background conversion back --------------------------------------------


class HeldIndexer:
    """Keeps the one index worker busy until released: the tail must come out on its own meanwhile.

    A real job on the real worker (``tailfirst.WORKER``), not a stand-in; always
    release it (the context manager does), or the worker thread stays blocked.
    """

    def __init__(self) -> None:
        from watchkeeper.adapters.files.tailfirst import WORKER

        self.gate = threading.Event()
        self.running = threading.Event()
        self._job = WORKER.submit(self._hold)
        assert self.running.wait(10), "the index worker did not pick up the holding job"

    def _hold(self) -> None:
        self.running.set()
        self.gate.wait(60)

    def release(self) -> None:
        self.gate.set()
        self._job.result(10)

    def __enter__(self) -> HeldIndexer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()


class Collector:
    """A relay subscriber (batches and resyncs) that tests wait on, with a bound."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.resyncs: list[tuple[str, int, int, int]] = []
        self.cond = threading.Condition()

    def __call__(self, batch: list[Event]) -> None:
        with self.cond:
            self.batches.append(list(batch))
            self.cond.notify_all()

    def resync(self, session: str, start: int, end: int) -> None:
        with self.cond:
            self.resyncs.append((session, start, end, sum(len(b) for b in self.batches)))
            self.cond.notify_all()

    @property
    def events(self) -> list[Event]:
        with self.cond:
            return [e for b in self.batches for e in b]

    def wait(self, pred: Callable[[], bool], timeout: float = WAIT) -> bool:
        return until(pred, timeout=timeout, condition=self.cond)
