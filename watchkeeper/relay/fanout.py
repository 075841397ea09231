"""Subscribers: each is a cursor into the relay's stores, served from them.

A subscriber owns no queue: history and live are one stream read at its
cursor, so subscribing while events arrive can neither lose nor repeat one,
and ten subscribers cost ten integers, not ten copies. A subscriber to one
session reads that session's log (cursor = seq); a subscriber to every
session reads the relay's journal, all sessions in arrival order.
"""

from __future__ import annotations

from collections.abc import Callable

from ..protocol import Event
from .api import BatchCallback, ResyncCallback, SessionInfo
from .store import SessionLog


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

    def _stream(self, journal: list[Event], logs: dict[str, SessionLog]) -> list[Event]:
        if self.session is None:
            return journal
        lg = logs.get(self.session)
        return lg.events if lg is not None else []

    def behind(self, journal: list[Event], logs: dict[str, SessionLog]) -> bool:
        return self.cursor < len(self._stream(journal, logs))

    def take(self, journal: list[Event], logs: dict[str, SessionLog], limit: int) -> list[Event]:
        """Up to ``limit`` undelivered events, in seq order per session; advances the cursor."""
        stream = self._stream(journal, logs)
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
