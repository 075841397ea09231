"""A stretch of a session's log kept by its source, not by the relay: read back on demand, checked.

A rebuilt history whose source can read it again (a transcript: ``adapters.base.Backing``)
is not written to the spill files: ``spill.SpillLog.back`` makes its seqs a segment, read
from the backing, which checks the file is still the one indexed. If it is not, each of the
segment's seqs is answered by a notice that says so (so every seq is still answered, in
order), and the session is told once (``lost``); what the relay kept in memory stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..protocol import Event, Kind, make_event

if TYPE_CHECKING:
    from ..adapters.base import Backing

#: ``lost(session, text)``: say in the session that part of its history can no longer be read.
Lost = Callable[[str, str], None]


class Segment:
    """Seqs ``start`` … ``stop - 1`` of a log, read from a backing, numbered in ``epoch``."""

    __slots__ = ("backing", "epoch", "start", "stop", "told")

    def __init__(self, start: int, stop: int, backing: Backing, epoch: str) -> None:
        self.start, self.stop, self.backing, self.epoch = start, stop, backing, epoch
        self.told = False

    def read(self, start: int, stop: int, session: str, report: Callable[[str], None] | None,
             lost: Lost | None) -> list[Event]:
        """Seqs ``start`` … ``stop - 1`` (within the segment), numbered; stand-ins for any it cannot read."""
        events = self.backing.read(start - self.start, stop - self.start)
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
        if not self.told:
            self.told = True
            text = (f"Events {self.start}–{self.stop - 1} of this session were kept in its transcript, which can "
                    f"no longer be read back: {why}. Only the events still in memory are shown as they were.")
            if report is not None:
                report(f"session {session}: {text}")
            if lost is not None:
                lost(session, text)
        data = {"level": "warning", "code": "history-unavailable",
                "text": f"This event can no longer be read back from the transcript: {why}."}
        return [make_event(f"lost:{session}:{seq}", session, Kind.NOTICE, dict(data)) for seq in range(start, stop)]
