"""Installing a session's rebuilt history as a new generation (see ``history.py``), for the relay.

A mixin of :class:`~watchkeeper.relay.hub.Relay`, kept apart so the hub reads
as the ordinary path (ingest, deliver) and this as the one exception to it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from ..protocol import CallTable, Event, ToolCall
from ..protocol.calls import TOOL_KINDS
from .fanout import Subscription
from .store import SessionLog

if TYPE_CHECKING:
    from .history import Rebuild


class Generations:
    _lock: threading.Lock
    _logs: dict[str, SessionLog]
    _journal: list[Event]
    _history_from: dict[str, int]
    _indexing: dict[str, float]
    _calls: CallTable
    _subs: list[Subscription]
    _pending: int
    _loop: asyncio.AbstractEventLoop

    if TYPE_CHECKING:  # provided by the Relay

        def _ingest(self, key: int, name: str, agent_kind: str, batch: Iterable[Event]) -> None:
            ...

        def _schedule_flush(self, soon: bool = False) -> None:
            ...

        def _sessions_changed(self) -> None:
            ...

        def _report(self, message: str, exc: BaseException | None = None) -> None:
            ...

    def merge_calls(self, events: list[Event]) -> list[ToolCall | None]:
        """Each event's merged tool call (None for other kinds); from any thread."""
        calls = self._calls
        with self._lock:
            return [calls.update(ev) if ev.get("kind") in TOOL_KINDS else None  # type: ignore[arg-type]
                    for ev in events]

    def _set_indexing(self, session: str, fraction: float | None) -> None:
        with self._lock:
            if fraction is None:
                self._indexing.pop(session, None)
            else:
                self._indexing[session] = fraction
        self._sessions_changed()

    def _log_mark(self, session: str) -> tuple[int, set[str]]:
        """The session's log length and its set of ids (live: read it, never change it)."""
        with self._lock:
            lg = self._logs.get(session)
            return (len(lg.events), lg.ids) if lg is not None else (0, set())

    def _install_history(self, rb: Rebuild, superseded: Collection[str]) -> None:
        """Append ``rb`` as the session's new generation; on the relay's loop."""
        sid = rb.session
        events = rb.events
        with self._lock:
            lg = self._logs.get(sid)
            if lg is None:
                lg = self._logs[sid] = SessionLog(sid, rb.summary.info.agent_kind)
            lg.sources.setdefault(rb.key, rb.name)
            start = len(lg.events)
            if rb.base != start or rb.fresh is None:
                rb.number(start, lg.ids)  # something came in since ``prepare``: number here
            fresh = rb.fresh or []
            summary = rb.summary
            for ev in lg.events[self._history_from.get(sid, 0):]:
                eid = ev.get("id")
                if eid is not None and (eid in rb.ids or eid in superseded):
                    continue
                ev = dict(ev)  # type: ignore[assignment]
                ev["seq"] = start + len(events)
                events.append(ev)
                if eid is not None:
                    rb.ids.add(eid)
                try:
                    summary.fold(ev)
                except Exception as e:
                    self._report(f"event {eid!r} kept but not summarised: {e!r}")
            lg.events.extend(events)
            lg.ids = rb.ids
            summary.info.last_seq = len(lg.events) - 1
            lg.summary = summary
            self._journal.extend(fresh)
            self._history_from[sid] = start
            self._indexing.pop(sid, None)
            end = len(lg.events)
        rb.events, rb.ids = [], set()
        for sub in list(self._subs):
            if sub.session == sid and sub.on_resync is not None and not sub.closed:
                sub.cursor = max(sub.cursor, start)
                try:
                    sub.on_resync(sid, start, end)
                except Exception as e:
                    self._report(f"subscriber {sub.on_resync!r} raised {e!r} on resync; unsubscribed", exc=e)
                    sub.close()
        self._pending += len(events)
        self._schedule_flush(soon=True)
        self._sessions_changed()
        if rb.others:
            self._ingest(rb.key, rb.name, rb.summary.info.agent_kind, rb.others)
