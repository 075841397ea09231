"""Continuous export: a relay subscriber behind a bounded queue, handing batches to the export's own process.

The subscriber's callback (on the relay's thread) only appends the batch to
a queue, or drops it when the queue holds ``capacity`` events already: the
relay is never slowed by the network, the backend or the folding. A thread
writes the queued batches, as JSON lines, to ``worker.py``'s process, which
folds them into spans and sends them in batches (``BATCH`` spans, or
``flush_every`` seconds after the first waits): that work holds a GIL, and
not the one the relay and the screens share. Dropped events are counted per
session, and they and the spans the endpoint refused are reported as
``notice`` events in those sessions (through a source of the export's own, so
every viewer shows them), at most every ``NOTICE_EVERY`` seconds: counts that
change after a notice are said in another one then, so the last one is never
stale. A session opened tail-first is folded only once its whole history is
in (``deferred.py``).

``close()`` hands over what is queued and waits for the process to send
what is still open (the session spans, marked ``watchkeeper.incomplete``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from typing import IO, Any

import orjson

from ..protocol import Emit, Event, Kind, make_event
from ..relay.api import RelayAPI, Subscription
from .deferred import TAIL_FIRST_BYTES, Deferred
from .mapping import Content
from .otlp import shown_url, traces_url
from .worker import CHAT_QUIET

#: Events the queue holds before batches are dropped.
CAPACITY = 200_000
#: Seconds a finished span may wait for a full batch.
FLUSH_EVERY = 1.0
#: Seconds between two notices about drops or failed sends.
NOTICE_EVERY = 5.0
#: A session closed (its span sent) when its last event is this old and nothing came for ``QUIET_AFTER`` s.
IDLE_AFTER = 1800.0
QUIET_AFTER = 60.0
SOURCE_NAME = "otlp-export"


class _NoticeSource:
    """The exporter's voice in the relay: emits the notices it is handed, on the relay's loop."""

    name = SOURCE_NAME

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._emit: Emit | None = None
        self._held: list[Event] = []

    async def run(self, emit: Emit) -> None:
        self._loop, self._emit = asyncio.get_running_loop(), emit
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
    """Export every session of ``relay`` to the OTLP/HTTP endpoint ``url`` as it goes; ``close()`` at shutdown."""

    def __init__(self, relay: RelayAPI, url: str, headers: Mapping[str, str] | None = None, *,
                 content: Content | None = None, capacity: int = CAPACITY, flush_every: float = FLUSH_EVERY,
                 timeout: float = 10.0, idle_after: float = IDLE_AFTER, quiet_after: float = QUIET_AFTER,
                 chat_quiet: float = CHAT_QUIET, notice_every: float = NOTICE_EVERY,
                 tail_first: int | None = TAIL_FIRST_BYTES) -> None:
        self.url = traces_url(url)
        self.shown = shown_url(self.url)
        self.capacity = capacity
        self.notice_every = notice_every
        self.received = self.dropped = self.sent = self.failed = 0
        self.problem: str | None = None
        self._dropped_by: Counter[str] = Counter()
        self._sessions: set[str] = set()
        #: the counts the last notice said, when, and the sessions that lost events since.
        self._told = (0, 0)
        self._told_at = -notice_every
        self._untold: set[str] = set()
        self._tell_lock = threading.Lock()
        self._retell: threading.Timer | None = None
        self._queue: deque[list[Event]] = deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._deferred = Deferred(relay, self._cond, tail_first)
        self._closing = False
        self._errors: deque[str] = deque(maxlen=5)
        settings = {"url": self.url, "headers": dict(headers or {}), "flush_every": flush_every,
                    "content_limit": content.limit if content is not None else None, "timeout": timeout,
                    "idle_after": idle_after, "quiet_after": quiet_after, "chat_quiet": chat_quiet}
        # Its own session: a Ctrl-C in the terminal stops watchkeeper, which then closes the process's
        # stdin; the process sends what is open and exits (it also exits if watchkeeper dies).
        self._proc = subprocess.Popen([sys.executable, "-m", "watchkeeper.export.worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        assert self._proc.stdin is not None and self._proc.stdout is not None and self._proc.stderr is not None
        self._stdin: IO[bytes] = self._proc.stdin
        self._stdin.write(orjson.dumps(settings) + b"\n")
        self._stdin.flush()
        self._readers = [threading.Thread(target=self._counts, args=(self._proc.stdout,), daemon=True),
                         threading.Thread(target=self._stderr, args=(self._proc.stderr,), daemon=True)]
        for reader in self._readers:
            reader.start()
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
            if self._deferred.holding:
                # Read back from the relay once their history is in.
                batch = [ev for ev in batch if ev.get("session") not in self._deferred.holding]
                if not batch:
                    return
            if self._queued + len(batch) <= self.capacity:
                self._queue.append(batch)
                self._queued += len(batch)
                self._cond.notify()
                return
            sessions = self._drop(batch)
        # Said from here, not by the writer: a process stuck on a slow endpoint is why the queue is full.
        self._tell(sessions)

    def _drop(self, batch: list[Event]) -> set[str]:
        lost = [str(ev.get("session")) for ev in batch if ev.get("kind") != Kind.NOTICE]
        self.dropped += len(lost)
        self._dropped_by.update(set(lost))
        return set(lost)

    # --- the writer thread and the process's readers ------------------------------

    def _take(self, timeout: float) -> list[list[Event]]:
        with self._cond:
            if not self._queue and not self._closing:
                self._cond.wait(timeout)
            taken = list(self._queue)
            self._queue.clear()
            self._queued = 0
            return taken

    def _run(self) -> None:
        while True:
            closing = self._closing
            self._hand([self._deferred.sort(batch) for batch in self._take(0.5)])
            for sid, start in self._deferred.due(final=closing):
                for chunk in self._deferred.release(sid, start):
                    self._hand([chunk])
            if closing:
                break
        try:
            self._stdin.close()
        except OSError:
            pass

    def _hand(self, taken: list[list[Event]]) -> None:
        """Write batches to the process; if it is gone, count them as dropped."""
        taken = [batch for batch in taken if batch]
        if not taken:
            return
        with self._tell_lock:
            for batch in taken:
                self._sessions.update(str(ev.get("session")) for ev in batch)
        try:
            self._stdin.write(b"".join(orjson.dumps(batch, default=str) + b"\n" for batch in taken))
            self._stdin.flush()
            self.received += sum(len(batch) for batch in taken)
        except (OSError, ValueError) as e:
            with self._cond:
                sessions = set().union(*(self._drop(batch) for batch in taken))
            self.problem = f"the export process stopped ({e!r}): {self._last_error()}"
            self._say(sessions)

    def _counts(self, stream: IO[bytes]) -> None:
        for line in stream:
            try:
                counts = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            self.sent, self.failed = int(counts.get("sent", 0)), int(counts.get("failed", 0))
            self._tell()

    def _stderr(self, stream: IO[bytes]) -> None:
        for line in stream:
            text = line.decode(errors="replace").strip()
            if text:
                self._errors.append(text)

    def _last_error(self) -> str:
        return self._errors[-1] if self._errors else "no message"

    def _tell(self, sessions: set[str] | frozenset[str] = frozenset()) -> None:
        """A notice of the counts if they changed since the last one said them, at most every ``notice_every``
        s: counts that changed sooner are said by a timer then. Not by the writer: while the process is stuck
        on the endpoint, the writer is stuck writing to it, and that is when events are dropped."""
        with self._tell_lock:
            self._untold |= sessions
            told, now = self._told, time.monotonic()
            if (self.dropped, self.failed) == told:
                return
            wait = self._told_at + self.notice_every - now
            if wait > 0:
                if self._retell is None and not self._closing:
                    self._retell = threading.Timer(wait, self._retold)
                    self._retell.daemon = True
                    self._retell.start()
                return
            self._told_at = now
            tell = self._untold | (self._sessions if self.failed != told[1] else set())
            self._untold = set()
            self._say(tell)

    def _retold(self) -> None:
        with self._tell_lock:
            self._retell = None
        self._tell()

    def _say(self, sessions: set[str]) -> None:
        counts = self._told = (self.dropped, self.failed)
        text = (f"OTLP export to {self.shown}: {counts[0]:,} events dropped (the export queue was full) "
                f"and {counts[1]:,} spans not accepted by the endpoint so far; those spans are missing there")
        if counts[1]:
            text += f" (last error: {self._last_error()})"
        if self.problem:
            text += f"; {self.problem}"
        data: dict[str, Any] = {"level": "warning", "text": text, "code": "otlp-dropped", "dropped": counts[0],
                                "failed": counts[1]}
        self._notices.say([make_event(f"otlp:dropped:{sid}:{counts[0]}:{counts[1]}", sid, Kind.NOTICE, dict(data))
                           for sid in sorted(sessions or {SOURCE_NAME})[:50]])

    # --- shutdown ------------------------------------------------------------

    def close(self, timeout: float = 60.0) -> None:
        """Stop taking events, hand over the rest, and wait for the process to send it and the open spans."""
        self._sub.close()
        with self._cond:
            self._closing = True
            self._cond.notify()
        with self._tell_lock:
            if self._retell is not None:
                self._retell.cancel()
        self._thread.join(timeout)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
            self.problem = "the export process did not finish in time and was stopped"
        for reader in self._readers:
            reader.join(10)
        if self._proc.returncode and not self.problem:
            self.problem = f"the export process failed ({self._proc.returncode}): {self._last_error()}"

    def summary(self) -> str:
        text = (f"OTLP export to {self.shown}: {self.sent:,} spans sent, {self.failed:,} not accepted, "
                f"{self.dropped:,} events dropped")
        return f"{text}; {self.problem}" if self.problem else text
