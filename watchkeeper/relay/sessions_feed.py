"""The sessions feed: the relay's session list, and the watchers told (throttled) when it changes.

Each entry is a copy of a session's summary from the book (``book.py``), made live
by the sources that feed it: live while a running source has the session, unless
that source says otherwise (a remote relay knows whether its agent is still
there). A source's ``session_status`` is its own code, so it is asked outside the
book's lock: a slow or locking one cannot stall ingest.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from ..protocol.kinds import State
from .api import SessionInfo
from .book import SessionBook, Snapshot
from .fanout import SessionsWatch

#: A source's own word on one of its sessions: (live, state or None), or None if it has none.
SessionStatus = Callable[[str], tuple[bool, str | None] | None]
#: Runs a function on the relay's loop, from any thread (``quiet``: not an error once stopped).
CallSoon = Callable[..., None]


class SessionsFeed:
    def __init__(self, loop: asyncio.AbstractEventLoop, book: SessionBook, call: CallSoon, *,
                 interval: float, report: Callable[[str, BaseException | None], None]) -> None:
        self.interval = interval
        self._loop = loop
        self._book = book
        self._call = call
        self._report = report
        #: running sources (by key), with their own word on their sessions' status if they have one.
        self._sources_lock = threading.Lock()
        self._running: dict[int, SessionStatus | None] = {}
        self._watches: list[SessionsWatch] = []
        self._handle: asyncio.Handle | None = None
        self._last = float("-inf")

    # --- sources -------------------------------------------------------------

    def source_started(self, key: int, status: SessionStatus | None) -> None:
        with self._sources_lock:
            self._running[key] = status

    def source_stopped(self, key: int) -> None:
        with self._sources_lock:
            self._running.pop(key, None)
        self.changed()

    # --- the list ------------------------------------------------------------

    def sessions(self) -> list[SessionInfo]:
        """A snapshot: those needing attention first, then live ones, then by last activity."""
        infos = self._live(self._book.snapshots())
        infos.sort(key=lambda i: i.last_ts or "", reverse=True)
        infos.sort(key=lambda i: (not i.needs_attention, not i.live))
        return infos

    def session(self, session: str) -> SessionInfo | None:
        infos = self._live(self._book.snapshots(session))
        return infos[0] if infos else None

    def _live(self, snapshots: list[Snapshot]) -> list[SessionInfo]:
        with self._sources_lock:
            running = dict(self._running)
        for snap in snapshots:
            info = snap.info
            info.live, info.state = _liveness(snap.source_keys, running, info.session, info.state)
        return [snap.info for snap in snapshots]

    # --- watchers --------------------------------------------------------------

    def watch(self, callback: Callable[[list[SessionInfo]], None]) -> SessionsWatch:
        """``callback(sessions())`` soon, then on every change, at most every ``interval``."""
        watch = SessionsWatch(callback, lambda w: self._call(self._unwatch, w, quiet=True))

        def attach() -> None:
            if not watch.closed:
                self._watches.append(watch)
                self.changed()

        self._call(attach)
        return watch

    def _unwatch(self, watch: SessionsWatch) -> None:
        if watch in self._watches:
            self._watches.remove(watch)

    def changed(self) -> None:
        """The list may have changed: tell the watchers, throttled; on the relay's loop."""
        if self._handle is not None or not self._watches:
            return
        delay = self._last + self.interval - self._loop.time()
        self._handle = self._loop.call_later(max(delay, 0.0), self._notify)

    def flush(self) -> None:
        """Tell the watchers now of a change still pending (stopping)."""
        if self._handle is not None:
            self._handle.cancel()
            self._notify()

    def _notify(self) -> None:
        self._handle = None
        self._last = self._loop.time()
        infos = self.sessions()
        for watch in list(self._watches):
            if watch.closed:
                continue
            try:
                watch.callback(list(infos))
            except Exception as e:
                self._report(f"sessions callback {watch.callback!r} raised {e!r}; unsubscribed", e)
                watch.close()


def _liveness(keys: list[int], running: dict[int, SessionStatus | None], sid: str,
              state: str) -> tuple[bool, str]:
    """Live while a running source has the session, unless that source says otherwise; such a
    source's state wins too."""
    live = False
    for k in keys:
        if k not in running:
            continue
        status = running[k]
        said = status(sid) if status is not None else None
        if said is None:
            live = True
        else:
            live = live or said[0]
            state = said[1] or state
    return live and state != State.FINISHED, state
