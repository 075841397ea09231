"""A stretch of a session's log kept by its source, not by the relay: read back on demand, checked.

The rebuilt history becomes one segment (``Segmented.back``); events the file's feed
emits afterwards (``Backing.keep`` as it follows the file) become more segments when
they leave the working set, instead of going to the spill file (``Segmented._back_run``);
events of other sources between them still do.

A rebuilt history whose source can read it again (a transcript: ``adapters.base.Backing``)
is not written to the spill files: ``spill.SpillLog.back`` makes its seqs a segment, read
from the backing, which checks the file is still the one indexed. If it is not, each of the
segment's seqs is answered by a notice that says so (so every seq is still answered, in
order), and the session is told once (``lost``); what the relay kept in memory stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from ..adapters.base import event_key
from ..protocol import Event, Kind, make_event

if TYPE_CHECKING:
    from ..adapters.base import Backing

#: ``lost(session, text)``: say in the session that part of its history can no longer be read.
Lost = Callable[[str, str], None]


#: Entries of a backing skipped, at most, to find the next event spilled: the relay drops repeats by id,
#: which the source kept all the same.
LOOKAHEAD = 16


class Segment:
    """Seqs ``start`` … ``stop - 1`` of a log, read from a backing (from its entry ``first`` on), numbered in
    ``epoch``."""

    __slots__ = ("backing", "epoch", "first", "start", "stop", "told")

    def __init__(self, start: int, stop: int, backing: Backing, epoch: str, first: int = 0,
                 told: list[bool] | None = None) -> None:
        self.start, self.stop, self.backing, self.epoch, self.first = start, stop, backing, epoch, first
        #: whether the session was told this backing cannot be read: shared by its segments, told once.
        self.told = told if told is not None else [False]

    def read(self, start: int, stop: int, session: str, report: Callable[[str], None] | None,
             lost: Lost | None) -> list[Event]:
        """Seqs ``start`` … ``stop - 1`` (within the segment), numbered; stand-ins for any it cannot read."""
        first = self.first - self.start
        events = self.backing.read(first + start, first + stop)
        if events is None or len(events) != stop - start:
            events = self._unreadable(start, stop, session, report, lost)
        epoch = self.epoch
        for seq, ev in enumerate(events, start):
            ev["seq"] = seq
            ev["epoch"] = epoch
        return events

    def _unreadable(self, start: int, stop: int, session: str, report: Callable[[str], None] | None,
                    lost: Lost | None) -> list[Event]:
        why = self.backing.problem or "its source cannot be read again"
        if not self.told[0]:
            self.told[0] = True
            text = (f"Events of this session kept in its transcript (from seq {self.start} on, between others) can "
                    f"no longer be read back: {why}. Each is answered by a notice saying so; the events still in "
                    "memory are as they were.")
            if report is not None:
                report(f"session {session}: {text}")
            if lost is not None:
                lost(session, text)
        data = {"level": "warning", "code": "history-unavailable",
                "text": f"This event can no longer be read back from the transcript: {why}."}
        return [make_event(f"lost:{session}:{seq}", session, Kind.NOTICE, dict(data)) for seq in range(start, stop)]


def backed_run(backing: Backing, next_entry: int, events: list[Event]) -> tuple[int, int, int]:
    """How many of ``events`` (from the first) are the backing's next entries, as the source kept them
    (``adapters.base.Backing.keep``, a file followed after its history was indexed): (that many, the entry
    the first of them is, the entry after the last). Events of other sources end the run."""
    hashes = backing.hashes
    end = len(hashes)
    first = -1
    k = 0
    for ev in events:
        if next_entry >= end:
            break
        h = event_key(ev)
        if hashes[next_entry] != h:
            ahead = next((j for j in range(next_entry + 1, min(next_entry + LOOKAHEAD, end)) if hashes[j] == h), -1)
            if ahead < 0 or k:
                break
            next_entry = ahead
        if first < 0:
            first = next_entry
        next_entry += 1
        k += 1
    return k, first, next_entry


class Segmented:
    """What ``spill.SpillLog`` does with segments: a mixin over its fields (``segments``, ``base``, ``mem``,
    ``_backed``, ``_next_entry``; ``_plain`` and ``_segment`` read one piece)."""

    segments: list[Segment]
    mem: list[Event]
    base: int
    _backed: int
    _next_entry: int

    def spill(self, most: int | None = None, everything: bool = False) -> int:
        raise NotImplementedError

    def _plain(self, start: int, stop: int, below: int, lines: bool) -> list[Any]:
        raise NotImplementedError

    def _segment(self, seg: Segment, start: int, stop: int, lines: bool) -> list[Any]:
        raise NotImplementedError

    def back(self, backing: Backing, epoch: str) -> bool:
        """Append ``len(backing)`` seqs read from ``backing`` (numbered in ``epoch``) as spilled history;
        False (nothing changed) if what is in memory cannot go to disk first (no spool, or it failed)."""
        if self.mem and self.spill(everything=True) == 0:
            return False
        n = len(backing)
        self.segments.append(Segment(self.base, self.base + n, backing, epoch))
        self.base += n
        self._backed += n
        self._next_entry = n
        return True

    def follow(self, backing: Backing, epoch: str) -> None:
        """Events from now on may be ``backing``'s entries from its first: a segment of none, for spills to
        extend (``_back_run``)."""
        self.segments.append(Segment(self.base, self.base, backing, epoch))
        self._next_entry = 0

    def _back_run(self, events: list[Event], i: int, n: int) -> int:
        """How many of ``events[i:n]`` the last segment's backing holds next: they join a segment."""
        if not self.segments:
            return 0
        last = self.segments[-1]
        k, first, self._next_entry = backed_run(last.backing, self._next_entry, events[i:n])
        if not k:
            return 0
        if last.stop == self.base and last.first + (last.stop - last.start) == first:
            last.stop += k
        else:
            self.segments.append(Segment(self.base, self.base + k, last.backing, events[i].get("epoch", ""), first,
                                         last.told))
        self.base += k
        self._backed += k
        return k

    def _starts_run(self, ev: Event) -> bool:
        return bool(self.segments) and backed_run(self.segments[-1].backing, self._next_entry, [ev])[0] > 0

    def _spilled(self, start: int, stop: int, lines: bool) -> list[Any]:
        """Spilled seqs ``start <= seq < stop`` as events, or as JSON lines (``lines``)."""
        return joined(self._pieces(start, stop, lines))

    def _pieces(self, start: int, stop: int, lines: bool) -> list[Piece]:
        """:meth:`_spilled` in pieces, in seq order: those of the spill file and the recording read now, each
        segment's a call still to make (its backing converts the transcript again: see ``joined``)."""
        out: list[Piece] = []
        i = start
        below = 0
        for seg in self.segments:
            if seg.stop <= i:
                below += seg.stop - seg.start
                continue
            if seg.start >= stop:
                break
            if i < seg.start:
                out.append(self._plain(i, seg.start, below, lines))
                i = seg.start
            j = min(stop, seg.stop)
            out.append(partial(self._segment, seg, i, j, lines))
            below += seg.stop - seg.start
            i = j
        if i < stop:
            out.append(self._plain(i, stop, below, lines))
        return out


#: Part of a read: what was read already, or the call that reads it.
Piece = list[Any] | Callable[[], list[Any]]


def joined(pieces: list[Piece]) -> list[Any]:
    """The pieces of a read in order, the calls among them made now: a caller holding the relay's book lock
    makes them only once it let go (``book.SessionBook.read_range``), since converting a transcript again
    takes seconds near the end of a huge one and every ingest waits on that lock."""
    if len(pieces) == 1 and isinstance(pieces[0], list):
        return pieces[0]
    out: list[Any] = []
    for piece in pieces:
        out += piece if isinstance(piece, list) else piece()
    return out
