"""Delivery: the relay's subscribers served from the session book, in batches, on the relay's loop.

Each subscriber is a cursor into the book's streams (``fanout.py``). New events
are delivered at once after a quiet spell, else at most every ``flush_interval``,
or as soon as ``max_batch`` are pending; a subscriber still behind after its
batch is served again on the next turn of the loop, not all at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..protocol import Event
from .book import SessionBook
from .fanout import Subscription

#: Told of a subscriber whose callback raised on a batch (it is not yet counted: ``fanout.strike``).
Failed = Callable[[Subscription, list[Event], Exception], None]


class Delivery:
    """Every method runs on the relay's loop, except ``viewers`` (any thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, book: SessionBook, *, flush_interval: float,
                 max_batch: int, failed: Failed, unwatched: Callable[[str], None],
                 report: Callable[[str, BaseException | None], None]) -> None:
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self._loop = loop
        self._book = book
        self._failed = failed
        self._unwatched = unwatched
        self._report = report
        self._subs: list[Subscription] = []
        self._pending = 0
        self._flush_handle: asyncio.Handle | None = None
        self._last_flush = float("-inf")

    def attach(self, sub: Subscription) -> None:
        if sub.closed:
            return
        if sub.on_resync is not None and sub.session is not None:
            sub.cursor = max(sub.cursor, self._book.history_from(sub.session))
        self._subs.append(sub)
        self.added(0, soon=True)

    def detach(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            if sub.session is not None and self.viewers(sub.session) == 0:
                self._unwatched(sub.session)

    def viewers(self, session: str) -> int:
        """Open subscriptions to this one session (a viewer watching it); all-sessions ones do not count."""
        return sum(1 for sub in list(self._subs) if sub.session == session and not sub.closed)

    def resync(self, session: str, start: int, end: int) -> None:
        """The session's history was rebuilt as seq ``start``…``end - 1``: tell those following generations."""
        for sub in list(self._subs):
            if sub.session == session and sub.on_resync is not None and not sub.closed:
                sub.cursor = max(sub.cursor, start)
                try:
                    sub.on_resync(session, start, end)
                except Exception as e:
                    self._report(f"subscriber {sub.on_resync!r} raised {e!r} on resync; unsubscribed", e)
                    sub.close()

    def added(self, n: int, soon: bool = False) -> None:
        """``n`` new events are in the book: deliver at once after a quiet spell, else at most every
        ``flush_interval``, or as soon as ``max_batch`` are pending."""
        self._pending += n
        if self._pending >= self.max_batch:
            soon = True
        if self._flush_handle is not None:
            if not soon or not isinstance(self._flush_handle, asyncio.TimerHandle):
                return
            self._flush_handle.cancel()
        delay = 0.0 if soon else self._last_flush + self.flush_interval - self._loop.time()
        if delay <= 0:
            self._flush_handle = self._loop.call_soon(self._flush)
        else:
            self._flush_handle = self._loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        self._last_flush = self._loop.time()
        self._pending = 0
        more = False
        stream = self._book.stream
        for sub in list(self._subs):
            if sub.closed:
                continue
            batch = sub.take(stream(sub.session), self.max_batch)
            if batch:
                try:
                    sub.callback(batch)
                    sub.strikes = 0
                except Exception as e:
                    self._failed(sub, batch, e)
                    if sub.closed:
                        continue
            more = more or sub.behind(stream(sub.session))
        if more and self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def flush_all(self) -> None:
        """Deliver everything pending now (draining, stopping)."""
        self._cancel()
        self._flush()
        stream = self._book.stream
        while any(not s.closed and s.behind(stream(s.session)) for s in self._subs):
            self._flush()
        self._cancel()

    def _cancel(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
