"""Recording: each session's merged stream as watchkeeper's native ``.jsonl``, which ``replay`` plays.

A relay subscriber: every event the session's stream holds (transcript,
hooks, controls with who sent them and when) is written as one line, in seq
order, to ``<dir>/<session>.jsonl``. Only the sessions ``want`` names are
recorded (by default every one); a session wanted late is written from its
first event, read back from the relay. Recordings hold what agents read and
wrote: the directory is 0700 and each file 0600, whatever the umask.

A recording is also where its session's history lives once it leaves the relay's
working set (``spill.Recording``, ``Relay.record_to``): the recorder keeps each line's
offset, and ``lines`` reads any recorded seq back, so history is on disk once, not twice.
An edge's restart hands lines already in a recording back as the new run's first seqs
(``adopt``, ``owed.py``): read from there, never written again. ``opened`` hears where a
session's lines of this run begin, before the first is written; ``flushed`` hears each
written batch (``serve`` acknowledges an SDK agent's events only then).

Nothing an event holds stops it: each line is written by the codec's
``encode_line``, which cuts and marks what cannot be written as it is. A
session whose file cannot be opened or written stops being recorded, and the
recorder then raises :class:`RecordingError` once, after the batch's other
sessions are written, so the relay says so where the person looks.
"""

from __future__ import annotations

import contextlib
import os
import re
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..config import open_private, private_dir
from ..protocol import Event, content_id, encode_line
from .pruning import Retention

#: Events read back at a time when a session is recorded late (its history may be on disk).
_CHUNK = 5_000
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

#: ``notice(session, text, code, level)``: say something in a session's stream (``Relay.notice``).
Notice = Callable[[str, str, str, str], None]
#: ``read_range(session, start, stop)``: the relay's history of one session.
ReadRange = Callable[[str, int, int], list[Event]]


class RecordingError(OSError):
    """Sessions that stopped being recorded in this batch (``sessions``, where the relay says so); the others go on."""

    def __init__(self, message: str, sessions: list[str]) -> None:
        super().__init__(message)
        self.sessions = sessions


class Recorder:
    """A ``BatchCallback``: subscribe it to every session (``relay.subscribe(recorder)``), close it at the end."""

    def __init__(self, directory: Path | str, want: Callable[[str], bool] | None = None,
                 read_range: ReadRange | None = None, retention: Retention | None = None,
                 notice: Notice | None = None) -> None:
        self.directory = Path(directory)
        #: applied whenever a session's recording begins; what it prunes is told by ``notice``.
        self.retention = retention
        self.notice = notice
        self.want = want
        self.read_range = read_range
        self._files: dict[str, IO[bytes]] = {}
        #: per session, the seq of the next event to write (seq restarts with every relay run).
        self._next: dict[str, int] = {}
        self.errors: list[str] = []
        self._failed: set[str] = set()
        #: the session each of ``errors`` stopped, in the same order.
        self._stopped: list[str] = []
        #: per session recorded from seq 0 in this run: each line's offset in the file, and where the next goes.
        self._offsets: dict[str, array[int]] = {}
        self._at: dict[str, int] = {}
        #: per session, the seqs from 0 written and flushed.
        self._covered: dict[str, int] = {}
        self._readers: dict[str, int] = {}
        #: ``opened(session, offset)``: the session's lines of this run begin at ``offset`` (before the first).
        self.opened: Callable[[str, int], None] | None = None
        #: called after each batch is written and flushed (on the relay's thread).
        self.flushed: list[Callable[[], None]] = []

    def path(self, session: str) -> Path:
        name = session if _SAFE.match(session) else f"session-{content_id(session)}"
        return self.directory / f"{name}.jsonl"

    def __call__(self, batch: list[Event]) -> None:
        touched: set[str] = set()
        failed = len(self.errors)
        for ev in batch:
            sid = ev.get("session") or "unknown"
            if sid in self._failed:
                continue
            f = self._files.get(sid)
            if f is None:
                if self.want is not None and not self.want(sid):
                    continue
                f = self._open(sid, ev.get("seq", 0))
                if f is None:
                    continue
            seq = ev.get("seq", -1)
            if seq < self._next.get(sid, 0):
                continue
            try:
                self._write(sid, f, encode_line(ev))
            except OSError as e:
                self._fail(sid, f"cannot write the recording of session {sid}: {e}")
                continue
            self._next[sid] = seq + 1
            touched.add(sid)
        for sid in touched:
            if sid not in self._failed:
                try:
                    self._files[sid].flush()
                except OSError as e:
                    self._fail(sid, f"cannot write the recording of session {sid}: {e}")
                    continue
                if sid in self._offsets:
                    self._covered[sid] = len(self._offsets[sid])
        if touched:
            for listener in self.flushed:
                listener()
        if len(self.errors) > failed:
            raise RecordingError("; ".join(self.errors[failed:]), self._stopped[failed:])

    def _fail(self, session: str, message: str) -> None:
        self.errors.append(message)
        self._failed.add(session)
        self._stopped.append(session)
        f = self._files.pop(session, None)
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()

    def _open(self, session: str, first_seq: int) -> IO[bytes] | None:
        try:
            private_dir(self.directory)
            f = open_private(self.path(session))
        except OSError as e:
            self._fail(session, f"cannot record session {session}: {e}")
            return None
        self._files[session] = f
        try:
            if first_seq == 0 or self.read_range is not None:
                self._offsets[session] = array("q")
                self._at[session] = os.fstat(f.fileno()).st_size
                if self.opened is not None:
                    self.opened(session, self._at[session])
            if first_seq > 0 and self.read_range is not None:
                for at in range(0, first_seq, _CHUNK):
                    for ev in self.read_range(session, at, min(at + _CHUNK, first_seq)):
                        self._write(session, f, encode_line(ev))
        except OSError as e:
            self._fail(session, f"cannot write the recording of session {session}: {e}")
            return None
        self._next[session] = first_seq
        self._prune(session)
        return f

    def _prune(self, session: str) -> None:
        if self.retention is None:
            return
        try:
            pruned = self.retention.prune(self.in_use())
        except OSError as e:
            pruned = [f"cannot apply the retention limit: {e}"]
        if pruned and self.notice is not None:
            self.notice(session, f"recordings pruned in {self.directory}: " + "; ".join(pruned),
                        "recordings-pruned", "info")

    def _write(self, session: str, f: IO[bytes], line: bytes) -> None:
        f.write(line)
        offsets = self._offsets.get(session)
        if offsets is not None:
            offsets.append(self._at[session])
            self._at[session] += len(line)

    def covered(self, session: str) -> int:
        """Seqs from 0 of ``session`` written and flushed in this run (``spill.Recording``)."""
        return self._covered.get(session, 0)

    def failed(self, session: str) -> bool:
        return session in self._failed

    def offset(self, session: str, seq: int) -> int | None:
        """Where the line of ``session``'s ``seq`` (this run) begins, or where it will (the next one); None:
        not recorded from seq 0 in this run."""
        offsets = self._offsets.get(session)
        if offsets is None:
            return None
        covered = self._covered.get(session, 0)
        if seq < covered:
            return offsets[seq]
        return offsets[covered] if covered < len(offsets) else self._at[session]

    def backlog(self, session: str) -> tuple[array[int] | None, int, int]:
        """``session``'s line offsets (this run), how many are flushed, and where the last flushed one ends."""
        offsets = self._offsets.get(session)
        if offsets is None:
            return None, 0, 0
        covered = self._covered.get(session, 0)
        return offsets, covered, offsets[covered] if covered < len(offsets) else self._at[session]

    def adopt(self, session: str, offsets: array[int], end: int) -> None:
        """The lines already in ``session``'s recording at ``offsets`` (ending at ``end``, the file's end) are
        this run's first seqs of it: read back from there, never written again (an edge's restart, ``owed.py``)."""
        try:
            private_dir(self.directory)
            f = open_private(self.path(session))
        except OSError as e:
            self._fail(session, f"cannot record session {session}: {e}")
            return
        self._files[session] = f
        self._offsets[session] = offsets
        self._at[session] = end
        self._covered[session] = self._next[session] = len(offsets)

    def lines(self, session: str, start: int, stop: int) -> list[bytes]:
        """Recorded seqs ``start <= seq < stop`` as they are in the file, without newlines; from any thread."""
        offsets = self._offsets[session]
        stop = min(stop, self._covered.get(session, 0))
        if start >= stop:
            return []
        fd = self._readers.get(session)
        if fd is None:
            fd = self._readers[session] = os.open(self.path(session), os.O_RDONLY | os.O_CLOEXEC)
        end = offsets[stop] if stop < len(offsets) else self._at[session]
        return os.pread(fd, end - offsets[start], offsets[start]).split(b"\n")[: stop - start]

    def in_use(self) -> set[Path]:
        """The recordings this recorder writes or reads (retention leaves them alone)."""
        return {self.path(s) for s in (*self._files, *self._readers)}

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        for fd in self._readers.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._readers.clear()
