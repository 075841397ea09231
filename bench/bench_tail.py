"""Line appended -> event delivered: p50/p99 of the live tail, beside watchfiles' defaults, in one run.

A separate writer process (standing in for the agent) appends protocol lines
at random intervals, each stamped with ``time.monotonic()`` just before its
write (the clock is system-wide, so the reader's clock agrees). Measured:

- baseline: ``watchfiles.awatch`` with its default settings, then the same tailer and converter;
- TranscriptSource: the shared watcher (step 1 ms, debounce 10 ms), to the source's ``emit``;
- relay: the same source run by ``Relay``, to a subscriber's callback (its batching included);

and the CPU the tuned watcher costs while nothing happens. Budget: p99 <= 20 ms to the relay.

Run: ``.venv/bin/python bench/bench_tail.py [--appends 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import awatch

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.adapters.files.tail import Tailer
from watchkeeper.adapters.native import NativeConverter
from watchkeeper.protocol import Event

WRITER = r"""
import os, random, sys, time
import orjson
path, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lo, hi = float(sys.argv[4]), float(sys.argv[5])
rnd = random.Random(seed)
pad = "x" * 1500
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(n):
    time.sleep(rnd.uniform(lo, hi))
    ev = {"v": 1, "id": f"bench:{i}", "ts": "2026-11-27T00:00:00.000Z", "session": "bench", "agent": "main",
          "kind": "notice", "data": {"level": "info", "text": pad, "t0": time.monotonic()}}
    os.write(fd, orjson.dumps(ev) + b"\n")
"""

def writer_argv(path: Path, n: int, seed: int, gap: tuple[float, float]) -> list[str]:
    return [sys.executable, "-c", WRITER, str(path), str(n), str(seed), str(gap[0]), str(gap[1])]


Follower = Callable[[Path, Callable[[list[Event]], None]], Awaitable[None]]


async def follow_with_defaults(path: Path, emit: Callable[[list[Event]], None]) -> None:
    """The baseline: watchfiles as it comes, the same tailer and converter behind it."""
    conv = NativeConverter(path)
    tailer = Tailer(path)

    def read() -> None:
        while True:
            r = tailer.read()
            events = [e for at, line in r.lines for e in conv.feed(line, at)]
            if events:
                emit(events)
            if not r.more:
                return

    read()
    async for _ in awatch(path.parent):
        read()


async def follow_with_source(path: Path, emit: Callable[[list[Event]], None]) -> None:
    await TranscriptSource(path).run(emit)


async def measure(follow: Follower, n: int, seed: int, gap: tuple[float, float]) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="wk-bench-") as d:
        path = Path(d) / "bench.jsonl"
        path.write_bytes(b"")
        lat: list[float] = []

        def emit(batch: list[Event]) -> None:
            now = time.monotonic()
            lat.extend(now - e["data"]["t0"] for e in batch)

        task = asyncio.create_task(follow(path, emit))
        await asyncio.sleep(0.3)
        writer = await asyncio.create_subprocess_exec(*writer_argv(path, n, seed, gap))
        try:
            async with asyncio.timeout(60 + n * gap[1] * 2):
                await writer.wait()
                while len(lat) < n:
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return lat


def measure_relay(n: int, seed: int, gap: tuple[float, float]) -> list[float]:
    from watchkeeper.relay import Relay

    with tempfile.TemporaryDirectory(prefix="wk-bench-") as d:
        path = Path(d) / "bench.jsonl"
        path.write_bytes(b"")
        lat: list[float] = []
        done = threading.Event()

        def on_batch(batch: list[Event]) -> None:
            now = time.monotonic()
            lat.extend(now - e["data"]["t0"] for e in batch if "t0" in e["data"])
            if len(lat) >= n:
                done.set()

        with Relay() as relay:
            relay.subscribe(on_batch)
            relay.add_source(TranscriptSource(path))
            time.sleep(0.3)
            subprocess.run(writer_argv(path, n, seed, gap), check=True)
            done.wait(30)
        return lat


async def idle_cpu(files: int = 1, seconds: float = 3.0) -> float:
    """CPU seconds per wall second this process spends following quiet files (one directory each)."""
    with tempfile.TemporaryDirectory(prefix="wk-bench-") as d:
        tasks = []
        for i in range(files):
            (Path(d) / str(i)).mkdir()
            path = Path(d) / str(i) / "quiet.jsonl"
            path.write_bytes(b"")
            tasks.append(asyncio.create_task(TranscriptSource(path).run(lambda b: None)))
        await asyncio.sleep(1.0)
        c0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        c1, t1 = time.process_time(), time.monotonic()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return (c1 - c0) / (t1 - t0)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1e3


def row(name: str, lat: list[float], n: int) -> str:
    if not lat:
        return f"{name:<44} no events arrived"
    return (f"{name:<44} {len(lat):>5}/{n:<5} p50 {pct(lat, 0.5):7.2f} ms   p99 {pct(lat, 0.99):7.2f} ms"
            f"   max {max(lat) * 1e3:7.2f} ms   mean {statistics.fmean(lat) * 1e3:6.2f} ms")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--appends", type=int, default=300)
    args = ap.parse_args()
    n = args.appends
    quick = (0.002, 0.02)
    print(f"line appended -> event delivered, {n} appends from another process, 1.6 KB lines")
    base = await measure(follow_with_defaults, n, 1, quick)
    ours = await measure(follow_with_source, n, 1, quick)
    print(row("baseline: watchfiles.awatch defaults", base, n))
    print(row("TranscriptSource -> emit (the relay's ingest)", ours, n))
    # Appends further apart than the relay's 50 ms batching window: each one is flushed at once.
    relay = await asyncio.to_thread(measure_relay, n, 2, (0.055, 0.08))
    print(row("TranscriptSource -> Relay -> subscriber", relay, n))
    for files in (1, 100):
        cpu = await idle_cpu(files)
        print(f"idle cost, {files:>3} quiet file(s) followed (one shared watcher, 1 ms step): "
              f"{cpu * 100:.1f}% of one core")


if __name__ == "__main__":
    asyncio.run(main())
