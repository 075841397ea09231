"""The timeline with 1,000,000 events in one session: cursor moves and pages, beside an empty app.

Events go through the real relay into the real app (``WatchkeeperApp``, the
session screen), headless at 120×40 under Textual's pilot. Printed, in one run:

- setup: relay ingest, and the session's history reaching the timeline;
- under the pilot, per key press including the frame it causes (``press`` then
  ``pause``): an empty app (the pilot's own floor), the timeline with 1,000
  events, and with ``--events``;
- the widget's own work per key, without the pilot: the action plus rendering
  every line on screen (a page down misses the strip cache on every line).
  This is the figure to hold against one frame (16.7 ms at 60 fps);
- ``u`` (usage and state rows shown, then hidden again): one view built in a
  worker per press, until the app is idle with the new view in place.

The events are generated as the relay reads them (``IterSource`` over a
generator), so the process's RSS is the relay's and the app's, not a list the
benchmark holds. Budget (issue 17): the whole history in the timeline ≤ 3 s,
RSS ≤ 400 MB; per-key CPU p99 ≤ 16.7 ms, measured as a person's key costs it by
``bench_keys.py`` (a real terminal): the pilot's figures here include its own
wait for every widget on the screen, twice a key.

Run: ``.venv/bin/python bench/bench_timeline.py [--events 1000000] [--presses 1000]`` (~9 minutes: the pilot
takes ~80 ms of wall time a key; 1,000 presses give each page key 500 samples, so the p99 is not one outlier).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Static

from watchkeeper.protocol import Event, make_event
from watchkeeper.relay import IterSource, Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.widgets.timeline import Timeline

SESSION = "bench-session"
SIZE = (120, 40)
FRAME_MS = 1000 / 60


def ts(i: int) -> str:
    s = i // 10
    return f"2026-11-27T{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{i % 10}00Z"


def session_events(n: int) -> list[Event]:
    """A realistic mix: prompts, answers, thinking, Bash/Read/Edit calls (two events each), usage."""
    return list(iter_events(n))


def iter_events(n: int) -> Iterator[Event]:
    """:func:`session_events` one at a time, none kept."""
    if n <= 0:
        return
    yield make_event("start", SESSION, "session.started",
                     {"agent_kind": "claude-code", "title": "bench", "cwd": "/w"}, ts=ts(0))
    k, i = 1, 0
    while k < n:
        i += 1
        step = i % 6
        if step == 0:
            yield make_event(f"u{i}", SESSION, "message.user", {"text": f"prompt {i}"}, ts=ts(k))
        elif step == 1:
            yield make_event(f"a{i}", SESSION, "message.assistant", {"text": f"answer {i} " * 8}, ts=ts(k))
        elif step == 2:
            yield make_event(f"th{i}", SESSION, "thinking", {"text": "", "hidden": True}, ts=ts(k))
        elif step == 3:
            yield make_event(f"us{i}", SESSION, "usage", {"input_tokens": 100, "output_tokens": 10}, ts=ts(k))
        else:
            name, inp = (("Bash", {"command": f"pytest -k t{i}"}) if step == 4
                         else ("Read", {"file_path": f"/w/src/m{i}.py"}))
            call = f"toolu_{i}"
            yield make_event(f"tool:{call}:started", SESSION, "tool.started",
                             {"call_id": call, "name": name, "input": inp}, ts=ts(k))
            k += 1
            if k >= n:
                return
            status = "error" if i % 50 == 0 else "ok"
            yield make_event(f"tool:{call}:finished", SESSION, "tool.finished",
                             {"call_id": call, "status": status, "is_error": status == "error",
                              "output": f"out {i}", "duration_ms": 120}, ts=ts(k))
        k += 1


class Empty(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("empty", id="x")


def stats(samples: list[float]) -> str:
    """Mean, p50 and p99 (nearest rank: of 100 samples the 99th, not the slowest)."""
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[max(0, math.ceil(len(ms) * 0.99) - 1)]
    return f"mean {statistics.fmean(ms):6.2f} ms  p50 {statistics.median(ms):6.2f}  p99 {p99:6.2f}  (n={len(ms)})"


async def timed(pilot: Any, keys: list[str]) -> tuple[list[float], list[float]]:
    """Wall time and CPU time (all threads) per key, from the press until the app is idle again."""
    wall, cpu = [], []
    for key in keys:
        t0, c0 = time.perf_counter(), time.process_time()
        await pilot.press(key)
        await pilot.pause()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


async def pilot_figures(pilot: Any, presses: int) -> dict[str, tuple[list[float], list[float]]]:
    return {
        "cursor down": await timed(pilot, ["down"] * presses),
        "cursor up": await timed(pilot, ["up"] * presses),
        "page down": await timed(pilot, ["pagedown"] * (presses // 2)),
        "page up": await timed(pilot, ["pageup"] * (presses // 2)),
        "end / home": await timed(pilot, ["end", "home"] * 10),
    }


async def quiet_toggles(pilot: Any, presses: int) -> tuple[list[float], list[float]]:
    """``u`` pressed ``presses`` times: wall and CPU time until the view is rebuilt and drawn."""
    wall, cpu = [], []
    for _ in range(presses):
        t0, c0 = time.perf_counter(), time.process_time()
        await pilot.press("u")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def widget_figures(timeline: Timeline, presses: int) -> dict[str, list[float]]:
    """The action and a full-screen render, no pilot: what one key costs the UI thread."""
    height = timeline.scrollable_content_region.height

    def run(action: Callable[[], None], n: int) -> list[float]:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            action()
            timeline.render_lines(Region(0, 0, timeline.size.width, height))
            out.append(time.perf_counter() - t0)
        return out

    timeline.action_first()
    return {
        "cursor down": run(timeline.action_cursor_down, presses),
        "page down": run(timeline.action_page_down, presses),
        "page up": run(timeline.action_page_up, presses),
        "end": run(timeline.action_last, 5),
    }


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / (1 << 20)


async def session_app(n: int, presses: int, label: str) -> None:
    t0 = time.perf_counter()
    relay = Relay().start()
    relay.add_source(IterSource("bench", iter_events(n)))
    relay.drain(600)
    ingest = time.perf_counter() - t0
    app = WatchkeeperApp(relay, open_session=SESSION)
    t0 = time.perf_counter()
    try:
        async with app.run_test(size=SIZE) as pilot:
            while not isinstance(app.screen, SessionScreen) or len(app.screen.timeline.store.events) < n:
                await pilot.pause(0.05)
            screen = app.screen
            await app.workers.wait_for_complete()
            await pilot.pause()
            loaded = time.perf_counter() - t0
            rss = rss_mib()
            timeline = screen.timeline
            timeline.focus()
            await pilot.press("home")
            print(f"\n{label}: {n:,} events, {len(timeline.store.view):,} rows")
            print(f"  relay ingest {ingest:6.2f} s; app start to the whole history in the timeline {loaded:6.2f} s"
                  f" (budget 3 s); RSS then {rss:,.0f} MiB")
            print("  under the pilot, per key until idle again (wall; then CPU of the whole process):")
            for name, (wall, cpu) in (await pilot_figures(pilot, presses)).items():
                print(f"    {name:<12} wall {stats(wall)}")
                print(f"    {'':<12} cpu  {stats(cpu)}")
            print(f"  the widget's own work per key (action + render {timeline.size.height} lines):")
            for name, samples in widget_figures(timeline, presses).items():
                print(f"    {name:<12} {stats(samples)}")
            heads = len(timeline.store.heads)
            hidden = heads - len(timeline.store.view)
            wall, cpu = await quiet_toggles(pilot, 6)
            assert len(timeline.store.view) == heads - hidden, "an even number of presses hides them again"
            print(f"  u: the {hidden:,} usage and state rows (of {heads:,}) shown, then hidden again; per press,"
                  " until the new view is drawn:")
            print(f"    {'u':<12} wall {stats(wall)}")
            print(f"    {'':<12} cpu  {stats(cpu)}")
    finally:
        relay.stop()


async def main(n: int, presses: int) -> None:
    print(f"Textual headless {SIZE[0]}x{SIZE[1]}; one frame at 60 fps = {FRAME_MS:.1f} ms")
    app = Empty()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        wall, cpu = await timed(pilot, ["down"] * presses)
    print(f"\nbaseline: an empty app, per key until idle again\n    {'key':<12} wall {stats(wall)}")
    print(f"    {'':<12} cpu  {stats(cpu)}")
    await session_app(1000, presses, "timeline, small")
    await session_app(n, presses, "timeline, large")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {rss:,.0f} MiB")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--presses", type=int, default=1000,
                        help="key presses per key (half for the page keys); a p99 needs some hundreds")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.presses))


if __name__ == "__main__":
    cli()
