"""The session book: every session's numbered log, the all-sessions journal, merged tool calls,
and history generations; the relay's state that other threads read, behind one lock.

Changes come from the relay's thread (``ingest``, ``install``) and take the lock
once per batch, not per event; reads (``read_range``, ``snapshots``, ``call``)
may come from any thread. Delivery reads the streams (``stream``) on the relay's
thread without the lock: the lists only grow there.

A session's log is its events as one sequence (``spill.SpillLog``): ``seq`` is the
index, so a range read is a slice and a subscriber's position is one integer. The
newest ``keep`` events per session (``keep_bytes`` at most) are the adapters' own
dicts (``seq`` and ``epoch`` set in place, no wrapper); older ones are on disk, read
back on demand, so memory stays bounded however long the relay runs: per event spilled the book keeps an
8-byte offset, ~9 bytes of id (``idset.py``) and 12 bytes of journal entry. Finished
tool calls beyond the newest ``CALLS_KEPT`` are forgotten (``call`` answers None for them).

A rebuilt history (``history.py``) is installed as a new generation, appended
after everything the session's log holds: ``seq`` stays monotonic.
"""

from __future__ import annotations

import copy
import threading
from array import array
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..protocol import CallTable, Event, ToolCall, raw_event
from ..protocol.bounds import sized
from ..protocol.calls import TOOL_KINDS
from ..protocol.kinds import ControlKind, Kind, State
from .api import Folded, SessionInfo
from .controls import SessionSources
from .history import Rebuild
from .idset import IdSet
from .names import UNKNOWN_SESSION
from .spill import DEFAULT_KEEP, DEFAULT_KEEP_BYTES, Journal, Lost, Recording, SpillLog, Spool
from .summary import Summary

if TYPE_CHECKING:
    from ..adapters.base import Backing

#: The key that the relay's own notices (a subscriber that failed) are ingested under: not a source.
RELAY_KEY = -1
#: Finished tool calls whose merged record ``call`` still answers (running and held ones are always kept).
CALLS_KEPT = 20_000

Report = Callable[[str], None]


class SessionLog:
    """One session's events, numbered and deduplicated, and its summary."""

    __slots__ = ("events", "ids", "sources", "summary")

    def __init__(self, session: str, agent_kind: str = "unknown", events: SpillLog | None = None) -> None:
        self.events = events if events is not None else SpillLog(None)
        self.ids = IdSet()
        #: key of each source that has emitted into this session -> its name.
        self.sources: dict[int, str] = {}
        self.summary = Summary(session, agent_kind)

    def append(self, ev: Event, epoch: str, size: int) -> bool:
        """Number and keep ``ev`` (``size``: its encoded bytes); False (and nothing kept) if its id was seen before."""
        eid = ev.get("id")
        if eid is not None and not self.ids.add_new(eid):
            return False
        ev["seq"] = len(self.events)
        ev["epoch"] = epoch
        self.events.append(ev, size)
        return True


_EMPTY = SpillLog(None)


@dataclass
class Snapshot:
    """One session as the book holds it (a copy), and the keys of the sources that fed it."""

    info: SessionInfo
    source_keys: list[int]


class SessionBook:
    """``keep``: events per session (and in the journal) kept in memory, ``keep_bytes`` their bytes at most;
    ``spool``: where the rest go (None: nowhere, everything stays in memory)."""

    def __init__(self, epoch: str, report: Report, *, spool: Spool | None = None, keep: int = DEFAULT_KEEP,
                 calls_kept: int = CALLS_KEPT, lost: Lost | None = None,
                 keep_bytes: int = DEFAULT_KEEP_BYTES) -> None:
        self.epoch = epoch
        self._report = report
        #: says in a session that history kept in its transcript can no longer be read (``spill.Segment``).
        self._lost = lost
        self._lock = threading.Lock()
        self._spool = spool
        self._keep = keep
        self._keep_bytes = keep_bytes
        self._calls_kept = calls_kept
        self._calls_mark = calls_kept
        self._logs: dict[str, SessionLog] = {}
        #: where sessions are recorded (``recorder.Recorder``), if they are: spilled from there, not copied.
        self.recording: Recording | None = None
        #: every event kept, all sessions, in arrival order: what an all-sessions subscriber reads.
        self._journal = Journal(self._resolve, keep, keep_bytes)
        #: session -> the seq where its current generation starts; absent: 0.
        self._history_from: dict[str, int] = {}
        #: session -> fraction of its earlier history indexed so far, while a source rebuilds it.
        self._indexing: dict[str, float] = {}
        self._calls = CallTable()

    # --- changes, on the relay's thread ------------------------------------

    def ingest(self, key: int, name: str, agent_kind: str, batch: Iterable[Event]) -> tuple[int, bool]:
        """Fit, number, dedupe and keep ``batch``, merging tool calls and summaries: how many were new, and
        whether one of them holds a call for the person (a ``tool.waiting``)."""
        epoch, calls, logs, journal = self.epoch, self._calls, self._logs, self._journal
        seen: set[str] = set()
        added = 0
        held = False
        fitted = [sized(ev) if isinstance(ev, dict) else
                  sized(raw_event(UNKNOWN_SESSION, repr(ev), "a source emitted a non-event", name)) for ev in batch]
        with self._lock:
            for ev, size in fitted:
                sid = ev.get("session") or UNKNOWN_SESSION
                lg = logs.get(sid)
                if lg is None:
                    lg = logs[sid] = self._new_log(sid, agent_kind)
                if sid not in seen:
                    seen.add(sid)
                    if key != RELAY_KEY:
                        lg.sources.setdefault(key, name)
                if not lg.append(ev, epoch, size):
                    continue
                journal.append(ev, size)
                added += 1
                try:
                    kind = ev.get("kind")
                    if kind in TOOL_KINDS:
                        calls.update(ev)  # type: ignore[arg-type]
                        held = held or kind == Kind.TOOL_WAITING
                    elif kind == Kind.CONTROL_APPLIED:
                        calls.release(ev)  # type: ignore[arg-type]
                    lg.summary.fold(ev)
                except Exception as e:
                    self._report(f"event {ev.get('id')!r} kept but not summarised: {e!r}")
            if added:
                self._spill(seen)
        return added, held

    def _new_log(self, session: str, agent_kind: str) -> SessionLog:
        spool = self._spool
        opener = spool.open if spool is not None else None
        return SessionLog(session, agent_kind, SpillLog(opener, self._keep, self._report, session, self.recording,
                                                        self._lost, self._keep_bytes))

    def _spill(self, sessions: Iterable[str]) -> None:
        """Under the lock: what is past the working set goes to disk (see ``spill.py``)."""
        logs = self._logs
        for sid in sessions:
            lg = logs.get(sid)
            if lg is not None:
                lg.events.spill()
        self._journal.spill()
        self._bound_calls()

    def _bound_calls(self) -> None:
        """Under the lock: forget the oldest finished calls past ``CALLS_KEPT`` (once it grew by a quarter)."""
        calls = self._calls
        if len(calls) > self._calls_mark + self._calls_mark // 4:
            calls.forget_final(self._calls_kept)
            self._calls_mark = max(self._calls_kept, len(calls))

    def spill_step(self, session: str, most: int) -> bool:
        """Spill at most ``most`` of ``session``'s oldest events past its working set (after a rebuild
        brought many at once, in steps so the lock is never held long); whether more are left."""
        with self._lock:
            lg = self._logs.get(session)
            if lg is None or lg.events.spill(most) < most:
                self._journal.spill()
                return False
            return True

    def _resolve(self, session: str, start: int, stop: int) -> list[Event]:
        lg = self._logs.get(session)
        return lg.events[start:stop] if lg is not None else []

    def record_to(self, recording: Recording) -> None:
        """Sessions recorded there from now on spill by forgetting (``spill.Recording``)."""
        with self._lock:
            self.recording = recording
            for lg in self._logs.values():
                if lg.events.recording is None and lg.events.base == 0:
                    lg.events.recording = recording

    def set_indexing(self, session: str, fraction: float | None) -> None:
        with self._lock:
            if fraction is None:
                self._indexing.pop(session, None)
            else:
                self._indexing[session] = fraction

    def install(self, rb: Rebuild, superseded: Collection[str]) -> tuple[int, int, int]:
        """Append ``rb`` as the session's new generation: (its first seq, the log's end, events added)."""
        sid = rb.session
        events, sizes = rb.events, rb.sizes
        with self._lock:
            lg = self._logs.get(sid)
            if lg is None:
                lg = self._logs[sid] = self._new_log(sid, rb.summary.info.agent_kind)
            lg.sources.setdefault(rb.key, rb.name)
            start = len(lg.events)
            backed = rb.count if rb.backing is not None else 0
            if rb.backing is None and (rb.base != start or rb.fresh is None):
                rb.number(start, lg.ids)  # something came in since ``prepare``: number here
            fresh = rb.fresh or []
            summary = rb.summary
            for ev in lg.events[self._history_from.get(sid, 0):]:
                eid = ev.get("id")
                if eid is not None and (eid in rb.ids or eid in superseded):
                    continue
                ev = dict(ev)  # type: ignore[assignment]
                ev["seq"] = start + backed + len(events)
                events.append(ev)
                sizes.append(sized(ev)[1])
                if eid is not None:
                    rb.ids.add(eid)
                try:
                    summary.fold(ev)
                except Exception as e:
                    self._report(f"event {eid!r} kept but not summarised: {e!r}")
            if rb.backing is not None:
                self._install_backed(lg, rb, start)
            by_id = dict(zip(map(id, events), sizes, strict=True))
            lg.events.extend(events, sizes)
            lg.ids = rb.ids
            summary.info.last_seq = len(lg.events) - 1
            lg.summary = summary
            self._journal.extend(fresh, [by_id[id(ev)] for ev in fresh])
            self._history_from[sid] = start
            self._indexing.pop(sid, None)
            end = len(lg.events)
        added = backed + len(events)
        rb.events, rb.sizes, rb.ids = [], array("I"), IdSet()
        return start, end, added

    def follow(self, session: str, agent_kind: str, backing: Backing) -> None:
        """``session``'s events from now on may be in ``backing`` (its file, followed from the start); not
        without a spool, where everything stays in memory."""
        if self._spool is None:
            return
        with self._lock:
            lg = self._logs.get(session)
            if lg is None:
                lg = self._logs[session] = self._new_log(session, agent_kind)
            lg.events.follow(backing, self.epoch)

    def _install_backed(self, lg: SessionLog, rb: Rebuild, start: int) -> None:
        """Under the lock: ``rb``'s events, kept in its backing, become seqs ``start`` … of ``lg`` read from there;
        those with ids new to the session join the journal. Without a spool they are read back into memory."""
        backing = rb.backing
        assert backing is not None
        stale = set(rb.stale)
        if self._spool is None or not lg.events.back(backing, self.epoch):
            events = backing.read(0, len(backing)) or []
            for seq, ev in enumerate(events, start):
                ev["seq"], ev["epoch"] = seq, self.epoch
            sizes = [sized(ev)[1] for ev in events]
            lg.events.extend(events, sizes)
            kept = [i for i in range(len(events)) if i not in stale]
            self._journal.extend([events[i] for i in kept], [sizes[i] for i in kept])
            return
        self._journal.extend_seqs(rb.session, (start + i for i in range(rb.count) if i not in stale))

    # --- reads, from any thread --------------------------------------------

    def merge_calls(self, events: list[Event]) -> None:
        """Merge the tool calls of ``events``; from any thread (a rebuild's worker). A 1 GB history has ~100k
        calls, each holding its input and output: the table keeps to its bound meanwhile too."""
        calls = self._calls
        with self._lock:
            for ev in events:
                if ev.get("kind") in TOOL_KINDS:
                    calls.update(ev)  # type: ignore[arg-type]
            self._bound_calls()

    def log_mark(self, session: str) -> tuple[int, IdSet]:
        """The session's log length and its set of ids (live: read it, never change it)."""
        with self._lock:
            lg = self._logs.get(session)
            return (len(lg.events), lg.ids) if lg is not None else (0, IdSet())

    def read_range(self, session: str, start: int, stop: int) -> list[Event]:
        """From any thread; what a backing holds is read after the lock is let go (``spill.SpillLog.read_later``)."""
        with self._lock:
            lg = self._logs.get(session)
            if lg is None:
                return []
            read = lg.events.read_later(max(start, 0), max(stop, 0))
        return read()

    def folded(self, session: str) -> Folded | None:
        """A copy of the session's folded state and the seqs it covers; from any thread."""
        with self._lock:
            lg = self._logs.get(session)
            if lg is None:
                return None
            return Folded(lg.summary.state.copy(), self._history_from.get(session, 0), lg.summary.info.last_seq + 1)

    def lines(self, session: str, start: int, stop: int) -> list[bytes]:
        """Events of one session as JSON lines without their newline (what a search scans); from any thread, the
        backing's read made after the lock is let go (``spill.SpillLog.read_later``)."""
        with self._lock:
            lg = self._logs.get(session)
            if lg is None:
                return []
            read = lg.events.read_later(start, stop, lines=True)
        return read()

    def length(self, session: str) -> int:
        with self._lock:
            lg = self._logs.get(session)
            return len(lg.events) if lg is not None else 0

    def stream(self, session: str | None) -> SpillLog | Journal:
        """What a subscriber reads: the session's log, or the journal (None); on the relay's thread."""
        if session is None:
            return self._journal
        lg = self._logs.get(session)
        return lg.events if lg is not None else _EMPTY

    def in_memory(self) -> int:
        """Events held as dicts across every session's working set (what ``keep`` bounds)."""
        with self._lock:
            return sum(len(lg.events.mem) for lg in self._logs.values())

    def in_memory_bytes(self) -> tuple[int, int]:
        """The encoded bytes of the biggest session's working set, and of the journal's (what ``keep_bytes``
        bounds)."""
        with self._lock:
            return max((lg.events.nbytes for lg in self._logs.values()), default=0), self._journal.nbytes

    def close(self) -> None:
        """Close the spill files (the spool itself is its owner's to remove)."""
        with self._lock:
            for lg in self._logs.values():
                lg.events.close()

    def history_from(self, session: str) -> int:
        return self._history_from.get(session, 0)

    def call(self, session: str, call_id: str) -> ToolCall | None:
        """One tool call as merged from every source of its session (a copy)."""
        with self._lock:
            c = self._calls.get(session, call_id)
            return copy.copy(c) if c is not None else None

    def sources_of(self, session: str) -> SessionSources | None:
        with self._lock:
            lg = self._logs.get(session)
            if lg is None:
                return None
            info = lg.summary.info
            caps = info.capabilities
            offered = any(caps.get(c) is True for c in ControlKind)
            return SessionSources(list(lg.sources.items()), info.agent_kind, caps.get("why"), offered,
                                  lg.summary.state.state == State.FINISHED)

    def sessions_of(self, key: int) -> list[str]:
        """The sessions the source ``key`` has emitted into."""
        with self._lock:
            return [sid for sid, lg in self._logs.items() if key in lg.sources]

    def snapshots(self, session: str | None = None) -> list[Snapshot]:
        """Copies of every session's summary (or the one ``session``'s), with their sources."""
        with self._lock:
            if session is None:
                logs = list(self._logs.values())
            else:
                one = self._logs.get(session)
                logs = [one] if one is not None else []
            return [self._snapshot(lg) for lg in logs]

    def _snapshot(self, lg: SessionLog) -> Snapshot:
        info = lg.summary.info
        sid = info.session
        return Snapshot(replace(info, capabilities=dict(info.capabilities),
                                sources=list(dict.fromkeys(lg.sources.values())),
                                indexing=self._indexing.get(sid), history_from=self._history_from.get(sid, 0)),
                        list(lg.sources))
