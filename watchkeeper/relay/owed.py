"""What an edge owes its hub: the recorded events the hub has not acknowledged, kept on disk, bounded.

An edge (``serve --upstream``) pushes its relay to a hub; the hub says, per
session, the next seq it has (``acked``). Events of hook, SDK and ACP sessions
live in their recordings (``recorder.py``), so what the edge still owes the hub
is, per session, the tail of its recording from the first unacknowledged
event: no second copy. The :class:`Ledger` keeps where each tail starts (a
byte offset) in a small marks file, written before a session's first line is
recorded and again as the hub acknowledges, so an edge that is killed finds
it on restart, reads the tails back (:func:`read_owed`), and pushes them as a
new epoch; the hub drops the repeats by event id, as ``attach`` does.

The tails together are bounded by a cap in bytes: past it the oldest owed
events go first, from the sessions that owe the most (:func:`shed`), they are
never pushed, and a ``notice`` (code ``upstream-dropped``) in that session says
which seqs and how many, on the edge and on the hub. The recordings themselves
stay (for ``replay``) under their own retention limits.

A session read from a transcript file is not here: after a restart it is read
again from its file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..protocol import Event, Kind, decode_native_line, make_event
from ..protocol.display import plural

#: Events handed to the relay at a time when owed tails are read back.
CHUNK = 2_000
CODE = "upstream-dropped"
#: Bytes read at a time when an owed tail is scanned.
_BLOCK = 2**20


@dataclass
class Tail:
    """One session's owed lines in its recording: each line's offset, and where the last ends."""

    session: str
    path: Path
    offsets: array[int]
    end: int
    #: each line is one event of its own id: the recorder takes the lines as this run's first seqs.
    clean: bool = True

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


class Marks:
    """The marks file: per session, its recording's name and the byte offset its owed tail starts at."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, int]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        sessions = data.get("sessions") if isinstance(data, dict) else None
        if not isinstance(sessions, dict):
            return {}
        return {str(sid): at for sid, at in sessions.items() if isinstance(at, int) and at >= 0}

    def save(self, marks: dict[str, int]) -> None:
        """Atomically (a new file renamed over the old), 0600; not synced: it outlives the process, as the
        recordings it points into do, not the machine."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, orjson.dumps({"version": 1, "sessions": marks}))
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


def read_owed(recording: Path, session: str, start: int) -> Tail | None:
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
                    clean = clean and _one_event(line, ids)
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
    """The edge's account of what it owes the hub, per recorded session of this run.

    ``recorder`` is the relay's :class:`~watchkeeper.relay.recorder.Recorder` (its ``offset``, ``end``,
    ``path`` and ``adopt``); call :meth:`opened` when it begins a session's lines, :meth:`ack` with the
    hub's acknowledgements, and :meth:`tick` now and then: it applies the cap and writes the marks.
    """

    def __init__(self, marks: Marks, recorder: Any, cap: int) -> None:
        self.marks = marks
        self.recorder = recorder
        self.cap = cap
        #: per session: the hub's next seq (this run), and the first seq still pushed (past a drop).
        self.acked: dict[str, int] = {}
        self.first: dict[str, int] = {}
        #: per session recorded in this run: the byte offset of its first line in this run.
        self._begun: dict[str, int] = {}
        self._saved: dict[str, int] | None = None
        self.errors: list[str] = []

    # --- the restart: read back what the previous run owed ---------------------------------

    def recover(self) -> tuple[list[Tail], list[Event]]:
        """The owed tails of the previous run, adopted by the recorder, capped; and the drop notices."""
        tails, notices = [], []
        for sid, start in self.marks.load().items():
            tail = read_owed(self.recorder.path(sid), sid, start)
            if tail is None:
                notices.append(gone_notice(sid, self.recorder.path(sid)))
            elif len(tail):
                tails.append(tail)
        cut = shed({t.session: (t.offsets, 0, len(t.offsets), t.end) for t in tails}, self.cap)
        for t in tails:
            k = cut.get(t.session, 0)
            if k:
                first, last = _seq(t.lines(0, 1)), _seq(t.lines(k - 1, k))
                notices.append(dropped_notice(t.session, k, first, last, self.cap, " of the edge's previous run"))
                t.offsets = t.offsets[k:]
            if len(t) and t.clean:
                self.recorder.adopt(t.session, array("q", t.offsets), t.end)
                self._begun[t.session] = t.offsets[0]
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
        """The hub has every event of these sessions below these seqs."""
        for sid, seq in positions.items():
            if seq > self.acked.get(sid, 0):
                self.acked[sid] = seq

    def oldest(self, session: str) -> int:
        """The first seq of ``session`` pushed to the hub (those before it were dropped by the cap)."""
        return self.first.get(session, 0)

    def owed_from(self, session: str) -> int:
        return max(self.acked.get(session, 0), self.first.get(session, 0))

    def tick(self) -> list[Event]:
        """Apply the cap (the notices of what it dropped) and save the marks if they moved."""
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

    def current(self) -> dict[str, int]:
        out = {}
        for sid, begun in self._begun.items():
            at = self.recorder.offset(sid, self.owed_from(sid))
            out[sid] = begun if at is None else at
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


def _size(n: int) -> str:
    return f"{n / 2**20:,.4g} MiB" if n >= 2**20 else f"{n / 2**10:,.4g} KiB"


def _one_event(line: bytes, ids: set[str]) -> bool:
    """The line is an event of an id not seen before: the relay will number the lines one by one, as the
    recording has them."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    eid = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(eid, str) or eid in ids or not isinstance(obj.get("session"), str):
        return False
    ids.add(eid)
    return True


def _seq(lines: list[bytes]) -> Any:
    with contextlib.suppress(orjson.JSONDecodeError, AttributeError, IndexError):
        return orjson.loads(lines[0]).get("seq")
    return None


class OwedSource:
    """The owed tails, read back at start, a chunk per turn of the relay's loop, then the notices; ``done``
    when finished (``serve`` takes agents only then: their new events come after these seqs)."""

    name = "owed to the hub"
    agent_kind = "unknown"

    def __init__(self, tails: list[Tail], notices: list[Event], done: Callable[[], None] | None = None) -> None:
        self.tails = tails
        self.notices = notices
        self.done = done

    async def run(self, emit: Callable[[list[Event]], None]) -> None:
        try:
            for tail in self.tails:
                for at in range(0, len(tail), CHUNK):
                    emit([decode_native_line(line, tail.session) for line in tail.lines(at, at + CHUNK)])
                    await asyncio.sleep(0)
            self.tails = []
            if self.notices:
                emit(self.notices)
        finally:
            if self.done is not None:
                self.done()
