"""OTLP export: a huge transcript sent as spans, beside the bare SDK; and continuous export under a live stream.

Both parts send to one OTLP/HTTP receiver on loopback, in a process of its own
(``--sink``), which decodes every request with ``opentelemetry-proto`` and counts
the spans, so each figure is checked against what arrived.

- export:  a Claude Code transcript grown from real records (``bench_convert.grow``,
           200 MB by default) through ``watchkeeper.export.oneshot.export_paths``
           (adapters, span mapping, the SDK's OTLP/HTTP exporter): spans/s from the
           first byte read to the last span accepted. Beside it, in the same run,
           the bare ``opentelemetry-sdk``: a tracer with the ``BatchSpanProcessor``
           and the same ``OTLPSpanExporter``, sending as many empty spans to the
           same receiver (start, end, flush).
- live:    ``bench_live_stream``'s app run (5,000 events/s into a relay, the app
           headless at 120x40, lag from emit to the row on screen), without and
           with ``ContinuousExport`` on the relay, alternating, each in a fresh
           process: the on-screen p99 of each and their ratio (target: within 10 %).

Run: ``.venv/bin/python bench/bench_otlp.py [--mb 200] [--seconds 60] [--rate 5000] [--rounds 1]
[--only export|live]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


# --- the receiver (its own process) ----------------------------------------------------


def sink() -> None:
    """Serve OTLP/HTTP on a free loopback port (printed first), count the decoded spans; GET /count says."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    counts = {"spans": 0, "requests": 0}
    lock = threading.Lock()
    answer = ExportTraceServiceResponse().SerializeToString()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            request = ExportTraceServiceRequest()
            request.ParseFromString(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            n = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
            with lock:
                counts["spans"] += n
                counts["requests"] += 1
            self._reply(answer, "application/x-protobuf")

        def do_GET(self) -> None:
            with lock:
                body = json.dumps(counts).encode()
            self._reply(body, "application/json")

        def _reply(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class Sink:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--sink"], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def count(self) -> int:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/count", timeout=10) as r:
            return int(json.loads(r.read())["spans"])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# --- export of a huge transcript ---------------------------------------------------------


def measure_ours(path: Path, url: str) -> dict[str, Any]:
    from watchkeeper.export.oneshot import export_paths
    from watchkeeper.export.otlp import OtlpSender

    sender = OtlpSender(url)
    t0 = time.perf_counter()
    stats = export_paths([path], sender)
    seconds = time.perf_counter() - t0
    sender.shutdown()
    return {"seconds": seconds, "spans": stats.sent, "failed": stats.failed, "events": stats.events}


def measure_send_only(path: Path, url: str) -> dict[str, Any]:
    """Our spans already folded (not timed): the SDK's encoding and sending of them alone."""
    from watchkeeper.adapters.files.feed import convert_file
    from watchkeeper.export.mapping import SpanMapper
    from watchkeeper.export.otlp import OtlpSender

    mapper = SpanMapper()
    records = mapper.feed(convert_file(path)) + mapper.close_all(incomplete=False)
    sender = OtlpSender(url)
    t0 = time.perf_counter()
    sender.send(records)
    seconds = time.perf_counter() - t0
    sender.shutdown()
    return {"seconds": seconds, "spans": sender.sent}


def measure_bare(n: int, url: str) -> dict[str, Any]:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    # A queue that holds every span, so the processor drops none: the same spans arrive as ours.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"),
                                                   max_queue_size=n + 1, max_export_batch_size=512))
    tracer = provider.get_tracer("bench")
    t0 = time.perf_counter()
    for _ in range(n):
        tracer.start_span("empty").end()
    provider.force_flush(600_000)
    seconds = time.perf_counter() - t0
    provider.shutdown()
    return {"seconds": seconds, "spans": n}


def export_part(mb: float) -> None:
    sys.path.insert(0, str(HERE))
    from bench_convert import grow

    with tempfile.TemporaryDirectory(prefix="wk-otlp-") as tmp:
        path = Path(tmp) / "-bench" / "bench-session.jsonl"
        path.parent.mkdir()
        size, lines = grow(path, mb)
        print(f"grew {size / 1e6:,.1f} MB, {lines:,} lines from real records")
        sink_ = Sink()
        try:
            ours = child("ours", str(path), sink_.url)
            got = sink_.count()
            bare = child("bare", str(ours["spans"]), sink_.url)
            got_bare = sink_.count() - got
            send = child("send", str(path), sink_.url)
            got_send = sink_.count() - got - got_bare
        finally:
            sink_.close()
    print(f"\nexport of {size / 1e6:,.0f} MB ({ours['events']:,} events) to an OTLP/HTTP receiver on loopback:")
    print(f"  {'':38} {'spans':>10} {'seconds':>8} {'spans/s':>9} {'at receiver':>12}")
    print(f"  {'watchkeeper export (read+map+send)':38} {ours['spans']:10,} {ours['seconds']:8.2f} "
          f"{ours['spans'] / ours['seconds']:9,.0f} {got:12,}")
    print(f"  {'bare SDK, empty spans (Batch+OTLP)':38} {bare['spans']:10,} {bare['seconds']:8.2f} "
          f"{bare['spans'] / bare['seconds']:9,.0f} {got_bare:12,}")
    print(f"  {'our spans, already folded: send only':38} {send['spans']:10,} {send['seconds']:8.2f} "
          f"{send['spans'] / send['seconds']:9,.0f} {got_send:12,}")
    print(f"  watchkeeper / bare SDK: {(ours['spans'] / ours['seconds']) / (bare['spans'] / bare['seconds']):.2f}x; "
          f"{ours['events'] / ours['seconds']:,.0f} events/s, {size / 1e6 / ours['seconds']:.1f} MB/s read; "
          f"spans not accepted: {ours['failed']}")


# --- continuous export under the live stream --------------------------------------------------


def measure_live(rate: int, seconds: float, url: str | None) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import bench_live_stream as live

    stats: dict[str, Any] = {}
    if url:
        from watchkeeper.export.stream import ContinuousExport

        class ExportingRelay(live.Relay):  # type: ignore[name-defined,misc]
            def start(self) -> Any:
                relay = super().start()
                self.export = ContinuousExport(self, url)
                return relay

            def stop(self, timeout: float = 15.0) -> None:
                self.export.close()
                stats.update(sent=self.export.sent, failed=self.export.failed,
                             dropped=self.export.dropped, received=self.export.received)
                super().stop(timeout)

        live.Relay = ExportingRelay
    result = asyncio.run(live.run_app(rate, seconds))
    return {"lag": result["lag"], "events": result["events"], "export": stats, "cpu": result["cpu"]}


def live_part(rate: int, seconds: float, rounds: int) -> None:
    sink_ = Sink()
    runs: list[tuple[str, dict[str, Any]]] = []
    try:
        for _ in range(rounds):
            runs.append(("app", child("live", str(rate), str(seconds), "")))
            before = sink_.count()
            result = child("live", str(rate), str(seconds), sink_.url)
            result["arrived"] = sink_.count() - before
            runs.append(("app + OTLP export", result))
    finally:
        sink_.close()
    print(f"\nlive stream {rate:,} events/s for {seconds:g} s, app headless 120x40; "
          "lag from emit to row on screen (ms):")
    print(f"  {'':22} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'CPU s':>6}  export")
    for label, r in runs:
        lag, ex = r["lag"], r["export"]
        note = (f"{ex['sent']:,} spans sent ({r['arrived']:,} arrived), {ex['dropped']:,} events dropped, "
                f"{ex['failed']:,} spans failed") if ex else ""
        print(f"  {label:22} {lag['p50']:7.1f} {lag['p90']:7.1f} {lag['p99']:7.1f} {lag['max']:7.1f} "
              f"{r['cpu']:6.1f}  {note}")
    plain = sorted(r["lag"]["p99"] for label, r in runs if label == "app")
    export = sorted(r["lag"]["p99"] for label, r in runs if label != "app")
    ratio = export[len(export) // 2] / plain[len(plain) // 2]
    print(f"  p99 with export / without (medians of {rounds}): {ratio:.2f} "
          f"({'within' if ratio <= 1.10 else 'NOT within'} 10 %)")


# --- plumbing -------------------------------------------------------------------------------


def child(kind: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--measure", kind, *args], capture_output=True, text=True,
                         timeout=3600)
    if out.returncode:
        print(out.stdout, out.stderr, file=sys.stderr)
        sys.exit(f"the {kind} measurement failed")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", choices=["export", "live"])
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        sink()
        return 0
    if args.measure:
        kind, rest = args.measure[0], args.measure[1:]
        if kind == "ours":
            result = measure_ours(Path(rest[0]), rest[1])
        elif kind == "send":
            result = measure_send_only(Path(rest[0]), rest[1])
        elif kind == "bare":
            result = measure_bare(int(rest[0]), rest[1])
        else:
            result = measure_live(int(rest[0]), float(rest[1]), rest[2] if len(rest) > 2 else None)
        print(json.dumps(result))
        return 0
    if args.only != "live":
        export_part(args.mb)
    if args.only != "export":
        live_part(args.rate, args.seconds, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
