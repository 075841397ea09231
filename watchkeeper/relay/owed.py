"""Recorded sessions across a restart of ``serve``, and what an edge owes its hub, kept on disk, bounded.

Hook, SDK and ACP sessions live in their recordings (``recorder.py``). The
:class:`Ledger` keeps, in a small marks file, where each session's lines of
this run begin, written before the first is, so a ``serve`` that is killed
finds them on restart and reads them back (:func:`read_tail`, :class:`OwedSource`)
as its transcripts are re-read: the recording's lines become the new run's
first seqs (the recorder ``adopt``s them: read from there, never written
again), whole for a session active within ``max_age``.

An edge (``serve --upstream``) pushes its relay to a hub, and the hub says,
per session, the next seq it has (``acked``): what the edge owes is the tail
of each recording from the first unacknowledged event, no second copy. Its
offset is in the marks too; after a restart the owed tails are pushed as a new
epoch (the hub drops the repeats by event id, as ``attach`` does), even of a
session too old to be read back whole. The owed tails together are bounded by
a cap in bytes: past it the oldest owed events go first, from the sessions that
owe the most (:func:`shed`), they are never pushed, and a ``notice`` (code
``upstream-dropped``) in that session says which seqs and how many, on the edge
and on the hub. The recordings themselves stay (for ``replay``) under their own
retention limits.

A session read from a transcript file is not here: after a restart it is read
again from its file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..protocol import Event, Kind, decode_native_line, make_event, wire
from ..protocol.display import plural

#: Events handed to the relay at a time when recordings are read back.
CHUNK = 2_000
CODE = "upstream-dropped"
#: Bytes read at a time when a recording is scanned.
_BLOCK = 2**20


@dataclass
class Tail:
    """One session's lines read back from its recording (its last run's, or what it owes): each line's offset,
    and where the last ends."""

    session: str
    path: Path
    offsets: array[int]
    end: int
    #: each line is one event of its own id: the recorder takes the lines as this run's first seqs.
    clean: bool = True
    #: the lines before this one the hub had acknowledged (carried for the relay's history, not owed).
    owed: int = 0

    def __len__(self) -> int:
        return len(self.offsets)

    def lines(self, start: int, stop: int) -> list[bytes]:
        """Lines ``start <= i < stop``, read from the file (the tail is never held in memory whole)."""
        stop = min(stop, len(self.offsets))
        if start >= stop:
            return []
        to = self.offsets[stop] if stop < len(self.offsets) else self.end
        with open(self.path, "rb") as f:
            f.seek(self.offsets[start])
            return f.read(to - self.offsets[start]).split(b"\n")[: stop - start]


def shed(backlogs: dict[str, tuple[Sequence[int], int, int, int]], cap: int) -> dict[str, int]:
    """Where each session's owed tail must start so that all of them fit ``cap`` bytes.

    ``backlogs[session] = (offsets, first, stop, end)``: line ``i`` starts at byte ``offsets[i]``, lines
    ``first <= i < stop`` are owed and the last ends at ``end``. Each session keeps its newest lines up to a
    common level (the sessions that owe the most lose the most, a small one loses nothing), whole lines only.
    Returns the new ``first`` of the sessions that must drop some; {} when everything fits.
    """
    size = {sid: end - offsets[first] if first < stop else 0 for sid, (offsets, first, stop, end) in backlogs.items()}
    if sum(size.values()) <= cap:
        return {}
    room, left, level = float(max(cap, 0)), len(size), 0.0
    for n in sorted(size.values()):
        if n <= room / left:
            room -= n
            left -= 1
        else:
            level = room / left
            break
    out = {}
    for sid, (offsets, first, stop, end) in backlogs.items():
        if size[sid] > level:
            out[sid] = bisect_left(offsets, end - level, first, stop)
    return out


#: Per session: where in its recording the last run's lines begin (read back on restart), and where
#: the part the hub has not acknowledged begins.
Mark = tuple[int, int]


class Marks:
    """The marks file: per session recorded in the last run, (carry, owed) byte offsets in its recording."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Mark]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, dict):
            return {}
        return {str(sid): (m[0], m[1]) for sid, m in sessions.items()
                if isinstance(m, list) and len(m) == 2 and all(isinstance(x, int) and x >= 0 for x in m)
                and m[0] <= m[1]}

    def save(self, marks: dict[str, Mark]) -> None:
        """Atomically (a new file renamed over the old), 0600; not synced: it outlives the process, as the
        recordings it points into do, not the machine."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, orjson.dumps({"version": 1, "sessions": marks}))
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


def read_tail(recording: Path, session: str, start: int) -> Tail | None:
    """The lines of ``recording`` from byte ``start`` on, scanned a block at a time (a line cut short by a
    kill is cut off the file); whether each is one event of its own id."""
    offsets: array[int] = array("q")
    ids: set[str] = set()
    clean = True
    at = start
    try:
        with open(recording, "rb") as f:
            f.seek(start)
            rest = b""
            while block := f.read(_BLOCK):
                rest += block
                *whole, rest = rest.split(b"\n")
                for line in whole:
                    offsets.append(at)
                    at += len(line) + 1
                    clean = clean and _one_event(line, session, ids)
    except OSError:
        return None
    if rest:
        with contextlib.suppress(OSError):
            os.truncate(recording, at)
    return Tail(session, recording, offsets, at, clean)


def dropped_notice(session: str, n: int, first: Any, last: Any, cap: int, where: str) -> Event:
    """The notice for ``n`` owed events never pushed: which seqs, how many, and why."""
    text = (f"{plural(n, 'event')} of this session (seq {first}–{last}{where}) were not pushed to the hub: it "
            f"did not acknowledge them and what this edge keeps for it is capped at {_size(cap)} "
            "(--upstream-keep)")
    data = {"level": "warning", "text": text, "code": CODE, "dropped": n, "first_seq": first, "last_seq": last}
    return make_event(f"upstream:{session}:dropped:{first}:{last}:{n}{where}", session, Kind.NOTICE, data)


def gone_notice(session: str, path: Path) -> Event:
    """The recording an owed tail was in cannot be read (pruned, removed): whatever it held is not pushed."""
    text = (f"the recording {path.name} cannot be read any more (pruned or removed): what of this session the hub "
            "had not acknowledged when this edge stopped cannot be pushed to it")
    return make_event(f"upstream:{session}:gone:{path.name}", session, Kind.NOTICE,
                      {"level": "warning", "text": text, "code": CODE})


class Ledger:
    """The recorded sessions of this run, and, for an edge (``pushing``), what it owes the hub of each.

    ``recorder`` is the relay's :class:`~watchkeeper.relay.recorder.Recorder` (its ``offset``, ``backlog``,
    ``path`` and ``adopt``); call :meth:`opened` when it begins a session's lines, :meth:`ack` with the
    hub's acknowledgements, and :meth:`tick` now and then: it applies the cap and writes the marks.
    On restart (:meth:`recover`) each session the last run recorded is read back from its recording, as a
    transcript is re-read: whole if it was active within ``max_age`` seconds, else only what is owed.
    """

    def __init__(self, marks: Marks, recorder: Any, cap: int | None, *, pushing: bool = True,
                 max_age: float | None = None) -> None:
        self.marks = marks
        self.recorder = recorder
        self.cap = cap
        self.pushing = pushing
        self.max_age = max_age
        #: per session: the hub's next seq (this run), and the first seq still pushed (past a drop).
        self.acked: dict[str, int] = {}
        self.first: dict[str, int] = {}
        #: per session recorded in this run: the byte offset of its first line in this run.
        self._begun: dict[str, int] = {}
        self._saved: dict[str, Mark] | None = None
        self.errors: list[str] = []

    # --- the restart: read back what the last run recorded ---------------------------------

    def recover(self, now: float | None = None) -> tuple[list[Tail], list[Event]]:
        """What the last run recorded, adopted by the recorder, what it owed capped; and the drop notices."""
        now = time.time() if now is None else now
        tails, notices = [], []
        for sid, (carry, owed) in self.marks.load().items():
            path = self.recorder.path(sid)
            recent = self.max_age is None or _mtime(path) >= now - self.max_age
            if not recent and not self.pushing:
                continue
            tail = read_tail(path, sid, carry if recent else owed)
            if tail is None:
                if self.pushing:
                    notices.append(gone_notice(sid, path))
            elif len(tail):
                tail.owed = bisect_left(tail.offsets, owed)
                tails.append(tail)
        cut = {}
        if self.pushing and self.cap is not None:
            cut = shed({t.session: (t.offsets, t.owed, len(t), t.end) for t in tails}, self.cap)
        for t in tails:
            k = cut.get(t.session, t.owed)
            if k > t.owed:
                first, last = _seq(t.lines(t.owed, t.owed + 1)), _seq(t.lines(k - 1, k))
                notices.append(dropped_notice(t.session, k - t.owed, first, last, self.cap or 0,
                                              " of the edge's previous run"))
                t.offsets, t.owed = t.offsets[k:], 0
            if len(t) and t.clean:
                self.recorder.adopt(t.session, array("q", t.offsets), t.end)
                self._begun[t.session] = t.offsets[0]
                self.acked[t.session] = t.owed
            elif not len(t):
                self._begun[t.session] = t.end
        self.save()
        return [t for t in tails if len(t)], notices

    # --- this run ---------------------------------------------------------------------------

    def opened(self, session: str, offset: int) -> None:
        """The recorder begins ``session``'s lines at ``offset``: saved before the first is written."""
        self._begun.setdefault(session, offset)
        self.save()

    def ack(self, positions: dict[str, int]) -> None:
        """The hub has every event of these sessions below these seqs; a session this edge never recorded is
        ignored: a hub naming sessions by the thousand must not make the edge keep them."""
        for sid, seq in positions.items():
            if sid in self._begun and seq > self.acked.get(sid, 0):
                self.acked[sid] = seq

    def oldest(self, session: str) -> int:
        """The first seq of ``session`` pushed to the hub (those before it were dropped by the cap)."""
        return self.first.get(session, 0)

    def owed_from(self, session: str) -> int:
        return max(self.acked.get(session, 0), self.first.get(session, 0))

    def tick(self) -> list[Event]:
        """Apply the cap (the notices of what it dropped) and save the marks if they moved."""
        if self.cap is None:
            self.save()
            return []
        backlogs = {}
        for sid in self._begun:
            offsets, stop, end = self.recorder.backlog(sid)
            if offsets is not None:
                backlogs[sid] = (offsets, min(self.owed_from(sid), stop), stop, end)
        notices = []
        for sid, first in shed(backlogs, self.cap).items():
            was = backlogs[sid][1]
            if first > was:
                self.first[sid] = first
                notices.append(dropped_notice(sid, first - was, was, first - 1, self.cap, ""))
        self.save()
        return notices

    def current(self) -> dict[str, Mark]:
        """The marks as they are: past a drop, what is carried to the next run starts after the dropped."""
        out = {}
        offset = self.recorder.offset
        for sid, begun in self._begun.items():
            owed = offset(sid, self.owed_from(sid))
            carry = offset(sid, self.first[sid]) if sid in self.first else begun
            owed = begun if owed is None else owed
            carry = begun if carry is None else carry
            out[sid] = (min(carry, owed), owed)
        return out

    def save(self) -> None:
        marks = self.current()
        if marks == self._saved:
            return
        try:
            self.marks.save(marks)
        except OSError as e:
            self.errors.append(f"cannot write {self.marks.path}: {e}")
            return
        self._saved = marks


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _size(n: int) -> str:
    return f"{n / 2**20:,.4g} MiB" if n >= 2**20 else f"{n / 2**10:,.4g} KiB"


def _one_event(line: bytes, session: str, ids: set[str]) -> bool:
    """The line is an event of ``session`` with an id not seen before: the relay will number the lines one
    by one, as the recording has them."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    eid = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(eid, str) or eid in ids or obj.get("session") != session:
        return False
    ids.add(eid)
    return True


def _clean(line: bytes, session: str) -> Event:
    """A line of a clean tail (JSON, checked when scanned): the structural check the SDK's events get."""
    return wire.clean_event(orjson.loads(line), f"the recording of {session}")


def _seq(lines: list[bytes]) -> Any:
    with contextlib.suppress(orjson.JSONDecodeError, AttributeError, IndexError):
        return orjson.loads(lines[0]).get("seq")
    return None


class OwedSource:
    """The recordings read back at start, a chunk per turn of the relay's loop, then the notices; ``done``
    when finished (``serve`` takes agents only then: their new events come after these seqs)."""

    name = "recordings read back"
    agent_kind = "unknown"

    def __init__(self, tails: list[Tail], notices: list[Event], done: Callable[[], None] | None = None) -> None:
        self.tails = tails
        self.notices = notices
        self.done = done

    async def run(self, emit: Callable[[list[Event]], None]) -> None:
        try:
            for tail in self.tails:
                decode = _clean if tail.clean else decode_native_line
                for at in range(0, len(tail), CHUNK):
                    emit([decode(line, tail.session) for line in tail.lines(at, at + CHUNK)])
                    await asyncio.sleep(0)
            self.tails = []
            if self.notices:
                emit(self.notices)
        finally:
            if self.done is not None:
                self.done()
