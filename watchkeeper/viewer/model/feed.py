"""From the relay's thread to the UI: buffered batches and one wake-up message at a time.

The relay calls back on its own thread in batches (≤ 50 ms or 1,000 events).
A feed appends each batch to a buffer and posts a message only when the
buffer was empty, so however fast the relay flushes, the UI handles one
message per loop turn and drains at most ``MAX_DRAIN`` events from it (a huge
history loads in slices while the app stays responsive).

A feed made with ``reloads=True`` follows history generations (``relay/history.py``):
when the relay rebuilds the session's history, the feed routes the new
generation's history to a :class:`~.reload.HistoryReload` for a worker to load,
says so with :class:`HistoryRebuilt`, and keeps the buffer for live events.
"""

from __future__ import annotations

import threading
from bisect import bisect_left

from textual.message import Message
from textual.message_pump import MessagePump

from ...protocol import Event
from ...relay.api import RelayAPI, SessionInfo, Subscription
from .history_reload import HistoryReload

#: Events folded per UI turn: a slice costs ~30 ms, so a huge history loads without freezing.
MAX_DRAIN = 5_000


class EventsArrived(Message):
    """Events are waiting in ``feed``; call ``feed.drain()``."""

    def __init__(self, feed: EventFeed) -> None:
        super().__init__()
        self.feed = feed


class HistoryRebuilt(Message):
    """The relay rebuilt the session's history: load ``reload`` off the UI loop, then adopt it."""

    def __init__(self, feed: EventFeed, reload: HistoryReload) -> None:
        super().__init__()
        self.feed = feed
        self.reload = reload


class SessionsChanged(Message):
    """The relay's session list changed; only the newest list matters."""

    def __init__(self, sessions: list[SessionInfo]) -> None:
        super().__init__()
        self.sessions = sessions

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionsChanged)


class EventFeed:
    """One relay subscription feeding one message pump (a screen)."""

    def __init__(self, relay: RelayAPI, target: MessagePump, session: str | None, from_seq: int = 0,
                 *, reloads: bool = False) -> None:
        self.relay, self.target, self.session, self.from_seq = relay, target, session, from_seq
        self.reloads = reloads and session is not None
        self._lock = threading.Lock()
        self._buffer: list[Event] = []
        self._posted = False
        self._sub: Subscription | None = None
        #: The history of a new generation still on its way (``reloads`` only).
        self._reload: HistoryReload | None = None
        #: The highest seq delivered to the UI, to resume from.
        self.last_seq = from_seq - 1

    def start(self) -> EventFeed:
        if self.reloads:
            self._sub = self.relay.subscribe(self._on_batch, self.session, self.from_seq,
                                             on_resync=self._on_resync)
        else:
            self._sub = self.relay.subscribe(self._on_batch, self.session, self.from_seq)
        return self

    def close(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None

    def _on_resync(self, session: str, start: int, end: int) -> None:
        """On the relay's thread: seq ``start``…``end - 1`` is the session's whole history now."""
        reload = HistoryReload(start, end)
        with self._lock:
            if self._reload is not None:
                self._reload.cancel()
            self._reload = reload
            self._buffer = [e for e in self._buffer if e.get("seq", 0) >= start]
        self.target.post_message(HistoryRebuilt(self, reload))

    def _on_batch(self, batch: list[Event]) -> None:
        with self._lock:
            reload = self._reload
            if reload is not None:
                split = bisect_left(batch, reload.end, key=lambda e: e.get("seq", 0))
                if split:
                    reload.put(batch[:split])
                    batch = batch[split:]
                if reload.complete:
                    self._reload = None
                if not batch:
                    return
            self._buffer.extend(batch)
            if self._posted:
                return
            self._posted = True
        self.target.post_message(EventsArrived(self))

    def drain(self) -> list[Event]:
        """Up to ``MAX_DRAIN`` buffered events; re-posts the wake-up if more are left."""
        with self._lock:
            if len(self._buffer) <= MAX_DRAIN:
                out, self._buffer = self._buffer, []
                self._posted = False
            else:
                out, self._buffer = self._buffer[:MAX_DRAIN], self._buffer[MAX_DRAIN:]
        if len(out) == MAX_DRAIN and self._posted:
            self.target.post_message(EventsArrived(self))
        if out:
            self.last_seq = out[-1].get("seq", self.last_seq)
        return out


def watch_sessions(relay: RelayAPI, target: MessagePump) -> Subscription:
    """Post the relay's session list to ``target`` whenever it changes (coalesced)."""

    def post(infos: list[SessionInfo]) -> None:
        target.post_message(SessionsChanged(infos))

    return relay.on_sessions(post)
