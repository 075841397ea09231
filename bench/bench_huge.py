"""A huge Claude Code transcript (1 GB by default): first screen live, first events replayed, the background index.

Grows the transcript from real records (``bench_convert.grow``: the real sample
sessions repeated with every id rewritten) in a temporary directory, deleted
afterwards, and prints ``wc -l`` on it. Then, each in a fresh process:

- toolong:  the Toolong-like baseline — mmap the file and find its last 100
            line offsets (its first screen, raw lines); the whole line index
            (every newline); ``orjson.loads`` of every line (the parsing floor).
- live:     the app (``WatchkeeperApp``, headless 120×40 under its pilot) with a
            relay following the file (``TranscriptSource``, tail-first): from
            adding the source to the newest event on screen; to the whole file
            indexed in the relay; to the whole history adopted by the timeline.
            Meanwhile the UI loop's lag (a 10 ms timer) and key presses (up/down,
            until idle) are measured, and the relay loop's lag (a 5 ms probe).
- replay:   the source ``watchkeeper replay`` uses (a one-shot ``TranscriptSource``)
            into the replay app when it is there (else the same app): from adding
            the source to the first events at a relay subscriber and on screen;
            to every event in the relay; to every event in the timeline.

- start:    issue 17's item 2, each figure beside its floor: the real ``watchkeeper watch``
            (``--session``, ``--no-hooks``) in tmux (120×40), from spawning it to the
            newest message (a marker prompt appended to the file) on the terminal's screen,
            beside the *import floor*: a process, spawned in tmux the same way, that imports
            what the first screen cannot do without (``FLOOR_IMPORTS``: Textual's app, driver
            and the widgets the session screen composes, orjson) and says so. Budget: the
            first screen within 0.25 s of the floor; the whole history indexed (the relay
            alone) within 2× the orjson floor; peak RSS ≤ 400 MB once the whole history is in
            the app's timeline (the in-app figure; the relay-alone peak says what the relay's
            share is).

Peak RSS is the measuring process's. Run:
``.venv/bin/python bench/bench_huge.py [--mb 1024]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import mmap
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 40)
#: The import floor (issue 17: "importing textual and the rest"): what the first screen of a session
#: cannot do without — the app, its relay and the transcript source — imported, and nothing run.
FLOOR_IMPORTS = ("watchkeeper.viewer.app", "watchkeeper.relay.hub", "watchkeeper.adapters.files.source",
                 "textual.drivers.linux_driver")
#: A stricter floor, for scale: only the Textual pieces the session screen composes, and orjson.
TEXTUAL_IMPORTS = ("textual.app", "textual.containers", "textual.widgets._header", "textual.widgets._input",
                   "textual.widgets._static", "textual.widgets._footer", "textual.scroll_view",
                   "textual.drivers.linux_driver", "orjson")
#: Budgets of issue 17, item 2.
FIRST_SCREEN_OVER_FLOOR = 0.25
INDEX_OVER_FLOOR = 2.0
PEAK_RSS_MB = 400
MARKER = "wk-bench-newest-prompt"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """The resident set now (``/proc/self/statm``), after a full collection."""
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- the baseline ----------------------------------------------------------------------


def last_line_offsets(path: Path, n: int) -> list[int]:
    """Where each of the last ``n`` complete lines starts, oldest first: Toolong's first screen, the baseline."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return []
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            end = size - 1 if mm[size - 1:size] == b"\n" else mm.rfind(b"\n")
            if end < 0:
                return []
            out: list[int] = []
            while end >= 0 and len(out) < n:
                start = mm.rfind(b"\n", 0, end) + 1
                out.append(start)
                end = start - 1
            out.reverse()
            return out


def measure_toolong(path: Path) -> dict[str, Any]:
    import orjson

    t0 = time.perf_counter()
    offsets = last_line_offsets(path, 100)
    last100 = time.perf_counter() - t0
    t0 = time.perf_counter()
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        count, find, at = 0, mm.find, mm.find(b"\n")
        while at >= 0:
            count += 1
            at = find(b"\n", at + 1)
    index_all = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    loads = orjson.loads
    with path.open("rb") as f:
        for line in f:
            loads(line)
    loads_all, loads_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"last100": last100, "found": len(offsets), "index_all": index_all, "lines": count,
            "loads_all": loads_all, "loads_cpu": loads_cpu, "peak_mb": peak_mb()}


# --- probes -----------------------------------------------------------------------------


class LoopLag:
    """How late a loop wakes from a short sleep: what a key press or a live event would wait."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    def start(self) -> LoopLag:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(self.period)
            self.samples.append(time.perf_counter() - t - self.period)

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def figures(self) -> dict[str, float]:
        ms = sorted(x * 1000 for x in self.samples) or [0.0]
        return {"p50": statistics.median(ms), "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))], "max": ms[-1],
                "n": len(ms)}


class GcPauses:
    """Full collections (generation 2) and how long each held the GIL: every thread waited that long."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._t = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._t)

    def figures(self) -> dict[str, float]:
        return {"n": len(self.pauses), "max": max(self.pauses, default=0.0) * 1000,
                "total": sum(self.pauses) * 1000}


def key_figures(samples: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in samples) or [0.0]
    return {"p50": statistics.median(ms), "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))], "max": ms[-1],
            "n": len(ms)}


def relay_lag(relay: Any) -> LoopLag:
    lag = LoopLag(0.005)
    relay._loop.call_soon_threadsafe(lag.start)
    return lag



async def press(app: Any, timeline: Any, key: str, timeout: float = 30.0) -> float:
    """Seconds from a key arriving (as from the terminal) until the timeline's cursor moved.

    Not ``pilot.press``: that waits for the whole process to go idle, which it
    never does while a background conversion runs.
    """
    from textual import events

    old = timeline.cursor
    t = time.perf_counter()
    app._driver.send_message(events.Key(key, None))
    while timeline.cursor == old and time.perf_counter() - t < timeout:
        await asyncio.sleep(0.0005)
    return time.perf_counter() - t


def on_screen(app: Any) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def until(pilot: Any, cond: Any, timeout: float = 600.0, step: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s: {cond}")
        await pilot.pause(step)


# --- opened live ------------------------------------------------------------------------


async def measure_live(path: Path, session: str, newest: str) -> dict[str, Any]:
    from watchkeeper.adapters.files.source import TranscriptSource
    from watchkeeper.relay import Relay
    from watchkeeper.viewer import WatchkeeperApp
    from watchkeeper.viewer.screens.session import SessionScreen

    relay = Relay().start()
    out: dict[str, Any] = {}
    gcw = GcPauses()
    try:
        rlag = relay_lag(relay)
        app = WatchkeeperApp(relay, open_session=session)
        t_app = time.perf_counter()
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, SessionScreen))
            await pilot.pause()
            out["app_start"] = time.perf_counter() - t_app
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            timeline = screen.timeline
            firsts: list[float] = []
            relay.subscribe(lambda batch: firsts.append(time.perf_counter()) if not firsts else None, session)
            t0 = time.perf_counter()
            relay.add_source(TranscriptSource(path, follow=True))
            await until(pilot, lambda: any(e["id"] == newest for e in timeline.store.events[-500:]))
            out["newest_in_timeline"] = time.perf_counter() - t0
            out["first_at_relay"] = firsts[0] - t0
            head = next(i for i in range(len(timeline.store.events) - 1, -1, -1)
                        if timeline.store.events[i]["id"] == newest)
            row = timeline.render_row(head, timeline.scrollable_content_region.width).text.rstrip()[:60]
            await until(pilot, lambda: row in on_screen(app))
            out["newest_on_screen"] = time.perf_counter() - t0
            out["newest_is_last_row"] = timeline.cursor == len(timeline.store.view) - 1
            out["tail_events"] = len(timeline.store.events)
            ui = LoopLag(0.01).start()
            keys: list[float] = []
            info = relay.session(session)
            i = 0
            while info is None or not info.history_from:
                keys.append(await press(app, timeline, "up" if i % 2 == 0 else "down"))
                i += 1
                await pilot.pause(0.02)
                info = relay.session(session)
            out["indexed"] = time.perf_counter() - t0
            out["events"] = info.events
            out["keys_indexing"] = key_figures(keys)
            keys = []
            while screen._reload is not None or len(timeline.store.events) < info.events:
                keys.append(await press(app, timeline, "up" if i % 2 == 0 else "down"))
                i += 1
                await pilot.pause(0.02)
            out["on_screen"] = time.perf_counter() - t0
            out["keys_loading"] = key_figures(keys)
            ui.stop()
            out["ui_lag"] = ui.figures()
            out["rows"] = len(timeline.store.view)
            out["rss_loaded"] = rss_mb()
    finally:
        relay._loop.call_soon_threadsafe(rlag.stop)
        relay.stop()
    out["relay_lag"] = rlag.figures()
    out["gc"] = gcw.figures()
    out["peak_mb"] = peak_mb()
    return out


def measure_live_relay(path: Path, session: str) -> dict[str, Any]:
    """The relay alone, following the file: the tail's first batch, then the swap to the whole history."""
    from watchkeeper.adapters.files.source import TranscriptSource
    from watchkeeper.relay import Relay

    firsts: list[float] = []
    resynced: list[float] = []
    relay = Relay().start()
    try:
        relay.subscribe(lambda batch: firsts.append(time.perf_counter()) if not firsts else None, session,
                        on_resync=lambda *_: resynced.append(time.perf_counter()))
        t0, c0 = time.perf_counter(), time.process_time()
        relay.add_source(TranscriptSource(path, follow=True))
        while not resynced:
            time.sleep(0.005)
        indexed, cpu = resynced[0] - t0, time.process_time() - c0
        rss = rss_mb()
    finally:
        relay.stop()
    return {"first": firsts[0] - t0, "indexed": indexed, "cpu": cpu, "peak_mb": peak_mb(), "rss": rss}


# --- replayed ---------------------------------------------------------------------------


def measure_replay_relay(path: Path, session: str) -> dict[str, Any]:
    """The relay alone: what the replay screen is fed, from the first batch to the last."""
    from watchkeeper.adapters.files.source import TranscriptSource
    from watchkeeper.relay import Relay

    firsts: list[float] = []
    relay = Relay().start()
    try:
        relay.subscribe(lambda batch: firsts.append(time.perf_counter()) if not firsts else None, session)
        t0 = time.perf_counter()
        relay.add_source(TranscriptSource(path, follow=False))
        relay.drain(600)
        done = time.perf_counter() - t0
        info = relay.session(session)
    finally:
        relay.stop()
    return {"first": firsts[0] - t0, "converted": done, "events": info.events if info else 0, "peak_mb": peak_mb()}


async def measure_replay(path: Path, session: str) -> dict[str, Any]:
    """The replay app (speed 1) on the source ``watchkeeper replay`` uses: first rows, then a busy relay."""
    from watchkeeper.adapters.files.source import TranscriptSource
    from watchkeeper.relay import Relay
    from watchkeeper.viewer import WatchkeeperApp
    from watchkeeper.viewer.screens.session import SessionScreen

    relay = Relay().start()
    out: dict[str, Any] = {}
    gcw = GcPauses()
    try:
        try:
            from watchkeeper.viewer.replay_app import ReplayApp

            app: Any = ReplayApp(relay, open_session=session, speed=1.0)
            out["app"] = "ReplayApp, speed 1"
        except Exception as e:
            app = WatchkeeperApp(relay, open_session=session)
            out["app"] = f"WatchkeeperApp (no replay app: {e!r})"
        rlag = relay_lag(relay)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, SessionScreen))
            await pilot.pause()
            timeline = app.screen.timeline
            ui = LoopLag(0.01).start()
            t0 = time.perf_counter()
            relay.add_source(TranscriptSource(path, follow=False))
            await until(pilot, lambda: len(timeline.store.view) > 0)
            out["first_in_timeline"] = time.perf_counter() - t0
            head = timeline.store.view[0]
            row = timeline.render_row(head, timeline.scrollable_content_region.width).text.rstrip()[:60]
            await until(pilot, lambda: row in on_screen(app))
            out["first_on_screen"] = time.perf_counter() - t0
            drained = asyncio.get_running_loop().run_in_executor(None, relay.drain, 600)
            keys: list[float] = []
            i = 0
            while not drained.done():
                keys.append(await press(app, timeline, "up" if i % 2 == 0 else "down"))
                i += 1
                await pilot.pause(0.02)
            out["converted"] = time.perf_counter() - t0
            out["keys"] = key_figures(keys)
            ui.stop()
            out["ui_lag"] = ui.figures()
    finally:
        relay._loop.call_soon_threadsafe(rlag.stop)
        relay.stop()
    out["relay_lag"] = rlag.figures()
    out["gc"] = gcw.figures()
    out["peak_mb"] = peak_mb()
    return out


# --- from process start, in a real terminal -------------------------------------------------


class Terminal:
    """A tmux server of our own (no config file) with one 120×40 window running one command."""

    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", f"wk-bench-{name}-{os.getpid()}", "-f", "/dev/null"]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=10).stdout

    def until_on_screen(self, command: list[str], text: str, env: dict[str, str],
                        timeout: float = 60.0) -> tuple[float, float]:
        """Seconds from spawning ``command`` until ``text`` is on the terminal's screen (polled every 5 ms),
        and the CPU seconds its processes had used by then (what other work on the machine disturbs less)."""
        t0 = time.perf_counter()
        subprocess.run([*self.base, "new-session", "-d", "-s", "wk", "-x", str(SIZE[0]), "-y", str(SIZE[1]),
                        *[f"-e{k}={v}" for k, v in env.items()], shlex.join(command)], check=True, timeout=10)
        try:
            while time.perf_counter() - t0 < timeout:
                if text in self("capture-pane", "-p", "-t", "wk"):
                    wall = time.perf_counter() - t0
                    return wall, cpu_of_tree(int(self("list-panes", "-t", "wk", "-F", "#{pane_pid}").split()[0]))
                time.sleep(0.005)
            raise TimeoutError(f"{text!r} not on screen within {timeout}s:\n{self('capture-pane', '-p', '-t', 'wk')}")
        finally:
            self("kill-server")


def cpu_of_tree(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every process below it (``/proc``)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, todo = {pid}, [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in tree:
                tree.add(child)
                todo.append(child)
    return sum(cpu.get(p, 0.0) for p in tree)


def measure_start(path: Path, session: str, runs: int) -> dict[str, Any]:
    """The import floor and the first screen of ``watchkeeper watch`` on the file, alternated ``runs`` times."""
    exe = Path(sys.executable).parent
    ready = "wk-floor-ready"

    def importer(modules: tuple[str, ...]) -> list[str]:
        return [sys.executable, "-c", f"import {', '.join(modules)}; print({ready!r}, flush=True); "
                "import sys; sys.stdin.read()"]

    floor_cmd, textual_cmd = importer(FLOOR_IMPORTS), importer(TEXTUAL_IMPORTS)
    app_cmd = [str(exe / "watchkeeper"), "watch", "--no-default-roots", "--root", str(path.parent.parent),
               "--session", session, "--no-hooks"]
    floors: list[tuple[float, float]] = []
    textuals: list[tuple[float, float]] = []
    firsts: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="wk-home-") as home:
        env = {"WATCHKEEPER_HOME": home, "TERM": "xterm-256color"}
        for i in range(runs):
            floors.append(Terminal(f"floor{i}").until_on_screen(floor_cmd, ready, env))
            textuals.append(Terminal(f"textual{i}").until_on_screen(textual_cmd, ready, env))
            firsts.append(Terminal(f"app{i}").until_on_screen(app_cmd, MARKER, env))
    return {"floor": statistics.median(w for w, _ in floors), "floors": [w for w, _ in floors],
            "floor_cpu": statistics.median(c for _, c in floors),
            "textual": statistics.median(w for w, _ in textuals),
            "first": statistics.median(w for w, _ in firsts), "firsts": [w for w, _ in firsts],
            "first_cpu": statistics.median(c for _, c in firsts)}


def append_marker(path: Path) -> None:
    """A last prompt with a text of its own, so the newest event is told apart on a screen of look-alikes."""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - (8 << 20)))
        tail = f.read().splitlines()[1:]
    records = [json.loads(line) for line in tail]
    last = [r for r in records if isinstance(r.get("uuid"), str)][-1]
    prompt = next(r for r in reversed(records) if r.get("type") == "user"
                  and isinstance(r.get("message", {}).get("content"), str) and not r.get("isMeta"))
    record = dict(prompt, uuid="0b0b0b0b-0000-4000-8000-000000000001", parentUuid=last["uuid"],
                  timestamp=last.get("timestamp"), message={"role": "user", "content": MARKER})
    record.pop("promptId", None)
    with path.open("ab") as f:
        f.write(json.dumps(record).encode() + b"\n")


# --- the run ----------------------------------------------------------------------------


def newest_message(path: Path, tail: int = 4 << 20) -> tuple[str, str]:
    """The session, and the id of the file's newest message (uuid-derived: the same however it is read)."""
    from watchkeeper.adapters.claude_code import ClaudeCodeConverter
    from watchkeeper.adapters.files.index import tail_start

    start = tail_start(path, tail)
    conv = ClaudeCodeConverter(path)
    events = []
    with path.open("rb") as f:
        f.seek(start)
        for line in f:
            events += conv.feed(line.rstrip(b"\n"), 0)
    events += conv.finish()
    last = [e for e in events if e["kind"].startswith("message.")][-1]
    from watchkeeper.adapters.files.feed import convert_file

    session = next(iter(convert_file(path)))["session"]
    return session, last["id"]


def child(kind: str, path: Path, *extra: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--measure", kind, str(path), *extra], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def fmt(d: dict[str, float]) -> str:
    return f"p50 {d['p50']:6.1f} ms  p99 {d['p99']:6.1f}  max {d['max']:6.1f}  (n={d['n']:.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=1024, help="size of the grown transcript (default 1024)")
    parser.add_argument("--runs", type=int, default=5, help="first-screen runs, each beside a floor run (default 5)")
    parser.add_argument("--item2", action="store_true", help="only what issue 17's item 2 asks (no replay)")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, path = args.measure[0], Path(args.measure[1])
        if kind == "toolong":
            result = measure_toolong(path)
        elif kind == "live":
            result = asyncio.run(measure_live(path, args.measure[2], args.measure[3]))
        elif kind == "live-relay":
            result = measure_live_relay(path, args.measure[2])
        elif kind == "replay-relay":
            result = measure_replay_relay(path, args.measure[2])
        else:
            result = asyncio.run(measure_replay(path, args.measure[2]))
        print(json.dumps(result))
        return 0

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_convert import grow

    with tempfile.TemporaryDirectory(prefix="wk-huge-") as tmp:
        path = Path(tmp) / "-bench" / "bench-session.jsonl"
        path.parent.mkdir()
        t0 = time.perf_counter()
        size, lines = grow(path, args.mb)
        append_marker(path)
        print(f"grew {size / 1e6:,.1f} MB, {lines:,} lines from real records in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        wc = subprocess.run(["wc", "-l", str(path)], check=True, capture_output=True, text=True).stdout.split()[0]
        print(f"wc -l: {int(wc):,} lines ({time.perf_counter() - t0:.2f} s)")
        session, newest = newest_message(path)
        os.sync()

        base = child("toolong", path)
        start = measure_start(path, session, args.runs)
        live = child("live", path, session, newest)
        live_relay = child("live-relay", path, session)
        if not args.item2:
            replay = child("replay", path, session)
            feed = child("replay-relay", path, session)

        print("\nToolong-like baseline (raw lines, no parsing):")
        print(f"  mmap + last 100 line offsets           {base['last100'] * 1000:9.1f} ms")
        print(f"  mmap + every line offset ({base['lines']:,} lines) {base['index_all']:9.2f} s")
        print(f"  orjson.loads of every line (the floor) {base['loads_all']:9.2f} s   "
              f"peak RSS {base['peak_mb']:,.0f} MB")

        print("\nopened live (tail-first), the relay alone:")
        print(f"  the tail's first events at a subscriber {live_relay['first']:8.3f} s")
        print(f"  whole file indexed, history swapped in   {live_relay['indexed']:7.2f} s   "
              f"peak RSS {live_relay['peak_mb']:,.0f} MB")
        print(f"\nopened live in the app (app already up, which took {live['app_start']:.2f} s):")
        print(f"  first events at a relay subscriber     {live['first_at_relay']:9.3f} s")
        print(f"  newest event in the timeline           {live['newest_in_timeline']:9.3f} s "
              f"({live['tail_events']:,} events of the tail; cursor on the newest row: {live['newest_is_last_row']})")
        print(f"  newest event on screen                 {live['newest_on_screen']:9.3f} s   budget < 1 s "
              f"(from app start: {live['app_start'] + live['newest_on_screen']:.2f} s)")
        print(f"  whole file indexed in the relay        {live['indexed']:9.2f} s   ({live['events']:,} events)")
        print(f"  whole history in the timeline          {live['on_screen']:9.2f} s   ({live['rows']:,} rows)")
        print(f"  key press -> cursor moved, indexing      {fmt(live['keys_indexing'])}")
        print(f"  key press -> cursor moved, loading       {fmt(live['keys_loading'])}")
        print(f"  UI loop lag (10 ms timer)              {fmt(live['ui_lag'])}")
        print(f"  relay loop lag (5 ms probe)            {fmt(live['relay_lag'])}")
        print(f"  peak RSS                               {live['peak_mb']:9,.0f} MB")

        print(f"  full collections (gen 2)               {live['gc']['n']:9.0f}     "
              f"max {live['gc']['max']:.0f} ms, total {live['gc']['total']:.0f} ms")

        if not args.item2:
            print("\nreplayed (the one-shot TranscriptSource `watchkeeper replay` uses):")
            print(f"  relay alone: first events at a subscriber {feed['first']:6.3f} s")
            print(f"  relay alone: every event converted      {feed['converted']:8.2f} s   ({feed['events']:,} events, "
                  f"peak RSS {feed['peak_mb']:,.0f} MB)")
            print(f"  in the app ({replay['app']}):")
            print(f"  first events in the timeline           {replay['first_in_timeline']:9.3f} s")
            print(f"  first events on screen                 {replay['first_on_screen']:9.3f} s   budget < 1 s")
            print(f"  every event in the relay               {replay['converted']:9.2f} s")
            print(f"  key press -> cursor, relay converting   {fmt(replay['keys'])}")
            print(f"  UI loop lag (10 ms timer)              {fmt(replay['ui_lag'])}")
            print(f"  relay loop lag (5 ms probe)            {fmt(replay['relay_lag'])}")
            print(f"  full collections (gen 2)               {replay['gc']['n']:9.0f}     "
                  f"max {replay['gc']['max']:.0f} ms, total {replay['gc']['total']:.0f} ms")
            print(f"  peak RSS                               {replay['peak_mb']:9,.0f} MB")

        over = start["first"] - start["floor"]
        ratio = live_relay["indexed"] / base["loads_all"]
        print(f"\nissue 17, item 2 (each beside its floor, this run; first screen: median of {args.runs}):")
        print(f"  Textual-only floor, tmux (for scale)   {start['textual']:9.3f} s")
        print(f"  import floor, tmux ({', '.join(FLOOR_IMPORTS[:3])})\n"
              f"                                         {start['floor']:9.3f} s   "
              f"({', '.join(f'{x:.2f}' for x in start['floors'])})")
        print(f"  first screen, `watchkeeper watch` in tmux {start['first']:6.3f} s   "
              f"({', '.join(f'{x:.2f}' for x in start['firsts'])})")
        print(f"    over the import floor                {over:9.3f} s   budget {FIRST_SCREEN_OVER_FLOOR} s "
              f"{'met' if over <= FIRST_SCREEN_OVER_FLOOR else 'NOT met'}")
        print(f"    in CPU seconds (less disturbed by other work): floor {start['floor_cpu']:.3f}, "
              f"first screen {start['first_cpu']:.3f}, over {start['first_cpu'] - start['floor_cpu']:.3f}")
        print(f"  whole history indexed (relay alone)    {live_relay['indexed']:9.2f} s   "
              f"= {ratio:.2f}× the orjson floor ({base['loads_all']:.2f} s); budget {INDEX_OVER_FLOOR}× "
              f"{'met' if ratio <= INDEX_OVER_FLOOR else 'NOT met'}")
        print(f"    in CPU seconds: {live_relay['cpu']:.2f} (every thread) = "
              f"{live_relay['cpu'] / base['loads_cpu']:.2f}× the floor's {base['loads_cpu']:.2f}")
        print(f"  peak RSS, whole history in the app     {live['peak_mb']:9,.0f} MB   budget {PEAK_RSS_MB} MB "
              f"{'met' if live['peak_mb'] <= PEAK_RSS_MB else 'NOT met'}; RSS once loaded "
              f"{live['rss_loaded']:,.0f} MB")
        print(f"    of which the relay (relay alone)     {live_relay['peak_mb']:9,.0f} MB peak, "
              f"{live_relay['rss']:,.0f} MB once indexed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
