"""``watchkeeper export``: transcript files (or the sessions under directories) sent once as traces.

Each file is read through the adapters (``adapters.files.feed.convert_file``,
which picks the reader by the file and takes a Claude Code session's subagent
files along), its events made encodable as the relay makes them (``fit``: a
lone surrogate is kept as its escape), folded into spans (``mapping``) and
sent in batches by a second thread, so reading the next events and waiting on
the network overlap. A session's span is sent when its file is done; it is marked
incomplete if calls were still open there.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..adapters.files.discovery import scan_sessions
from ..adapters.files.feed import convert_file
from ..protocol import Event, fit
from .mapping import Content, SpanMapper, SpanRecord
from .otlp import BATCH, OtlpSender

#: Events folded between two hand-overs to the sending thread.
CHUNK_EVENTS = 4096


@dataclass
class ExportStats:
    files: int = 0
    sessions: int = 0
    events: int = 0
    spans: int = 0
    sent: int = 0
    failed: int = 0


def session_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files themselves, and for a directory its session files (not subagent files), in name order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p, _ in scan_sessions(path)[0])
        else:
            yield path


def _chunks(events: Iterable[Event], size: int) -> Iterator[list[Event]]:
    chunk: list[Event] = []
    for ev in events:
        chunk.append(ev)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Sending:
    """A thread that sends what ``put`` hands it; at most a few batches wait (the reader waits beyond)."""

    def __init__(self, sender: OtlpSender) -> None:
        self.sender = sender
        self._queue: queue.Queue[list[SpanRecord] | None] = queue.Queue(maxsize=4)
        self._thread = threading.Thread(target=self._run, name="watchkeeper-otlp-send", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            self.sender.send(batch)

    def put(self, batch: list[SpanRecord]) -> None:
        if batch:
            self._queue.put(batch)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


def export_paths(paths: Iterable[Path], sender: OtlpSender, *, content: Content | None = None,
                 progress: Callable[[Path, ExportStats], None] | None = None) -> ExportStats:
    """Export every session of ``paths``; returns what was read and sent."""
    stats = ExportStats()
    sending = _Sending(sender)
    pending: list[SpanRecord] = []

    def hand(records: list[SpanRecord], force: bool = False) -> None:
        pending.extend(records)
        stats.spans += len(records)
        if len(pending) >= BATCH or (force and pending):
            sending.put(pending[:])
            pending.clear()

    try:
        for path in session_files(paths):
            mapper = SpanMapper(content)
            for chunk in _chunks((fit(e) for e in convert_file(path)), CHUNK_EVENTS):
                stats.events += len(chunk)
                hand(mapper.feed(chunk))
            stats.sessions += len(mapper.sessions)
            for session in list(mapper.sessions):
                hand(mapper.close_session(session, incomplete=mapper.open_calls(session) > 0))
            stats.files += 1
            if progress is not None:
                progress(path, stats)
        hand([], force=True)
    finally:
        sending.close()
    stats.sent, stats.failed = sender.sent, sender.failed
    return stats
