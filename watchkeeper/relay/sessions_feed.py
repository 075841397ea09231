"""The sessions feed: the relay's session list, and the watchers told (throttled) when it changes.

Each entry is a copy of a session's summary from the book (``book.py``), judged
by the time rules of ``protocol.activity``: followed while a running source has
the session; live if written to lately or if a source says its channel to the
agent is open (a hook session, an SDK link, a remote relay's word); a source
that follows other relays also says where each session comes from (its
``origin``: a hub's edge, or the remote relay). A source's ``session_status``
and ``session_origin`` are its own code, so they are asked outside the book's
lock: a slow or locking one cannot stall ingest. As time passes with no write a session
turns from live to quiet to idle, so the watchers are told at those moments too.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from ..protocol.activity import Clock, judge, next_change
from ..protocol.origin import Origin
from .api import SessionInfo
from .book import SessionBook, Snapshot
from .fanout import SessionsWatch

#: A source's own word on one of its sessions: (live, state or None), or None if it has none.
SessionStatus = Callable[[str], tuple[bool, str | None] | None]
#: A source's word on where one of its sessions comes from (``OriginSource``), or None.
SessionOrigin = Callable[[str], Origin | None]
#: Runs a function on the relay's loop, from any thread (``quiet``: not an error once stopped).
CallSoon = Callable[..., None]


class SessionsFeed:
    def __init__(self, loop: asyncio.AbstractEventLoop, book: SessionBook, call: CallSoon, *,
                 interval: float, report: Callable[[str, BaseException | None], None],
                 clock: Clock = time.time) -> None:
        self.interval = interval
        self.clock = clock
        self._loop = loop
        self._book = book
        self._call = call
        self._report = report
        #: running sources (by key), with their own word on their sessions' status if they have one.
        self._sources_lock = threading.Lock()
        self._running: dict[int, SessionStatus | None] = {}
        #: sources that know where their sessions come from; kept once stopped, as their sessions are.
        self._origins: dict[int, SessionOrigin] = {}
        self._watches: list[SessionsWatch] = []
        self._handle: asyncio.Handle | None = None
        #: the next moment (loop time) a session's activity changes by itself, while watched.
        self._tick: asyncio.TimerHandle | None = None
        self._last = float("-inf")

    # --- sources -------------------------------------------------------------

    def source_started(self, key: int, status: SessionStatus | None, origin: SessionOrigin | None = None) -> None:
        with self._sources_lock:
            self._running[key] = status
            if origin is not None:
                self._origins[key] = origin

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
            origins = dict(self._origins)
        now = self.clock()
        for snap in snapshots:
            info = snap.info
            if origins:
                info.origin = _origin(snap.source_keys, origins, info.session)
            info.followed, info.channel, state = _channels(snap.source_keys, running, info.session, info.state)
            activity = judge(state, info.last_ts, now, channel=info.channel, followed=info.followed)
            info.live, info.state = activity.live, activity.state
            if info.origin is not None and not info.origin.connected:
                # Its edge holds (or has settled, by its policy) these calls; nobody here can decide them now.
                info.needs_attention, info.held = False, ()
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
        self._tick_at(infos)
        for watch in list(self._watches):
            if watch.closed:
                continue
            try:
                watch.callback(list(infos))
            except Exception as e:
                self._report(f"sessions callback {watch.callback!r} raised {e!r}; unsubscribed", e)
                watch.close()

    def _tick_at(self, infos: list[SessionInfo]) -> None:
        """Tell the watchers again when a followed, quiet session turns quiet or idle by itself."""
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        if not self._watches:
            return
        now = self.clock()
        waits = [w for i in infos if i.followed and not i.channel
                 if (w := next_change(i.last_ts, now)) is not None]
        if waits:
            self._tick = self._loop.call_later(min(waits) + 0.5, self._ticked)

    def _ticked(self) -> None:
        self._tick = None
        self.changed()


def _origin(keys: list[int], origins: dict[int, SessionOrigin], sid: str) -> Origin | None:
    """The first word on where ``sid`` comes from, of the sources that fed it."""
    for k in keys:
        said = origins[k](sid) if k in origins else None
        if said is not None:
            return said
    return None


def _channels(keys: list[int], running: dict[int, SessionStatus | None], sid: str,
              state: str) -> tuple[bool, bool, str]:
    """(followed, an open channel, the state): followed while a running source has the session. A source
    with its own word on it (``StatusSource``) says whether its channel is open (a remote relay: whether
    the session is live there; if not, nothing more comes through it), and its state wins."""
    followed = channel = False
    for k in keys:
        if k not in running:
            continue
        status = running[k]
        said = status(sid) if status is not None else None
        if said is None:
            followed = True
        else:
            followed = followed or said[0]
            channel = channel or said[0]
            state = said[1] or state
    return followed, channel, state
