"""Subscribers: each is a cursor into the session book's streams, served from them.

A subscriber owns no queue: history and live are one stream read at its
cursor, so subscribing while events arrive can neither lose nor repeat one,
and ten subscribers cost ten integers, not ten copies. A subscriber to one
session reads that session's log (cursor = seq); a subscriber to every
session reads the book's journal, all sessions in arrival order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..protocol import Event, Kind, make_event
from .api import BatchCallback, ResyncCallback, SessionInfo
from .window import Stream


class Subscription:
    """What ``Relay.subscribe`` returns; ``close()`` may be called from any thread."""

    def __init__(self, callback: BatchCallback, session: str | None, from_seq: int,
                 on_close: Callable[[Subscription], None], on_resync: ResyncCallback | None = None) -> None:
        self.callback = callback
        #: told when the session's history is rebuilt as a new generation (``history.py``).
        self.on_resync = on_resync
        self.session = session
        self.from_seq = max(from_seq, 0)
        #: index of the next event to deliver, in the session's log or in the journal.
        self.cursor = self.from_seq if session is not None else 0
        self.closed = False
        #: batches in a row its callback raised on (the relay unsubscribes it at ``MAX_STRIKES``).
        self.strikes = 0
        self._on_close = on_close

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._on_close(self)

    def behind(self, stream: Stream) -> bool:
        """``stream``: what this subscriber reads (``SessionBook.stream(sub.session)``)."""
        return self.cursor < len(stream)

    def take(self, stream: Stream, limit: int) -> list[Event]:
        """Up to ``limit`` undelivered events of ``stream``, in seq order per session; advances the cursor."""
        end = len(stream)
        if self.session is not None or self.from_seq == 0:
            upto = min(end, self.cursor + limit)
            batch = stream[self.cursor:upto]
            self.cursor = max(self.cursor, upto)
            return batch
        batch = []
        from_seq = self.from_seq
        while self.cursor < end and len(batch) < limit:
            upto = min(end, self.cursor + limit - len(batch))
            batch += [e for e in stream[self.cursor:upto] if e.get("seq", 0) >= from_seq]
            self.cursor = upto
        return batch


#: A subscriber whose callback raises this many batches in a row is unsubscribed (each failure is reported).
MAX_STRIKES = 3


def strike(sub: Subscription, batch: list[Event], e: Exception, notice_id: str) -> tuple[str, list[Event]]:
    """Count one failure of ``sub`` on ``batch`` (closing it at ``MAX_STRIKES``): what to say, and the notices.

    A notice goes to each session of the batch, or to the exception's ``sessions`` if it names them
    (a recorder that could not write one session says which).
    """
    sub.strikes += 1
    text = f"{_name(sub.callback)} failed on events {batch[0].get('id')!r}…{batch[-1].get('id')!r}: {e!r}; "
    if sub.strikes >= MAX_STRIKES:
        sub.close()
        text += f"unsubscribed after {sub.strikes} failures in a row"
    else:
        text += "it missed those events"
    sessions = getattr(e, "sessions", None) or dict.fromkeys(ev.get("session") or "unknown" for ev in batch)
    data = {"level": "error", "text": text, "code": "subscriber-failed"}
    return text, [make_event(f"{notice_id}:{sid}", sid, Kind.NOTICE, dict(data)) for sid in sessions]


def _name(callback: Callable[..., Any]) -> str:
    """``Recorder``, ``ViewerConn.on_batch``, ``module.function``: what a person can look up."""
    owner = getattr(callback, "__self__", None)
    if owner is not None:
        return f"{type(owner).__name__}.{getattr(callback, '__name__', '?')}"
    qualname = getattr(callback, "__qualname__", None)
    if qualname is None:
        return type(callback).__name__
    return f"{getattr(callback, '__module__', '?')}.{qualname}".replace(".<locals>", "")


class SessionsWatch:
    """What ``Relay.on_sessions`` returns."""

    def __init__(self, callback: Callable[[list[SessionInfo]], None],
                 on_close: Callable[[SessionsWatch], None]) -> None:
        self.callback = callback
        self.closed = False
        self._on_close = on_close

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._on_close(self)
