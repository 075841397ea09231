"""The attach side's bookkeeping: every remote event exactly once, in seq order per session. Pure.

Frames from ``serve`` in, events to re-emit and messages to send back out.
Per session the tracker keeps the next ``seq`` it expects; an event past it
waits while the gap is read back with a range read, and an event before it is
a repeat and is dropped. A reconnect resumes from those seqs; a new epoch
(the relay restarted) starts over from nothing, and the local relay drops the
repeats by id. Events the server folded into one (``coalesced``) count as
seen, and their ids are remembered so a later full resync cannot count them
twice. A gap the server no longer holds becomes a visible notice, "N events
missed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ...protocol import Event, Kind, make_event
from ...protocol.display import plural
from ...protocol.wire import RANGE_MAX

Out = tuple[list[Event], list[dict[str, Any]]]


@dataclass
class _Session:
    next: int = 0
    pending: dict[int, Event] = field(default_factory=dict)
    #: seqs past ``next`` already accounted for (folded into a coalesced event).
    skip: set[int] = field(default_factory=set)
    #: the server dropped this session's live events (we fell behind): read ranges, then follow again.
    resync: bool = False
    #: start of the range read in flight, if any.
    asking: int | None = None


class Tracker:
    """One remote relay's sessions as this side has them; ``server`` names it in notices."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.epoch: str | None = None
        self.sessions: dict[str, _Session] = {}
        self.absorbed: set[str] = set()
        self._req = 0
        #: counts, for the status line and the tests.
        self.stats = {"events": 0, "coalesced": 0, "repeats": 0, "missed": 0, "resyncs": 0, "ranges": 0}

    def known(self, session: str) -> bool:
        return session in self.sessions

    def connected(self, epoch: str) -> dict[str, Any]:
        """A (re)connection said hello with ``epoch``: the subscribe message to send."""
        if epoch != self.epoch:
            self.epoch = epoch
            self.sessions.clear()
        for s in self.sessions.values():
            s.pending.clear()
            s.skip.clear()
            s.resync = False
            s.asking = None
        return {"t": "subscribe", "epoch": epoch, "from": {sid: s.next for sid, s in self.sessions.items()}}

    # --- frames in ---------------------------------------------------------------------

    def events(self, events: list[Event], coalesced: dict[str, list[list[Any]]] | None = None) -> Out:
        """A live ``events`` frame; fields of the wrong type are passed over (the relay keeps what it can)."""
        if isinstance(coalesced, dict):
            for sid, marks in coalesced.items():
                if not isinstance(sid, str) or not isinstance(marks, list):
                    continue
                s = self._session(sid)
                for mark in marks:
                    if isinstance(mark, list) and len(mark) == 2:
                        seq, eid = mark
                        self.absorbed.add(str(eid))
                        if isinstance(seq, int) and seq >= s.next and seq not in s.skip:
                            s.skip.add(seq)
                            self.stats["coalesced"] += 1
        ready: list[Event] = []
        touched: set[str] = set()
        sessions, absorbed, fast = self.sessions, self.absorbed, 0
        for ev in events:
            if not _numbered(ev) or not isinstance(sid := ev.get("session"), str):
                continue
            s = sessions.get(sid) or self._session(sid)
            if ev["seq"] == s.next and not s.pending and not s.skip and _id(ev) not in absorbed:
                ready.append(ev)
                s.next += 1
                fast += 1
            else:
                self._accept(s, ev, ready)
                touched.add(sid)
        self.stats["events"] += fast
        return ready, self._gaps(touched)

    def resync(self, session: str, from_seq: int) -> Out:
        """The server fell behind for us and dropped ``session`` from ``from_seq`` on: read it back."""
        s = self._session(session)
        s.resync = True
        self.stats["resyncs"] += 1
        return [], self._gaps({session})

    def range(self, msg: dict[str, Any]) -> Out:
        """A range reply: what we asked for, from ``start``; ``first`` is the oldest seq the server holds."""
        sid = msg.get("session")
        start, first, end = msg.get("start"), msg.get("first"), msg.get("end")
        if not isinstance(sid, str) or sid not in self.sessions or not isinstance(start, int):
            return [], []
        s = self.sessions[sid]
        if s.asking != start:
            return [], []
        s.asking = None
        ready: list[Event] = []
        got = msg.get("events")
        events: list[Event] = [e for e in got if _numbered(e)] if isinstance(got, list) else []
        if isinstance(first, int) and s.next < first:
            self._missed(sid, s, first, ready)
        for ev in events:
            self._accept(s, ev, ready)
        if not events and s.pending and s.next < min(s.pending):
            self._missed(sid, s, min(s.pending), ready)
        out: list[dict[str, Any]] = []
        if s.resync and (not events or (isinstance(end, int) and s.next >= end)):
            s.resync = False
            out.append({"t": "subscribe", "epoch": self.epoch, "from": {sid: s.next}})
        return ready, out + self._gaps({sid})

    # --- plumbing ----------------------------------------------------------------------

    def _session(self, sid: str) -> _Session:
        s = self.sessions.get(sid)
        if s is None:
            s = self.sessions[sid] = _Session()
        return s

    def _accept(self, s: _Session, ev: Event, ready: list[Event]) -> None:
        seq = ev["seq"]
        if seq < s.next or seq in s.pending:
            self.stats["repeats"] += 1
            return
        if _id(ev) in self.absorbed:
            s.skip.add(seq)
        else:
            s.pending[seq] = ev
        self._advance(s, ready)

    def _advance(self, s: _Session, ready: list[Event]) -> None:
        while True:
            ev = s.pending.pop(s.next, None)
            if ev is not None:
                ready.append(ev)
                self.stats["events"] += 1
            elif s.next in s.skip:
                s.skip.discard(s.next)
            else:
                return
            s.next += 1

    def _missed(self, sid: str, s: _Session, upto: int, ready: list[Event]) -> None:
        # Counted, not walked: a peer may name a seq a quadrillion ahead.
        count = upto - s.next - sum(1 for q in s.skip if s.next <= q < upto)
        if count:
            self.stats["missed"] += count
            text = f"{plural(count, 'event')} missed: {self.server} no longer holds seq {s.next}–{upto - 1}"
            notice = make_event(f"remote:{self.epoch}:{sid}:missed:{s.next}-{upto}", sid, Kind.NOTICE,
                                {"level": "warning", "text": text, "code": "events-missed", "missed": count})
            ready.append(notice)
        s.skip = {q for q in s.skip if q >= upto}
        s.next = upto
        self._advance(s, ready)

    def _gaps(self, sids: set[str]) -> list[dict[str, Any]]:
        """Range reads for the sessions that have a hole (or are resyncing) and none in flight."""
        out = []
        for sid in sids:
            s = self.sessions[sid]
            if s.asking is not None:
                continue
            if s.pending:
                stop = min(s.pending)
            elif s.resync:
                stop = s.next + RANGE_MAX
            else:
                continue
            self._req += 1
            s.asking = s.next
            self.stats["ranges"] += 1
            out.append({"t": "range", "id": f"r{self._req}", "session": sid, "start": s.next, "stop": stop})
        return out


def _numbered(ev: Any) -> TypeGuard[Event]:
    return isinstance(ev, dict) and type(ev.get("seq")) is int


def _id(ev: Event) -> str | None:
    """The event's id when it is one (a peer's odd value is not one of the ids seen folded)."""
    eid = ev.get("id")
    return eid if isinstance(eid, str) else None
