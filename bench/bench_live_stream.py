"""A live stream of 5,000 events/s for 60 s: lag from emit to screen, and memory over time.

One session streams a realistic mix (prompts, answers, thinking, usage, Bash
and Read calls as started/finished pairs) into a real relay, paced by the
relay's own loop. Two runs, each in its own process so memory figures do not
mix, one after the other:

- baseline: the stream into a plain relay subscriber, no app. Lag is from the
  emit to the subscriber's callback (the relay batches every 50 ms);
- app: the same stream with ``WatchkeeperApp`` open on the session, headless
  at 120×40 under Textual's pilot. Lag is from the emit until the timeline
  renders a row at or after the event (it follows the newest row, so that is
  when the event is on screen: its row, or the call row it updated).

Full collections (generation 2) are timed in both runs: each holds the GIL,
so the UI waits that long.

Memory is the process's RSS, sampled every 5 s. Every event is kept (by the
relay for history and range reads, by the timeline for its rows), so RSS grows
with the event count by design; "flat" is read per event: the growth rate
after the first seconds, and bytes per event, in the app beside the baseline.

``--freeze-every N`` tries another ``gc.freeze()`` period for the process
(``retention.FREEZE_EVERY``: each freeze follows a full collection of what came
since the last, so the period sets how long each of those pauses is), for
comparing against the app as it is.

Budget (DESIGN, issue 17): the app's on-screen p99 ≤ 100 ms, held through the long run; memory per
event stays constant (the long run's ≤ 500 MB is ``bench_long_run.py``'s).

Run: ``.venv/bin/python bench/bench_live_stream.py [--seconds 60] [--rate 5000] [--freeze-every N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from array import array
from collections.abc import Callable
from typing import Any

from watchkeeper.protocol import Emit, Event, make_event
from watchkeeper.relay import Relay

SESSION = "live-stream-bench"
SIZE = (120, 40)
TICK = 0.01
WARMUP_S = 2.0
SAMPLE_EVERY_S = 5.0
TARGET_P99_MS = 100.0


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def event(n: int) -> Event:
    """Event ``n`` of the stream; ``data.n`` says which, so a rendered row names its event."""
    step = n % 8
    if n == 0:
        return make_event("start", SESSION, "session.started",
                          {"agent_kind": "bench", "title": "live stream", "cwd": "/w", "n": 0})
    if step == 0:
        return make_event(f"u{n}", SESSION, "message.user", {"text": f"prompt {n}", "n": n})
    if step == 1:
        return make_event(f"a{n}", SESSION, "message.assistant", {"text": f"answer {n} " * 6, "n": n})
    if step == 2:
        return make_event(f"th{n}", SESSION, "thinking", {"text": "", "hidden": True, "n": n})
    if step == 3:
        return make_event(f"us{n}", SESSION, "usage", {"input_tokens": 100, "output_tokens": 10, "n": n})
    call = f"toolu_{n - step + 4}_{step // 2}"
    if step in (4, 6):
        name, inp = ("Bash", {"command": f"pytest -k t{n}"}) if step == 4 else ("Read", {"file_path": f"/w/m{n}.py"})
        return make_event(f"tool:{call}:started", SESSION, "tool.started",
                          {"call_id": call, "name": name, "input": inp, "n": n})
    return make_event(f"tool:{call}:finished", SESSION, "tool.finished",
                      {"call_id": call, "status": "ok", "is_error": False, "output": f"out {n}",
                       "duration_ms": 120, "n": n})


class Stream:
    """Emits ``rate`` events/s for ``seconds`` after a warm-up; records each event's emit time."""

    name = "bench-stream"

    def __init__(self, rate: int, seconds: float) -> None:
        self.rate, self.total = rate, int(rate * seconds) + 1
        self.emitted = array("d", [0.0]) * self.total
        self.done = asyncio.Event()
        self.started_at = 0.0

    async def run(self, emit: Emit) -> None:
        self.emitted[0] = time.perf_counter()
        emit([event(0)])
        await asyncio.sleep(WARMUP_S)
        loop = asyncio.get_running_loop()
        start = loop.time()
        self.started_at = time.perf_counter()
        n = 1
        while n < self.total:
            due = min(self.total, 1 + int((loop.time() - start) * self.rate))
            if due > n:
                batch = [event(i) for i in range(n, due)]
                now = time.perf_counter()
                for i in range(n, due):
                    self.emitted[i] = now
                emit(batch)
                n = due
            await asyncio.sleep(TICK)


def percentiles(lags: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in lags)
    if not ms:
        return {}

    def at(q: float) -> float:
        return ms[min(len(ms) - 1, int(len(ms) * q))]

    return {"n": len(ms), "p50": statistics.median(ms), "p90": at(0.9), "p99": at(0.99), "max": ms[-1]}


class FullCollections:
    """How long each full collection (generation 2) held the GIL from now on: every thread waited that long."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._t = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") == 2:
            if phase == "start":
                self._t = time.perf_counter()
            else:
                self.pauses.append(time.perf_counter() - self._t)

    def figures(self) -> dict[str, float]:
        ms = sorted(p * 1000 for p in self.pauses) or [0.0]
        return {"n": len(self.pauses), "p50": statistics.median(ms), "max": ms[-1], "total": sum(ms)}


async def sample_memory(samples: list[tuple[float, float]], stop: asyncio.Event, t0: float) -> None:
    while not stop.is_set():
        samples.append((time.perf_counter() - t0, rss_mib()))
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)
        except TimeoutError:
            pass
    samples.append((time.perf_counter() - t0, rss_mib()))


async def run_baseline(rate: int, seconds: float) -> dict[str, Any]:
    stream = Stream(rate, seconds)
    lags: list[float] = []
    counted = [0]

    def on_batch(batch: list[Event]) -> None:
        now = time.perf_counter()
        for e in batch:
            n = e["data"]["n"]
            if n:
                lags.append(now - stream.emitted[n])
        counted[0] += len(batch)

    collections = FullCollections()
    relay = Relay().start()
    relay.subscribe(on_batch, SESSION)
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    t0 = time.perf_counter()
    sampler = asyncio.create_task(sample_memory(samples, stop, t0))
    relay.add_source(stream)
    while counted[0] < stream.total:
        await asyncio.sleep(0.1)
    stop.set()
    await sampler
    relay.stop()
    return {"lag": percentiles(lags), "rss": samples, "events": stream.total, "cpu": time.process_time(),
            "gc": collections.figures()}


def on_screen(seen: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """From now on ``seen(data)`` gets the event data of each timeline row as its line is drawn; the undo.

    Hooked where every line's row is drawn, past Textual's styles pass or through
    it (``RowLines.segments``).

    The session screen follows the newest row, so the first render of a row at
    or after an event is when that event is on screen (its row, or the call row
    it updated): what the lag to the screen is measured to (here and in
    ``bench_hub_fleet.py``).
    """
    from watchkeeper.viewer.widgets.timeline_lines import RowLines

    original: Callable[..., Any] = RowLines.segments

    def segments(self: RowLines, row: int, *args: Any) -> Any:
        drawn = original(self, row, *args)
        store = self.rows.store
        view = store.view
        if row < len(view):
            data = store.events[view[row]].get("data") or {}
            if isinstance(data, dict):
                seen(data)
        return drawn

    RowLines.segments = segments  # type: ignore[method-assign]
    return lambda: setattr(RowLines, "segments", original)


async def run_app(rate: int, seconds: float, freeze_every: int | None = None) -> dict[str, Any]:
    from watchkeeper import retention
    from watchkeeper.viewer import WatchkeeperApp
    from watchkeeper.viewer.screens.session import SessionScreen

    if freeze_every:
        retention.FREEZE_EVERY = freeze_every

    stream = Stream(rate, seconds)
    lags: list[float] = []
    state = {"upto": 0}

    def seen(data: dict[str, Any]) -> None:
        n = data.get("n", 0)
        if n > state["upto"]:
            now = time.perf_counter()
            lags.extend(now - stream.emitted[k] for k in range(state["upto"] + 1, n + 1))
            state["upto"] = n

    on_screen(seen)
    collections = FullCollections()
    relay = Relay().start()
    relay.add_source(stream)
    while not relay.sessions():
        await asyncio.sleep(0.01)
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    app = WatchkeeperApp(relay, open_session=SESSION)
    try:
        async with app.run_test(size=SIZE) as pilot:
            while not isinstance(app.screen, SessionScreen):
                await pilot.pause(0.01)
            t0 = time.perf_counter()
            sampler = asyncio.create_task(sample_memory(samples, stop, t0))
            deadline = time.monotonic() + WARMUP_S + seconds + 30
            while state["upto"] < stream.total - 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            stop.set()
            await sampler
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            shown = len(screen.timeline.store.events)
    finally:
        relay.stop()
    return {"lag": percentiles(lags), "rss": samples, "events": stream.total, "shown": shown,
            "cpu": time.process_time(), "freeze_every": retention.FREEZE_EVERY, "gc": collections.figures()}


def growth(samples: list[tuple[float, float]], events_per_s: float, after: float = 10.0) -> tuple[float, float]:
    """MiB/s and bytes/event of RSS growth from ``after`` seconds to the end."""
    later = [(t, m) for t, m in samples if t >= after]
    if len(later) < 2:
        return 0.0, 0.0
    (t0, m0), (t1, m1) = later[0], later[-1]
    rate = (m1 - m0) / (t1 - t0) if t1 > t0 else 0.0
    return rate, rate * 2**20 / events_per_s


def report(base: dict[str, Any], app: dict[str, Any], rate: int, seconds: float) -> None:
    print(f"live stream: {rate:,} events/s for {seconds:g} s ({base['events']:,} events), one session; "
          f"app headless {SIZE[0]}x{SIZE[1]}; gc.freeze() every {app['freeze_every']:,} events in the app")
    print(f"\nlag from emit (ms)            {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'events':>9}")
    for label, run in (("baseline: relay subscriber", base), ("app: row on screen", app)):
        lag = run["lag"]
        print(f"  {label:<27} {lag['p50']:8.1f} {lag['p90']:8.1f} {lag['p99']:8.1f} {lag['max']:8.1f} "
              f"{lag['n']:9,}")
    verdict = "met" if app["lag"]["p99"] <= TARGET_P99_MS else "MISSED"
    print(f"  target: app p99 <= {TARGET_P99_MS:.0f} ms: {verdict}; rows in the app's timeline at the end: "
          f"{app['shown']:,} of {app['events']:,} events")
    print("\nfull collections (gen 2), each a pause of every thread:")
    for label, run in (("baseline", base), ("app", app)):
        g = run["gc"]
        print(f"  {label:<9} {g['n']:4.0f}   p50 {g['p50']:6.1f} ms  max {g['max']:6.1f} ms  "
              f"total {g['total']:7.0f} ms")
    print("\nRSS (MiB) every 5 s from the stream's start (warm-up included), and bytes per event since the last:")
    print(f"  {'t (s)':>6} {'baseline':>9} {'B/event':>8} {'app':>9} {'B/event':>8}")
    rows = list(zip(base["rss"], app["rss"], strict=False))
    for i, ((t, mb), (_, ma)) in enumerate(rows):
        per = ["", ""]
        if i:
            (t0, mb0), (_, ma0) = rows[i - 1]
            events = max(1.0, (t - t0) * rate)
            per = [f"{(mb - mb0) * 2**20 / events:8,.0f}", f"{(ma - ma0) * 2**20 / events:8,.0f}"]
        print(f"  {t:6.0f} {mb:9.1f} {per[0]:>8} {ma:9.1f} {per[1]:>8}")
    for label, run in (("baseline", base), ("app", app)):
        rate_mb, per_event = growth(run["rss"], rate)
        print(f"  {label:<9} after 10 s: {rate_mb:6.2f} MiB/s = {per_event:,.0f} bytes per event; "
              f"CPU {run['cpu']:.1f} s")
    print("  (every event is kept by design; growth per event that stays constant is what 'flat' means here)")


def child(phase: str, rate: int, seconds: float, freeze_every: int | None) -> None:
    result = asyncio.run(run_app(rate, seconds, freeze_every) if phase == "app" else run_baseline(rate, seconds))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--freeze-every", type=int, metavar="N", help="gc.freeze() every N events in the app")
    parser.add_argument("--phase", choices=["baseline", "app"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        child(args.phase, args.rate, args.seconds, args.freeze_every)
        return
    results = {}
    for phase in ("baseline", "app"):
        extra = ["--freeze-every", str(args.freeze_every)] if args.freeze_every else []
        out = subprocess.run([sys.executable, __file__, "--phase", phase, "--rate", str(args.rate),
                              "--seconds", str(args.seconds), *extra], capture_output=True, text=True,
                             timeout=args.seconds * 3 + 120)
        if out.returncode:
            print(out.stdout, out.stderr, file=sys.stderr)
            sys.exit(f"the {phase} run failed")
        results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
    report(results["baseline"], results["app"], args.rate, args.seconds)


if __name__ == "__main__":
    main()
