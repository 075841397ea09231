"""Continuous export: a relay subscriber behind a bounded queue, spans folded and sent on a worker thread.

The subscriber's callback (on the relay's thread) only appends the batch to
a queue, or drops it when the queue holds ``capacity`` events already: the
relay is never slowed by the network, the backend or the folding. Dropped
events are counted per session; the worker reports them, and spans that could
not be sent, as ``notice`` events in those sessions (through a source of its
own, so every viewer shows them), at most every ``NOTICE_EVERY`` seconds.

Spans go out in batches: when ``BATCH`` are ready or ``FLUSH_EVERY`` seconds
after the first one waits. ``close()`` sends what is still open (the session
spans, marked ``watchkeeper.incomplete``) before it returns.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, deque
from typing import Any

from ..protocol import Emit, Event, Kind, make_event
from ..relay.api import RelayAPI, Subscription
from .mapping import Content, SpanMapper, SpanRecord
from .otlp import BATCH, OtlpSender

#: Events the queue holds before batches are dropped.
CAPACITY = 200_000
#: Seconds a finished span may wait for a full batch.
FLUSH_EVERY = 1.0
#: Seconds between two notices about drops or failed sends.
NOTICE_EVERY = 5.0
SOURCE_NAME = "otlp-export"


class _NoticeSource:
    """The exporter's voice in the relay: emits the notices the worker hands it, on the relay's loop."""

    name = SOURCE_NAME

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._emit: Emit | None = None
        self._ready = threading.Event()
        self._held: list[Event] = []

    async def run(self, emit: Emit) -> None:
        self._loop, self._emit = asyncio.get_running_loop(), emit
        self._ready.set()
        await asyncio.Event().wait()

    def say(self, events: list[Event]) -> None:
        """From any thread: events to emit (kept until the source runs)."""
        if self._loop is None or self._emit is None:
            self._held += events
            return
        events, self._held = self._held + events, []
        try:
            self._loop.call_soon_threadsafe(self._emit, events)
        except RuntimeError:
            pass


class ContinuousExport:
    """Export every session of ``relay`` as it goes; ``close()`` at shutdown."""

    def __init__(self, relay: RelayAPI, sender: OtlpSender, *, content: Content | None = None,
                 capacity: int = CAPACITY, flush_every: float = FLUSH_EVERY) -> None:
        self.sender = sender
        self.capacity = capacity
        self.flush_every = flush_every
        self.mapper = SpanMapper(content)
        self.received = 0
        self.dropped = 0
        self._dropped_by: Counter[str] = Counter()
        self._told = (0, 0)
        self._told_at = 0.0
        self._drop_told_at = -NOTICE_EVERY
        self._queue: deque[list[Event]] = deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._closing = False
        self._notices = _NoticeSource()
        self._thread = threading.Thread(target=self._run, name="watchkeeper-otlp-export", daemon=True)
        self._thread.start()
        relay_add = getattr(relay, "add_source", None)
        if relay_add is not None:
            relay_add(self._notices)
        self._sub: Subscription = relay.subscribe(self._on_batch)

    # --- on the relay's thread: never blocks -----------------------------------

    def _on_batch(self, batch: list[Event]) -> None:
        with self._cond:
            if self._queued + len(batch) <= self.capacity:
                self._queue.append(batch)
                self._queued += len(batch)
                self._cond.notify()
                return
            lost = [str(ev.get("session")) for ev in batch if ev.get("kind") != Kind.NOTICE]
            self.dropped += len(lost)
            sessions = set(lost)
            self._dropped_by.update(sessions)
        # Said from here, not by the worker: a worker stuck on a slow endpoint is why the queue is full.
        now = time.monotonic()
        if now - self._drop_told_at >= NOTICE_EVERY:
            self._drop_told_at = now
            self._say(sessions)

    # --- the worker -----------------------------------------------------------

    def _take(self, timeout: float) -> list[list[Event]]:
        with self._cond:
            if not self._queue and not self._closing:
                self._cond.wait(timeout)
            taken = list(self._queue)
            self._queue.clear()
            self._queued = 0
            return taken

    def _run(self) -> None:
        ready: list[SpanRecord] = []
        since = 0.0
        while True:
            closing = self._closing
            taken = self._take(self.flush_every / 2)
            for batch in taken:
                self.received += len(batch)
                ready += self.mapper.feed(batch)
            if not taken:
                # Quiet: a model call's usage, written in a burst, is complete.
                ready += self.mapper.end_chats()
            now = time.monotonic()
            if ready and not since:
                since = now
            if ready and (len(ready) >= BATCH or now - since >= self.flush_every or closing):
                self.sender.send(ready)
                ready, since = [], 0.0
            self._report(now, closing)
            if closing:
                break
        self.sender.send(self.mapper.close_all(incomplete=True))
        self._report(time.monotonic(), True)

    def _report(self, now: float, force: bool) -> None:
        """Spans the endpoint did not take (and, at the end, the drops): a notice at most every NOTICE_EVERY s."""
        if self.sender.failed == self._told[1] and not (force and self.dropped != self._told[0]):
            return
        if not force and now - self._told_at < NOTICE_EVERY:
            return
        self._told_at = now
        with self._cond:
            sessions = set(self._dropped_by)
        self._say(sessions | set(self.mapper.sessions))

    def _say(self, sessions: set[str]) -> None:
        counts = self._told = (self.dropped, self.sender.failed)
        text = (f"OTLP export to {self.sender.url}: {counts[0]:,} events dropped (the export queue was full) "
                f"and {counts[1]:,} spans not accepted by the endpoint so far; those spans are missing there")
        data: dict[str, Any] = {"level": "warning", "text": text, "code": "otlp-dropped"}
        self._notices.say([make_event(f"otlp:dropped:{sid}:{counts[0]}:{counts[1]}", sid, Kind.NOTICE, dict(data))
                           for sid in sorted(sessions or {SOURCE_NAME})[:50]])

    # --- shutdown ------------------------------------------------------------

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking events, send the rest and the open session spans (incomplete), and stop the worker."""
        self._sub.close()
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        self.sender.shutdown()

    def summary(self) -> str:
        return (f"OTLP export to {self.sender.url}: {self.sender.sent:,} spans sent, "
                f"{self.sender.failed:,} not accepted, {self.dropped:,} events dropped")
