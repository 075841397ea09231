"""A rebuilt history kept in the transcript itself: where each event came from, read again on demand.

A huge transcript's history (``tailfirst.py``) is ~400k events for 1 GB: held as
dicts that is ~700 MB, and writing them to the relay's spill files would be a
second copy of what the file already says. So the relay keeps, per event, the
byte offset of the record it came from and a hash of its id and time (16 bytes), and asks
this backing for events by their place in the history.

Events are read back by converting the file again, the way the index did: a
*cursor* is a converter fed the file from its start, so the events it gives for
a record are exactly those of the first conversion (a converter's state — tool
calls, subagents, repeated lines — depends on every record before). Reading
forward, as subscribers, searches and recorders do, continues a cursor; the
newest ``RECENT`` events read are kept (encoded) for readers just behind; a read
before every cursor and those starts a new cursor from the file's start
(``CURSORS`` kept; one that has read to the end is dropped, with its
converter's state). Such a read that also lies before the last one (a viewer
paging back from the end reads chunk after chunk, each before the last, and
would otherwise convert the file from its start again for every one) keeps
the ``BEHIND`` events before it too, which its cursor converts anyway.

Before each read the file must still be the one indexed: the same inode, at
least the bytes indexed, the same hash of its first bytes; and each event read
must have the id it had. Otherwise ``read`` returns None and ``problem`` says
why: the relay serves what it kept and says so in the session.
"""

from __future__ import annotations

import hashlib
import os
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from ...protocol import Event, fit
from ..base import Converter, ReadCancelled, event_key, gave_up
from .feed import open_converter, raw_line

#: The first bytes of the file whose hash must stay the same.
HEAD_BYTES = 64 << 10
#: Bytes read from the file at a time by a cursor.
READ_BYTES = 1 << 20
#: Cursors kept (each a converter's state, ~50 MB at the end of a 1 GB file); the least recently used goes.
CURSORS = 2
#: Events last read, kept for readers a little behind (subscribers catch up in step, 1,000 at a time):
#: without them a third reader would start a cursor again from the file's start on every batch.
RECENT = 8_000
#: Events before a read that starts a cursor from the file's start, kept too: a person paging back
#: through a 1 GB history then waits for a conversion (~3 s at its end) once per window, not once per
#: chunk of 256. They are converted at once, as dicts: ~50 MB at the peak while paging back.
BEHIND = 8_192
#: What the kept events may take, encoded (a Claude Code event is 0.5–4 KB): past it the oldest go.
KEPT_BYTES = 32 << 20
#: Lines a cursor converts between two looks at whether its reader gave up (``base.cancellable``): ~1 ms.
LOOK_EVERY = 256


_dumps = orjson.dumps
_loads = orjson.loads


def _head_hash(fd: int, n: int) -> bytes:
    return hashlib.blake2b(os.pread(fd, n, 0), digest_size=16).digest()


class _Cursor:
    """A converter fed the file from its start, with the bytes read but not yet fed."""

    __slots__ = ("buf", "buf_at", "converter", "last", "last_at", "last_keys", "pos")

    def __init__(self) -> None:
        self.converter: Converter | None = None
        self.buf = b""
        #: the file offset of ``buf[0]``; ``pos``: the next line's index in ``buf``.
        self.buf_at = 0
        self.pos = 0
        #: the last record fed (its offset) and its events, for the next read that starts there.
        self.last_at = -1
        self.last: list[Event] = []
        self.last_keys: list[int] = []

    @property
    def next_at(self) -> int:
        return self.buf_at + self.pos


class TranscriptBacking:
    """``adapters.base.Backing`` over one transcript file, for the events of ``session`` converted from it."""

    def __init__(self, path: Path, session: str | None = None) -> None:
        self.path = path
        #: the session whose events are kept (None: the first one ``follow`` is told of).
        self.session = session
        self.offsets = array("q")
        self.hashes = array("q")
        #: bytes of the file the history covers: the file must keep at least these.
        self.size = 0
        self.problem: str | None = None
        self._lock = threading.Lock()
        self._cursors: list[_Cursor] = []
        #: index -> event (orjson), the newest ``RECENT + BEHIND`` read within ``KEPT_BYTES`` (insertion
        #: order is age: an OrderedDict, whose oldest goes in O(1), where a dict's first key is found by
        #: skipping every slot freed before it), and their bytes.
        self._recent: OrderedDict[int, bytes] = OrderedDict()
        self._recent_bytes = 0
        #: where the last read that converted began: a read before it is a reader paging back.
        self._last_start = 0
        #: conversions started from the file's start (cursors made): what reading back has cost.
        self.passes = 0
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            self._ident = (st.st_dev, st.st_ino)
            self._head_len = min(st.st_size, HEAD_BYTES)
            self._head = _head_hash(fd, self._head_len)
        finally:
            os.close(fd)

    def keep(self, at: int, ev: Event) -> None:
        self.offsets.append(at)
        self.hashes.append(event_key(ev))

    def extend(self, at: Sequence[int], keys: Sequence[int]) -> None:
        self.offsets.extend(at)
        self.hashes.extend(keys)

    def follow(self, events: list[Event], at: list[int], session: str) -> None:
        """Events of ``session`` the file's feed read (``at``: their records' offsets), after the index or from
        the file's start: kept as well, so the relay can forget them too once they leave its working set."""
        if self.session is None:
            self.session = session
        session = self.session
        for ev, where in zip(events, at, strict=True):
            if where >= 0 and isinstance(ev, dict) and ev.get("session") == session:
                self.keep(where, ev)
                self.size = max(self.size, where + 1)

    def indexed(self, size: int) -> None:
        """The history covers the file's first ``size`` bytes."""
        self.size = size

    def __len__(self) -> int:
        return len(self.offsets)

    def read(self, start: int, stop: int) -> list[Event] | None:
        start, stop = max(start, 0), min(stop, len(self.offsets))
        if start >= stop:
            return []
        with self._lock:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                return self._fail(f"{self.path} cannot be read: {e.strerror}")
            try:
                problem = self._changed(fd)
                if problem is not None:
                    return self._fail(problem)
                return self._read(fd, start, stop)
            except OSError as e:
                return self._fail(f"{self.path} cannot be read: {e.strerror}")
            finally:
                os.close(fd)

    def _fail(self, problem: str) -> list[Event] | None:
        """Say why, forget the cursors; None, for ``read`` to return."""
        self.problem = problem
        self._cursors.clear()
        self._recent.clear()
        self._recent_bytes = 0
        return None

    def _changed(self, fd: int) -> str | None:
        """Why the open file is not the one indexed, or None."""
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != self._ident:
            return f"{self.path} was replaced by another file"
        if st.st_size < self.size:
            return f"{self.path} was truncated ({st.st_size:,} bytes, {self.size:,} were indexed)"
        if _head_hash(fd, self._head_len) != self._head:
            return f"{self.path} was rewritten (its first bytes changed)"
        return None

    def _usable(self, at: int) -> list[_Cursor]:
        """The cursors that have not passed the record at ``at``."""
        return [c for c in self._cursors if c.last_at == at or c.next_at <= at]

    def _cursor(self, at: int) -> _Cursor:
        """The cursor furthest along that has not passed the record at ``at``; a new one if none."""
        fit_ = self._usable(at)
        if fit_:
            cursor = max(fit_, key=lambda c: c.next_at)
            self._cursors.remove(cursor)
        else:
            cursor = _Cursor()
            self.passes += 1
            if len(self._cursors) >= CURSORS:
                self._cursors.pop(0)
        self._cursors.append(cursor)
        return cursor

    def _read(self, fd: int, start: int, stop: int) -> list[Event] | None:
        recent = self._recent
        out: list[Event] = []
        while start < stop and start in recent:
            out.append(_loads(recent[start]))
            start += 1
        if start == stop:
            return out
        # Before every cursor, and before the last read (a reader paging back): a new cursor converts the
        # file up to here anyway; keep what lies behind too.
        back, self._last_start = stop <= self._last_start, start
        first = start if not back or self._usable(self.offsets[start]) else max(start - BEHIND, 0)
        while first < start and first in recent:
            first += 1
        got = self._convert(fd, first, stop)
        if got is None:
            return None
        size = self._recent_bytes
        for i, ev in enumerate(got, first):
            old = recent.pop(i, None)
            data = recent[i] = _dumps(ev)
            size += len(data) - (len(old) if old is not None else 0)
        most = RECENT + BEHIND if back else RECENT  # read forward, what lies behind is not read again
        while recent and (len(recent) > most or size > KEPT_BYTES):
            size -= len(recent.popitem(last=False)[1])
        self._recent_bytes = size
        return out + got[start - first:]

    def _convert(self, fd: int, start: int, stop: int) -> list[Event] | None:
        offsets, hashes = self.offsets, self.hashes
        check = gave_up()
        if check is not None and check():
            raise ReadCancelled(f"reading {self.path} was given up")
        cursor = self._cursor(offsets[start])
        out: list[Event] = []
        i = start
        while i < stop:
            at = offsets[i]
            events = self._record(cursor, fd, at, check)
            if events is None:
                return self._fail(f"{self.path} changed: no record starts at byte {at:,} any more")
            keys = cursor.last_keys
            j = 0
            while i < stop and offsets[i] == at:
                h = hashes[i]
                while j < len(events) and keys[j] != h:
                    j += 1
                if j == len(events):
                    return self._fail(f"{self.path} changed: the record at byte {at:,} no longer gives event {i}")
                out.append(events[j])
                j += 1
                i += 1
        if stop == len(offsets):
            self._cursors.remove(cursor)  # read to the end: its converter's state (~50 MB a GB) goes
        return out

    def _record(self, cursor: _Cursor, fd: int, at: int, check: Callable[[], bool] | None) -> list[Event] | None:
        """The session's events of the record at ``at``, feeding the cursor every record up to it; stops between
        two lines once ``check()`` says the reader gave up (the cursor keeps what it converted)."""
        if cursor.last_at == at:
            return cursor.last
        session, path = self.session or "", self.path
        n = 0
        while True:
            n += 1
            if check is not None and not n % LOOK_EVERY and check():
                raise ReadCancelled(f"reading {self.path} was given up")
            line = self._line(cursor, fd)
            if line is None:
                return None
            line_at, data = line
            if line_at > at:
                return None
            conv = cursor.converter
            if conv is None:
                conv = cursor.converter = open_converter(path, data)
            try:
                events = conv.feed(data, line_at)
            except Exception as e:
                events = [raw_line(session, data, line_at, f"converter failed: {e!r}", path)]
            if line_at == at:
                mine = [e for e in events if isinstance(e, dict) and e.get("session") == session]
                cursor.last_at = at
                cursor.last_keys = [event_key(e) for e in mine]  # as the index took them: before ``fit``
                cursor.last = [fit(e) for e in mine]
                return cursor.last

    @staticmethod
    def _line(cursor: _Cursor, fd: int) -> tuple[int, bytes] | None:
        """The cursor's next complete line and its offset; None at the end of what the file holds."""
        while True:
            nl = cursor.buf.find(b"\n", cursor.pos)
            if nl >= 0:
                at = cursor.buf_at + cursor.pos
                line = cursor.buf[cursor.pos:nl]
                cursor.pos = nl + 1
                return at, line
            rest = cursor.buf[cursor.pos:]
            more = os.pread(fd, READ_BYTES, cursor.buf_at + len(cursor.buf))
            if not more:
                return None
            cursor.buf_at += cursor.pos
            cursor.buf = rest + more
            cursor.pos = 0
