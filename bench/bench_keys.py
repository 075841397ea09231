"""Per-key CPU in a real terminal: the timeline of one session of 1,000,000 events, keys sent through tmux.

``bench_timeline.py`` times keys under Textual's pilot, headless. Two things
there are not what a person's key costs: the pilot waits for every widget on
the screen to drain its queue, twice a key (a callback posted to each of the
session screen's ~25 widgets and their parts; a key bound to nothing cost 13 ms
of CPU under the pilot and 2.3 ms here, the same day), and a headless app never
turns its frame into terminal output. Here the real app runs in a tmux pane
(120×40) with Textual's own Linux driver, and keys arrive as a terminal sends them.

Each key: the CPU time of every thread of the app's process (``/proc/PID/task/*/schedstat``,
nanoseconds) from just before ``tmux send-keys`` until the screen shows the key's
frame and the process is idle again (two 15 ms windows with under 0.3 ms of CPU).
Beside it, in the same run: a key nothing is bound to in the same app (what any
key costs: read, parsed, dispatched, nothing drawn) and ``down`` in an empty
Textual app. The app's events come from a generator as the relay reads them
(``bench_timeline.iter_events``). Budget (issue 17): per-key CPU p99 ≤ 16.7 ms.

Run: ``.venv/bin/python bench/bench_keys.py [--events 1000000] [--presses 300]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_huge import SIZE, Terminal
from bench_timeline import FRAME_MS, stats

#: An idle window: this long with under ``QUIET_NS`` of CPU, twice in a row.
WINDOW = 0.015
QUIET_NS = 300_000
#: (name, tmux keys): the page keys are pressed half as often, end and home a tenth as often each.
KEYS = [("cursor down", "Down"), ("cursor up", "Up"), ("page down", "PageDown"), ("page up", "PageUp"),
        ("end / home", "End,Home")]
#: A key nothing is bound to on the session screen.
UNBOUND = "F12"


# --- the measured processes (run inside the tmux pane) ---------------------------------------


def run_app(events: int, ready: Path) -> None:
    """The real app on one session of ``events`` events; ``ready`` is written once they are all in the timeline
    and the process has settled (its one full collection after the first screen, ``retention.settle``)."""
    from bench_timeline import SESSION, iter_events

    from watchkeeper.relay import IterSource, Relay
    from watchkeeper.retention import settled
    from watchkeeper.viewer import WatchkeeperApp
    from watchkeeper.viewer.screens.session import SessionScreen

    relay = Relay().start()
    relay.add_source(IterSource("bench", iter_events(events)))
    relay.drain(900)
    app = WatchkeeperApp(relay, open_session=SESSION)

    def first_row() -> None:
        timeline = app.screen.timeline  # type: ignore[attr-defined]
        timeline.focus()
        timeline.action_first()

    def watch() -> None:
        while True:
            time.sleep(0.2)
            screen = app.screen if app.is_running else None
            if isinstance(screen, SessionScreen) and len(screen.timeline.store.events) >= events and settled():
                app.call_from_thread(first_row)
                ready.write_text("ready")
                return

    threading.Thread(target=watch, daemon=True).start()
    try:
        app.run()
    finally:
        relay.stop()


def run_empty(ready: Path) -> None:
    """``bench_timeline``'s empty app; ``ready`` is written once it is mounted."""
    from bench_timeline import Empty

    class Ready(Empty):
        def on_mount(self) -> None:
            ready.write_text("ready")

    Ready().run()


# --- the harness -------------------------------------------------------------------------------


class Pane(Terminal):
    """``bench_huge``'s own tmux server (no config file), its 120×40 window running ``command`` until closed."""

    def __init__(self, name: str, command: list[str]) -> None:
        super().__init__(f"keys-{name}")
        self("new-session", "-d", "-s", "wk", "-x", str(SIZE[0]), "-y", str(SIZE[1]), "-e", "TERM=xterm-256color",
             *command)
        pids = self("list-panes", "-t", "wk", "-F", "#{pane_pid}").split()
        if not pids:
            raise RuntimeError(f"tmux did not start {command}")
        self.pid = int(pids[0])

    def screen(self) -> str:
        return self("capture-pane", "-p", "-e", "-t", "wk")

    def close(self) -> None:
        self("kill-server")


def cpu_ns(pid: int) -> dict[int, int]:
    """Nanoseconds on a CPU, per thread of ``pid``."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def spent(before: dict[int, int], after: dict[int, int]) -> int:
    return sum(ns - before.get(tid, 0) for tid, ns in after.items())


def until_idle(pid: int) -> None:
    quiet = 0
    while quiet < 2:
        before = cpu_ns(pid)
        time.sleep(WINDOW)
        quiet = quiet + 1 if spent(before, cpu_ns(pid)) < QUIET_NS else 0


def key_cpu(pane: Pane, key: str, drawn: bool = True, timeout: float = 1.0) -> tuple[float, bool]:
    """CPU seconds of one key, from just before it is sent until the process is idle again, after its frame
    is on screen (``drawn``; a key that changes nothing, as page down on the last page, is given ``timeout``);
    and whether the screen changed."""
    until_idle(pane.pid)
    shown = pane.screen() if drawn else ""
    before = cpu_ns(pane.pid)
    pane("send-keys", "-t", "wk", key)
    deadline = time.monotonic() + timeout
    changed = False
    while drawn and not changed and time.monotonic() < deadline:
        changed = pane.screen() != shown
        time.sleep(0.002)
    until_idle(pane.pid)
    return spent(before, cpu_ns(pane.pid)) / 1e9, changed


def started(command: list[str], name: str, ready: Path, timeout: float) -> Pane:
    pane = Pane(name, command)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if time.monotonic() > deadline:
            screen = pane("capture-pane", "-p", "-t", "wk")
            pane.close()
            raise TimeoutError(f"{name} not ready within {timeout} s:\n{screen}")
        time.sleep(0.1)
    return pane


def main(events: int, presses: int) -> None:
    me = [sys.executable, str(Path(__file__).resolve())]
    print(f"a real terminal: tmux {SIZE[0]}x{SIZE[1]}, Textual's Linux driver; one frame at 60 fps = {FRAME_MS:.1f} ms")
    with tempfile.TemporaryDirectory(prefix="wk-keys-") as tmp:
        env = {**os.environ, "WATCHKEEPER_HOME": tmp}
        os.environ.update(env)
        ready = Path(tmp) / "empty.ready"
        pane = started([*me, "--empty", str(ready)], "empty", ready, 60)
        try:
            empty = [key_cpu(pane, "Down", drawn=False)[0] for _ in range(presses)]
        finally:
            pane.close()
        print(f"\nbaseline: an empty Textual app, per key until idle\n    {'down':<12} cpu  {stats(empty)}")
        ready = Path(tmp) / "app.ready"
        t0 = time.perf_counter()
        pane = started([*me, "--app", str(events), str(ready)], "app", ready, 1800)
        try:
            print(f"\nthe timeline, {events:,} events (ready {time.perf_counter() - t0:.1f} s after the spawn);"
                  " per key until its frame is drawn and the process idle (CPU of every thread):")
            unbound = [key_cpu(pane, UNBOUND, drawn=False)[0] for _ in range(presses)]
            print(f"    {'unbound key':<12} cpu  {stats(unbound)}")
            for name, keys in KEYS:
                sequence = keys.split(",")
                count = presses // 10 if len(sequence) > 1 else presses // 2 if name.startswith("page") else presses
                sequence *= count
                measured = [key_cpu(pane, key) for key in sequence]
                still = sum(1 for _, changed in measured if not changed)
                print(f"    {name:<12} cpu  {stats([cpu for cpu, _ in measured])}"
                      + (f"; {still} changed nothing on screen" if still else ""))
        finally:
            pane.close()
    print(f"\nbudget: per-key CPU p99 <= {FRAME_MS:.1f} ms")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--presses", type=int, default=300, help="presses per key (half for the page keys)")
    parser.add_argument("--app", nargs=2, metavar=("EVENTS", "READY"), help=argparse.SUPPRESS)
    parser.add_argument("--empty", metavar="READY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app:
        run_app(int(args.app[0]), Path(args.app[1]))
    elif args.empty:
        run_empty(Path(args.empty))
    else:
        main(args.events, args.presses)


if __name__ == "__main__":
    cli()
