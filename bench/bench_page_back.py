"""Paging back through a huge transcript's history, as a person scrolling up from the end does.

A transcript's history is read back from the transcript itself (``adapters/files/backing.py``):
reading forward continues a cursor, but a read before every cursor converts the file
again from its start. Grows a Claude Code transcript (``bench_convert.grow``, 200 MB by
default) in a temporary directory, indexes it in a relay alone (``TranscriptSource``,
tail-first), lets the subscriber catch up, then reads the history back by
``Relay.read_range`` in chunks of 256 (the viewer's), from the end towards the start,
for ``--pages`` chunks; each read timed; then again with nothing kept behind a read
(``BEHIND = 0``, as before it was kept). The floor, same run: the same chunks read
forward from the start (a cursor continued). Printed: p50 / p99 / max per chunk, and
how many conversions from the file's start each took.

Run: ``.venv/bin/python bench/bench_page_back.py [--mb 200] [--pages 400]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_convert import grow  # noqa: E402
from watchkeeper.adapters.files import backing as backing_module  # noqa: E402
from watchkeeper.adapters.files.source import TranscriptSource  # noqa: E402
from watchkeeper.protocol import Event  # noqa: E402
from watchkeeper.relay import Relay  # noqa: E402

CHUNK = 256


def figures(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):8.1f} ms  p99 {p99:8.1f}  max {ms[-1]:8.1f}  (n={len(ms)})"


def timed_reads(relay: Relay, session: str, spans: list[tuple[int, int]], backing: object) -> tuple[list[float], int]:
    before = backing.passes  # type: ignore[attr-defined]
    took = []
    for a, b in spans:
        t0 = time.perf_counter()
        got = relay.read_range(session, a, b)
        took.append(time.perf_counter() - t0)
        assert [e["seq"] for e in got] == list(range(a, b)), (a, b)
    return took, backing.passes - before  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200, help="size of the grown transcript (default 200)")
    parser.add_argument("--pages", type=int, default=400, help="chunks of 256 read back (default 400)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wk-page-back-") as tmp:
        path = Path(tmp) / "-proj" / "grown.jsonl"
        path.parent.mkdir()
        size, lines = grow(path, args.mb)
        print(f"grew {size / 1e6:,.1f} MB, {lines:,} lines")
        relay = Relay(spill_dir=tmp).start()
        try:
            swapped = threading.Event()
            caught: list[int] = []

            def took(batch: list[Event]) -> None:
                caught.append(batch[-1]["seq"])

            with path.open("rb") as f:
                session = next(str(r["sessionId"]) for r in map(orjson.loads, f) if r.get("sessionId"))
            relay.subscribe(took, session, on_resync=lambda *_: swapped.set())
            relay.add_source(TranscriptSource(path, follow=True))
            if not swapped.wait(600):
                print("the history was never indexed")
                return 1
            info = next(i for i in relay.sessions() if i.session == session)
            end, start = info.last_seq + 1, info.history_from
            while not caught or caught[-1] < end - 1:
                time.sleep(0.05)
            backing: Any = relay._book.stream(session).segments[0].backing  # type: ignore[union-attr]
            back = [(max(b - CHUNK, start), b) for b in range(end, start, -CHUNK)][:args.pages]
            forward = [(a, min(a + CHUNK, end)) for a in range(start, end, CHUNK)][:args.pages]
            print(f"{end - start:,} events in the history; chunks of {CHUNK}, {len(back)} read each way")
            fwd, fwd_passes = timed_reads(relay, session, forward, backing)
            print(f"  forward from the start (the floor)  {figures(fwd)}  {fwd_passes} conversions from the start")
            for behind, label in ((backing_module.BEHIND, "back from the end"),
                                  (0, "back, nothing kept behind a read")):
                backing._recent.clear()  # each pass from the same start: nothing read before it kept
                backing._recent_bytes = 0
                backing._cursors.clear()
                backing_module.BEHIND = behind
                bwd, bwd_passes = timed_reads(relay, session, back, backing)
                print(f"  {label:<35} {figures(bwd)}  {bwd_passes} conversions from the start")
        finally:
            relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
