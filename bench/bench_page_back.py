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

Then, while a read converts the file from its start to the middle of the history (a
viewer jumping there): a live event of another session, emit to subscriber, beside the
same with no read running (the relay's lock is not held through a read back); and the
same read given up (``relay.api.cancellable``) halfway through: how soon it stops.

Run: ``.venv/bin/python bench/bench_page_back.py [--mb 200] [--pages 400]``.
"""

from __future__ import annotations

import argparse
import itertools
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
from watchkeeper.protocol import Event, make_event  # noqa: E402
from watchkeeper.relay import IterSource, Relay  # noqa: E402
from watchkeeper.relay.api import ReadCancelled, cancellable  # noqa: E402

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


_LIVE = itertools.count()


def live_latency(relay: Relay, running: threading.Event | None, most: int = 50) -> list[float]:
    """Emit to subscriber of one event at a time of another session, while ``running`` is set (or ``most``)."""
    got = threading.Event()
    sub = relay.subscribe(lambda batch: got.set(), "bench-live")
    took = []
    try:
        for _ in range(most):
            if running is not None and not running.is_set():
                break
            got.clear()
            t0 = time.perf_counter()
            eid = f"live:{next(_LIVE)}"  # the relay drops a repeated id
            relay.add_source(IterSource(eid, [make_event(eid, "bench-live", "message.user", {})]))
            assert got.wait(60), "a live event never came"
            took.append(time.perf_counter() - t0)
    finally:
        sub.close()
    return took


def during_a_read(relay: Relay, session: str, start: int, end: int, backing: Any) -> None:
    """Live events while a read converts from the file's start to the middle; then that read given up."""
    middle = (start + end) // 2
    span = (middle, middle + CHUNK)
    print(f"  a live event, no read running      {figures(live_latency(relay, None, 20))}")
    backing._cursors.clear()
    backing._recent.clear()
    running, took, given_up = threading.Event(), [], []

    def read(gave_up: threading.Event | None = None) -> None:
        t0 = time.perf_counter()
        try:
            if gave_up is None:
                relay.read_range(session, *span)
            else:
                with cancellable(gave_up.is_set):
                    relay.read_range(session, *span)
        except ReadCancelled:
            given_up.append(True)
        took.append(time.perf_counter() - t0)
        running.clear()

    running.set()
    reader = threading.Thread(target=read)
    reader.start()
    live = live_latency(relay, running, 10_000)
    reader.join()
    print(f"  a live event, a read running        {figures(live)}  (the read: {took[-1]:.2f} s)")
    backing._cursors.clear()
    backing._recent.clear()
    stop = threading.Event()
    reader = threading.Thread(target=read, args=(stop,))
    reader.start()
    time.sleep(took[-1] / 2)
    t0 = time.perf_counter()
    stop.set()
    reader.join()
    stopped = (time.perf_counter() - t0) * 1000
    print(f"  that read, given up halfway: {'stopped' if given_up else 'NOT given up, done'} {stopped:.1f} ms later")


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
            during_a_read(relay, session, start, end, backing)
        finally:
            relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
