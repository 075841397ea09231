"""The continuous export's own process: events in on stdin, spans out over OTLP/HTTP, counts out on stdout.

Why a process and not a thread beside the relay: folding events into spans
and the SDK's encoding of them hold the GIL (about 60 µs a span in the SDK's
encoder), and under the 5,000 events/s live-stream benchmark a thread doing
it doubled the app's on-screen p99 lag (``bench/bench_otlp.py``). Here they
cost the watching process only the ``orjson.dumps`` of each batch.

stdin: a first line of settings (JSON: ``url``, ``headers``, ``content_limit``
or null, ``flush_every``, ``timeout``, ``idle_after``, ``quiet_after``, ``chat_quiet``) — the
headers travel here, not on the command line, where ``ps`` would show them —
then one JSON array of events per line. At EOF the spans still open are sent
(the session spans marked ``watchkeeper.incomplete``) and the process exits.
stdout: ``{"sent": n, "failed": m}`` after each send.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time
from typing import IO, Any

import orjson

from .mapping import Content, SpanMapper, SpanRecord
from .otlp import BATCH, OtlpSender

#: Lines (relay batches, up to 1,000 events each) read ahead of the folding: few, so that an endpoint that
#: stalls the sender backs up to the watching process's bounded queue, which counts what it drops, instead
#: of piling up here (64 lines ahead let ~29k events past a 1,000-event queue unseen).
LINES_AHEAD = 4
#: Seconds between two looks for sessions gone quiet.
IDLE_CHECK = 5.0
#: Seconds a session with a model call open may be quiet before that call's span is sent as it is.
CHAT_QUIET = 300.0


def _read(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


class Worker:
    def __init__(self, settings: dict[str, Any], out: IO[str]) -> None:
        limit = settings.get("content_limit")
        self.sender = OtlpSender(settings["url"], settings.get("headers") or {},
                                 timeout=float(settings.get("timeout") or 10.0))
        self.mapper = SpanMapper(Content(int(limit)) if limit else None)
        self.flush_every = float(settings.get("flush_every") or 1.0)
        #: A session whose last event is older than ``idle_after`` s and that got none for ``quiet_after`` s
        #: is closed (its span sent); events after that open it again, under the same ids.
        self.idle_after = float(settings.get("idle_after") or 1800.0)
        self.quiet_after = float(settings.get("quiet_after") or 60.0)
        self.chat_quiet = float(settings.get("chat_quiet") or CHAT_QUIET)
        self.out = out
        self.seen_at: dict[str, float] = {}
        self.ready: list[SpanRecord] = []
        self._since = 0.0
        self._idle_checked = 0.0
        self.idle_check = min(IDLE_CHECK, self.quiet_after, self.chat_quiet / 2)

    def feed(self, line: bytes) -> None:
        events = orjson.loads(line)
        now = time.monotonic()
        for ev in events:
            sid = ev.get("session") if isinstance(ev, dict) else None
            if isinstance(sid, str):
                self.seen_at[sid] = now
        self.ready += self.mapper.feed(events)
        self.ready += self.mapper.end_settled_chats()

    def tick(self, final: bool = False) -> None:
        now = time.monotonic()
        if now - self._idle_checked >= self.idle_check:
            self._idle_checked = now
            self._close_quiet(now)
        if self.ready and not self._since:
            self._since = now
        if self.ready and (len(self.ready) >= BATCH or now - self._since >= self.flush_every or final):
            self.send(self.ready)
            self.ready, self._since = [], 0.0

    def _close_quiet(self, now: float) -> None:
        """Send the open model calls of sessions quiet for ``chat_quiet`` s, and close idle sessions."""
        old = time.time() - self.idle_after
        for sid, seen in list(self.seen_at.items()):
            s = self.mapper.sessions.get(sid)
            if s is None:
                del self.seen_at[sid]
                continue
            if now - seen >= self.chat_quiet and s.chats:
                self.ready += self.mapper.end_chats(sid)
            if now - seen >= self.quiet_after and s.last_ns / 1e9 < old:
                del self.seen_at[sid]
                self.ready += self.mapper.close_session(sid, incomplete=self.mapper.open_calls(sid) > 0)

    def send(self, records: list[SpanRecord]) -> None:
        self.sender.send(records)
        self.out.write(orjson.dumps({"sent": self.sender.sent, "failed": self.sender.failed}).decode() + "\n")
        self.out.flush()

    def finish(self) -> None:
        self.tick(final=True)
        self.send(self.mapper.close_all(incomplete=True))
        self.sender.shutdown()


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin = sys.stdin.buffer
    settings = orjson.loads(stdin.readline() or b"{}")
    worker = Worker(settings, sys.stdout)
    lines: queue.Queue[bytes | None] = queue.Queue(maxsize=LINES_AHEAD)
    threading.Thread(target=_read, args=(stdin, lines), daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=worker.flush_every / 2)
        except queue.Empty:
            worker.tick()
            continue
        if line is None:
            break
        if line.strip():
            worker.feed(line)
        worker.tick()
    worker.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
