"""Recording: each session's merged stream as watchkeeper's native ``.jsonl``, which ``replay`` plays.

A relay subscriber: every event the session's stream holds (transcript,
hooks, controls with who sent them and when) is written as one line, in seq
order, to ``<dir>/<session>.jsonl``. Only the sessions ``want`` names are
recorded (by default every one); a session wanted late is written from its
first event, read back from the relay. Recordings hold what agents read and
wrote: the directory is 0700 and each file 0600, whatever the umask.

Nothing an event holds stops it: each line is written by the codec's
``encode_line``, which cuts and marks what cannot be written as it is. A
session whose file cannot be opened or written stops being recorded, and the
recorder then raises :class:`RecordingError` once, after the batch's other
sessions are written, so the relay says so where the person looks.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ..config import open_private, private_dir
from ..protocol import Event, content_id, encode_line

#: Events read back at a time when a session is recorded late (its history may be on disk).
_CHUNK = 5_000
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

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
                 read_range: ReadRange | None = None) -> None:
        self.directory = Path(directory)
        self.want = want
        self.read_range = read_range
        self._files: dict[str, IO[bytes]] = {}
        #: per session, the seq of the next event to write (seq restarts with every relay run).
        self._next: dict[str, int] = {}
        self.errors: list[str] = []
        self._failed: set[str] = set()
        #: the session each of ``errors`` stopped, in the same order.
        self._stopped: list[str] = []

    def path(self, session: str) -> Path:
        name = session if _SAFE.match(session) else f"session-{content_id(session)}"
        return self.directory / f"{name}.jsonl"

    def __call__(self, batch: list[Event]) -> None:
        touched: set[str] = set()
        failed = len(self.errors)
        for ev in batch:
            sid = ev.get("session") or "unknown"
            if sid in self._failed or (self.want is not None and not self.want(sid)):
                continue
            f = self._files.get(sid) or self._open(sid, ev.get("seq", 0))
            if f is None:
                continue
            seq = ev.get("seq", -1)
            if seq < self._next.get(sid, 0):
                continue
            try:
                f.write(encode_line(ev))
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
            if first_seq > 0 and self.read_range is not None:
                for at in range(0, first_seq, _CHUNK):
                    for ev in self.read_range(session, at, min(at + _CHUNK, first_seq)):
                        f.write(encode_line(ev))
        except OSError as e:
            self._fail(session, f"cannot write the recording of session {session}: {e}")
            return None
        self._next[session] = first_seq
        return f

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
