"""Continuous OTLP export: spans leave a live relay (and ``watchkeeper serve --otlp``) as a transcript grows.

A real relay follows a Claude Code transcript (2.1.173, with a subagent) that
the test writes to disk in steps; the receiver (``otlp_support``) decodes what
arrives. A call's span must arrive while the session is still going, the
session's span only at shutdown (marked incomplete), nothing twice. A stalled
endpoint must cost the relay nothing: its other subscribers get every event,
and what the export had to drop is counted and said in a notice.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import CC_FIXTURES
from otlp_support import Receiver, Span
from test_remote_cli import Lines, free_port
from waiting import until

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.export.ids import chat_span_id, trace_id
from watchkeeper.export.mapping import SpanMapper, SpanRecord
from watchkeeper.export.stream import ContinuousExport
from watchkeeper.protocol import Emit, Event, Kind, make_event
from watchkeeper.relay import Relay

ROOT = Path(__file__).resolve().parent.parent
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]
SESSION = "55550000-0000-4000-8000-000000000173"
SHOP = CC_FIXTURES / "-workspace-shop"
CALLS = {"toolu_d_inspect", "toolu_d_refresh", "toolu_d_wake", "toolu_d_web", "toolu_d_jobs"}


class Growing:
    """The 2.1.173 session written out in steps under ``root/-workspace-shop/``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "-workspace-shop"
        self.dir.mkdir(parents=True)
        self.main = self.dir / f"{SESSION}.jsonl"
        self.lines = (SHOP / f"{SESSION}.jsonl").read_bytes().splitlines(keepends=True)
        self.written = 0

    def write(self, upto: int) -> None:
        with self.main.open("ab") as f:
            f.writelines(self.lines[self.written:upto])
        self.written = upto

    def add_subagent(self) -> None:
        shutil.copytree(SHOP / SESSION, self.dir / SESSION)


def tool_ids(spans: list[Span]) -> set[str]:
    return {s.attributes["gen_ai.tool.call.id"] for s in spans if s.name.startswith("execute_tool")}


def roots(spans: list[Span]) -> list[Span]:
    return [s for s in spans if s.parent_id is None]


def test_spans_leave_as_calls_end_and_the_session_span_at_shutdown(tmp_path: Path) -> None:
    grow = Growing(tmp_path)
    grow.write(3)
    with Receiver() as r, Relay() as relay:
        export = ContinuousExport(relay, r.url, flush_every=0.1)
        relay.add_source(TranscriptSource(grow.main))
        r.until(lambda spans: "toolu_d_inspect" in tool_ids(spans), "the first call's span")
        assert not roots(r.spans), "the session span waits for the session's end"
        assert any(s.attributes.get("gen_ai.response.id") == "msg_d01" for s in r.spans), "its model call too"
        grow.write(len(grow.lines))
        grow.add_subagent()
        r.until(lambda spans: tool_ids(spans) == CALLS, "every call's span")
        r.until(lambda spans: any(s.attributes.get("gen_ai.response.id") == "msg_w01" for s in spans),
                "the subagent's model call")
        assert not roots(r.spans)
        export.close()
        spans = list(r.spans)
    root, = roots(spans)
    assert root.trace_id == f"{trace_id(SESSION):032x}"
    assert root.attributes["watchkeeper.incomplete"] is True
    assert root.attributes["gen_ai.usage.output_tokens"] == 240
    ids = [s.span_id for s in spans]
    assert len(ids) == len(set(ids)), "a span sent twice"
    sub = next(s for s in spans if s.attributes.get("gen_ai.agent.id") == "webagent1")
    web = next(s for s in spans if s.attributes.get("gen_ai.tool.call.id") == "toolu_d_web")
    assert sub.parent_id == web.span_id and web.parent_id == root.span_id
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert export.dropped == 0 and export.failed == 0 and export.sent == len(spans)


def test_a_session_gone_quiet_is_closed_and_its_span_sent_before_exit(tmp_path: Path) -> None:
    grow = Growing(tmp_path)
    grow.write(len(grow.lines))
    with Receiver() as r, Relay() as relay:
        # The fixture's events are months old: quiet for 0.3 s, the session counts as over.
        export = ContinuousExport(relay, r.url, flush_every=0.1, idle_after=3600, quiet_after=0.3)
        relay.add_source(TranscriptSource(grow.main))
        root = r.until(lambda spans: next(iter(roots(spans)), None), "the session's span, before any close()")
        assert "watchkeeper.incomplete" not in root.attributes, "no call was open"
        assert tool_ids(r.spans) == CALLS
        export.close()
        assert [s.span_id for s in roots(r.spans)] == [root.span_id], "closed once, not again at exit"


class Stalled:
    """An OTLP endpoint that takes a request and answers only when released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Event()
        stalled = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stalled.arrived.set()
                stalled.release.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Calls:
    """A source that emits finished calls in batches when told to."""

    name = "calls"

    def __init__(self) -> None:
        self.emit: Emit | None = None
        self.ready = threading.Event()

    async def run(self, emit: Emit) -> None:
        import asyncio

        self.emit = emit
        self.ready.set()
        await asyncio.Event().wait()

    def batch(self, relay: Relay, first: int, n: int) -> None:
        events: list[Event] = []
        for i in range(first, first + n):
            events.append(make_event(f"s{i}", "stalled-1", Kind.TOOL_STARTED, {"call_id": f"c{i}", "name": "Bash"}))
            events.append(make_event(f"f{i}", "stalled-1", Kind.TOOL_FINISHED, {"call_id": f"c{i}", "status": "ok"}))
        assert self.emit is not None
        emit = self.emit
        relay._loop.call_soon_threadsafe(emit, events)


@pytest.fixture
def stalled() -> Iterator[Stalled]:
    s = Stalled()
    yield s
    s.close()


def test_a_stalled_endpoint_never_slows_the_relay_and_drops_are_counted_and_told(stalled: Stalled) -> None:
    """The endpoint holds the first request: the export process waits on it, its input backs up to the
    queue, and the queue drops what it cannot hold, while the relay serves everything to everyone else."""
    calls = Calls()
    seen: list[Event] = []
    changed = threading.Condition()

    def watcher(batch: list[Event]) -> None:
        with changed:
            seen.extend(batch)
            changed.notify_all()

    batches = 300  # more than the process reads ahead and the pipe holds, on a fast machine or a slow one
    with Relay() as relay:
        relay.subscribe(watcher)
        export = ContinuousExport(relay, stalled.url, timeout=60, capacity=1000, flush_every=0.05)
        relay.add_source(calls)
        assert calls.ready.wait(30)
        calls.batch(relay, 0, 5)
        assert stalled.arrived.wait(30), "the export sent the first spans"
        for k in range(1, batches + 1):
            calls.batch(relay, k * 100, 50)
        total = 5 + 50 * batches
        until(lambda: sum(e["kind"] == Kind.TOOL_FINISHED for e in seen) == total,
              "every event at the other subscriber", condition=changed)
        notice = until(lambda: next((e for e in seen if e["kind"] == Kind.NOTICE
                                     and e["data"].get("code") == "otlp-dropped"), None), "a notice of the drops",
                       condition=changed)
        assert notice["session"] == "stalled-1"
        assert "events dropped (the export queue was full)" in notice["data"]["text"]
        assert export.dropped > 0
        stalled.release.set()
        export.close()
    assert export.dropped + export.received >= 2 * total, "every event was either handed over or counted as dropped"
    assert export.sent < total + 1, "the dropped calls' spans were not sent"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WATCHKEEPER_HOME": str(home),
            "WATCHKEEPER_PORT": str(free_port()), "HOME": str(home)}


def test_serve_with_otlp_exports_a_growing_transcript(tmp_path: Path, env: dict[str, str]) -> None:
    grow = Growing(tmp_path / "sessions")
    grow.write(3)
    with Receiver() as r:
        proc = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{free_port()}", "--no-default-roots",
                                 "--no-hooks", "--root", str(tmp_path / "sessions"), "--otlp", r.url,
                                 "--otlp-header", "authorization=Bearer abc"],
                                cwd=ROOT, env={**env, "OTEL_EXPORTER_OTLP_HEADERS": "x-from-env=yes"},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        out = Lines(proc.stdout)
        try:
            out.until(f"OTLP:       spans to {r.url}/v1/traces")
            r.until(lambda spans: "toolu_d_inspect" in tool_ids(spans), "the first call's span")
            grow.write(len(grow.lines))
            r.until(lambda spans: tool_ids(spans) == CALLS, "every call's span")
            assert not roots(r.spans)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(20)
        summary = out.until("spans sent")
        spans = list(r.spans)
    root, = roots(spans)
    assert root.attributes["watchkeeper.incomplete"] is True
    assert f"{len(spans)} spans sent, 0 not accepted, 0 events dropped" in summary
    assert {q["authorization"] for q in r.requests} == {"Bearer abc"}
    assert {q["x-from-env"] for q in r.requests} == {"yes"}, "the export's own process reads the standard variable"


def split_call(grow: Growing) -> None:
    """msg_d02 as older Claude Code versions write a model call: a first line with its text and a partial
    ``output_tokens``, then the line with its tool call and the final count."""
    record = orjson.loads(grow.lines[3])
    first = {**record, "uuid": "d-a2-text", "timestamp": "2026-06-15T10:00:03.500Z",
             "message": {**record["message"], "content": [{"type": "text", "text": "Refreshing the index."}],
                         "stop_reason": None, "usage": {"input_tokens": 120, "output_tokens": 5}}}
    grow.lines.insert(3, orjson.dumps(first) + b"\n")


def one_shot(path: Path) -> list[SpanRecord]:
    mapper = SpanMapper()
    return mapper.feed(convert_file(path)) + mapper.close_all(incomplete=False)


def test_a_model_call_written_over_lines_apart_keeps_all_its_usage(tmp_path: Path) -> None:
    """The export process is quiet between the two lines of msg_d02 (it sends the first call's spans meanwhile):
    the call's span waits for the agent's next step, and carries what a one-shot export of the file does."""
    grow = Growing(tmp_path)
    split_call(grow)
    grow.write(4)
    with Receiver() as r, Relay() as relay:
        export = ContinuousExport(relay, r.url, flush_every=0.1)
        relay.add_source(TranscriptSource(grow.main))
        r.until(lambda spans: "toolu_d_inspect" in tool_ids(spans), "the first call's span")
        grow.write(len(grow.lines))
        r.until(lambda spans: tool_ids(spans) == CALLS, "every call's span")
        export.close()
        spans = list(r.spans)
    want = {f"{s.span_id:016x}": s for s in one_shot(grow.main) if s.name.startswith("chat")}
    chats = {s.span_id: s for s in spans if s.name.startswith("chat")}
    assert set(chats) == set(want)
    for span_id, span in chats.items():
        assert span.attributes == want[span_id].attributes, span.attributes["gen_ai.response.id"]
        assert (span.start_ns, span.end_ns) == (want[span_id].start_ns, want[span_id].end_ns)
    assert chats[f"{chat_span_id(SESSION, 'msg_d02'):016x}"].attributes["gen_ai.usage.output_tokens"] == 40
    root, = roots(spans)
    assert root.attributes["gen_ai.usage.output_tokens"] == sum(
        s.attributes["gen_ai.usage.output_tokens"] for s in chats.values())


def test_a_model_call_left_open_is_sent_after_the_quiet(tmp_path: Path) -> None:
    """An agent that stops in the middle of a call takes no next step: after ``chat_quiet`` s its span goes."""
    grow = Growing(tmp_path)
    split_call(grow)
    grow.write(4)
    with Receiver() as r, Relay() as relay:
        export = ContinuousExport(relay, r.url, flush_every=0.1, chat_quiet=0.5)
        relay.add_source(TranscriptSource(grow.main))
        chat = r.until(lambda spans: next((s for s in spans if s.attributes.get("gen_ai.response.id") == "msg_d02"),
                                          None), "the open call's span")
        assert chat.attributes["gen_ai.usage.output_tokens"] == 5
        assert not roots(r.spans), "the session goes on"
        export.close()


def test_drops_after_a_notice_are_told_in_a_later_one(stalled: Stalled) -> None:
    """The first drop is told at once; the drops that go on after it, within ``notice_every``, are told when
    that has passed, though nothing is dropped then (the writer is stuck on the process meanwhile)."""
    calls = Calls()
    seen: list[Event] = []
    changed = threading.Condition()

    def watcher(batch: list[Event]) -> None:
        with changed:
            seen.extend(batch)
            changed.notify_all()

    def notices() -> list[dict[str, Any]]:
        return [e["data"] for e in seen if e["kind"] == Kind.NOTICE and e["data"].get("code") == "otlp-dropped"]

    with Relay() as relay:
        relay.subscribe(watcher)
        export = ContinuousExport(relay, stalled.url, timeout=60, capacity=1000, flush_every=0.05, notice_every=1.0)
        relay.add_source(calls)
        assert calls.ready.wait(30)
        calls.batch(relay, 0, 5)
        assert stalled.arrived.wait(30), "the export sent the first spans"
        sent = 0

        def burst(n: int) -> None:
            nonlocal sent
            for _ in range(n):
                sent += 1
                calls.batch(relay, sent * 100, 50)
            until(lambda: sum(e["kind"] == Kind.TOOL_FINISHED for e in seen) == 5 + 50 * sent,
                  "the batches at the other subscriber", condition=changed)

        def drops_until(done: Callable[[], bool], what: str) -> None:
            """Bursts until ``done``: what the process reads ahead and the pipe holds fill up at their own pace."""
            for _ in range(100):
                if done():
                    return
                burst(20)
            raise AssertionError(f"no {what} after 200,000 events")

        drops_until(lambda: bool(notices()), "notice of drops")
        first = notices()[0]["dropped"]
        drops_until(lambda: export.dropped > first, "more drops")
        last: dict[str, Any] = until(lambda: next((n for n in notices() if n["dropped"] == export.dropped), {}),
                                     "a notice of every drop so far", condition=changed)
        assert last["dropped"] > first and f"{export.dropped:,} events dropped" in last["text"]
        stalled.release.set()
        export.close()
