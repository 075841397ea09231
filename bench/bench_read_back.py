"""A restarted ``serve`` reading its recorded sessions back (``relay/owed.py``), beside the orjson floor.

One run records a session of N events (~1 KB each) through a real relay and
recorder, as ``serve`` wires them, and stops without closing anything (as if
killed); a second process, a new relay on the same directory, reads the session
back until every event is in its relay. The floor: ``orjson.loads`` of every
line of the same recording. Printed: both times, the events held in memory
after, the reading process's peak RSS, and that the recording did not grow
(nothing written twice).

Run: ``.venv/bin/python bench/bench_read_back.py [--events 250000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watchkeeper.protocol import Event, Kind, make_event  # noqa: E402
from watchkeeper.relay import Relay  # noqa: E402
from watchkeeper.relay.owed import Ledger, Marks, OwedSource  # noqa: E402
from watchkeeper.relay.recorder import Recorder  # noqa: E402

SESSION = "bench-session"


class Feed:
    """Hands the relay the events, a batch per turn of its loop."""

    name = "feed"

    def __init__(self, n: int) -> None:
        self.n = n

    async def run(self, emit: Any) -> None:
        for a in range(0, self.n, 5000):
            emit(events(a, min(a + 5000, self.n)))
            await asyncio.sleep(0)


def events(a: int, b: int) -> list[Event]:
    return [make_event(f"{SESSION}:{i}", SESSION, Kind.MESSAGE_USER, {"text": f"message {i} " + "x" * 900})
            for i in range(a, b)]


def wired(directory: Path) -> tuple[Relay, Recorder, Ledger]:
    relay = Relay().start()
    recorder = Recorder(directory / "rec", read_range=relay.read_range, want=lambda sid: True)
    relay.subscribe(recorder)
    relay.record_to(recorder)
    ledger = Ledger(Marks(directory / "marks.json"), recorder, None, pushing=False)
    recorder.opened = ledger.opened
    return relay, recorder, ledger


def write(directory: Path, n: int) -> None:
    relay, recorder, _ = wired(directory)
    relay.add_source(Feed(n))
    while recorder.covered(SESSION) < n:
        time.sleep(0.05)
    relay.stop()


def read(directory: Path, n: int) -> None:
    start = time.perf_counter()
    relay, _, ledger = wired(directory)
    tails, notices = ledger.recover()
    done = threading.Event()
    relay.add_source(OwedSource(tails, notices, done.set))
    done.wait()
    while relay.length(SESSION) < n:
        time.sleep(0.001)
    took = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(orjson.dumps({"took": took, "in_memory": relay.in_memory(), "rss": rss}).decode(), flush=True)
    relay.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=250_000)
    parser.add_argument("--role", choices=("write", "read"))
    parser.add_argument("--dir")
    args = parser.parse_args()
    if args.role == "write":
        write(Path(args.dir), args.events)
        return
    if args.role == "read":
        read(Path(args.dir), args.events)
        return
    with tempfile.TemporaryDirectory() as tmp:
        me = [sys.executable, __file__, "--events", str(args.events), "--dir", tmp]
        subprocess.run([*me, "--role", "write"], check=True)
        path = Path(tmp) / "rec" / f"{SESSION}.jsonl"
        size = path.stat().st_size
        start = time.perf_counter()
        with open(path, "rb") as f:
            floor_n = sum(1 for line in f if orjson.loads(line))
        floor = time.perf_counter() - start
        got = orjson.loads(subprocess.run([*me, "--role", "read"], check=True, capture_output=True).stdout)
        grown = path.stat().st_size - size
    print(f"read back {args.events:,} events ({size / 2**20:,.0f} MiB) into a new relay: {got['took']:.2f} s; "
          f"floor (orjson.loads per line, {floor_n:,}): {floor:.2f} s, {got['took'] / floor:.1f}x")
    print(f"events in memory after: {got['in_memory']:,}; peak RSS of the reading process: {got['rss']:.0f} MB; "
          f"recording grew by {grown} bytes (0: nothing written twice)")


if __name__ == "__main__":
    main()
