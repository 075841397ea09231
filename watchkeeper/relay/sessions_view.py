"""The relay's session list: snapshots of each session's summary, and watchers told of changes.

A mixin of :class:`~watchkeeper.relay.hub.Relay`; everything here reads what
ingesting keeps current (``summary.py``) and never changes an event.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..protocol import CallTable, ToolCall
from ..protocol.kinds import State
from .api import SessionInfo
from .fanout import SessionsWatch
from .sessionlog import SessionLog

#: A source's own word on one of its sessions: (live, state or None), or None if it has none.
SessionStatus = Callable[[str], tuple[bool, str | None] | None]


class SessionsView:
    _lock: threading.Lock
    _logs: dict[str, SessionLog]
    _running: dict[int, str]
    _status: dict[int, SessionStatus]
    _history_from: dict[str, int]
    _indexing: dict[str, float]
    _calls: CallTable
    _watches: list[SessionsWatch]
    _sessions_handle: asyncio.Handle | None
    _last_sessions: float
    _loop: asyncio.AbstractEventLoop
    sessions_interval: float

    if TYPE_CHECKING:  # provided by the Relay

        def _call(self, fn: Callable[..., Any], *args: Any, quiet: bool = False) -> None:
            ...

        def _report(self, message: str, exc: BaseException | None = None) -> None:
            ...

    def sessions(self) -> list[SessionInfo]:
        """A snapshot: those needing attention first, then live ones, then by last activity."""
        with self._lock:
            infos = [self._snapshot(lg) for lg in self._logs.values()]
        infos.sort(key=lambda i: i.last_ts or "", reverse=True)
        infos.sort(key=lambda i: (not i.needs_attention, not i.live))
        return infos

    def session(self, session: str) -> SessionInfo | None:
        with self._lock:
            lg = self._logs.get(session)
            return self._snapshot(lg) if lg is not None else None

    def _snapshot(self, lg: SessionLog) -> SessionInfo:
        info = lg.summary.info
        sid = info.session
        live, state = self._liveness(lg, sid, info.state)
        return replace(info, live=live, state=state, capabilities=dict(info.capabilities),
                       sources=list(dict.fromkeys(lg.sources.values())),
                       indexing=self._indexing.get(sid), history_from=self._history_from.get(sid, 0))

    def _liveness(self, lg: SessionLog, sid: str, state: str) -> tuple[bool, str]:
        """Live while a running source has the session, unless that source says otherwise (a remote
        relay knows whether its agent is still there); such a source's state wins too."""
        live = False
        for k in lg.sources:
            if k not in self._running:
                continue
            status = self._status.get(k)
            said = status(sid) if status is not None else None
            if said is None:
                live = True
            else:
                live = live or said[0]
                state = said[1] or state
        return live and state != State.FINISHED, state

    def call(self, session: str, call_id: str) -> ToolCall | None:
        """One tool call as merged from every source of its session (a copy)."""
        with self._lock:
            c = self._calls.get(session, call_id)
            return copy.copy(c) if c is not None else None

    def on_sessions(self, callback: Callable[[list[SessionInfo]], None]) -> SessionsWatch:
        """``callback(sessions())`` soon, then on every change, at most every ``sessions_interval``."""
        watch = SessionsWatch(callback, lambda w: self._call(
            lambda: self._watches.remove(w) if w in self._watches else None, quiet=True))

        def attach() -> None:
            if not watch.closed:
                self._watches.append(watch)
                self._sessions_changed()

        self._call(attach)
        return watch

    def _sessions_changed(self) -> None:
        if self._sessions_handle is not None or not self._watches:
            return
        delay = self._last_sessions + self.sessions_interval - self._loop.time()
        self._sessions_handle = self._loop.call_later(max(delay, 0.0), self._notify_sessions)

    def _notify_sessions(self) -> None:
        self._sessions_handle = None
        self._last_sessions = self._loop.time()
        infos = self.sessions()
        for watch in list(self._watches):
            if watch.closed:
                continue
            try:
                watch.callback(list(infos))
            except Exception as e:
                self._report(f"sessions callback {watch.callback!r} raised {e!r}; unsubscribed", exc=e)
                watch.close()
