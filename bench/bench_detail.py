"""The detail pane's work for one row: every row of real transcripts rendered, beside Rich's ``Syntax``.

What a cursor move costs the pane when the row is new to it (a row it kept costs nothing): its events
rendered to lines at the pane's width (``render_detail``, then Rich's line rendering, as
``DetailPane`` does). Measured twice per row, interleaved, the fastest of ``--repeat`` each:

- ours:      as the pane renders it, code through ``detail_render.Code`` (one pass);
- baseline:  the same, code through Rich's ``Syntax`` (word wrap), which draws the same lines a line at a time.

Figures per row: p50, p90 and the slowest, and the sum over all rows. The rows are the demo's real
transcripts (Claude Code, Codex, the SDK's), or ``--path`` transcripts (e.g. the samples corpus).

Budget (DESIGN: a key within a frame, 16.7 ms): the pane's part of a cursor move is in it.

Run: ``.venv/bin/python bench/bench_detail.py [--width 44] [--repeat 5] [--path FILE ...]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.syntax import Syntax

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.protocol import Event, ToolCall
from watchkeeper.viewer.model import detail_render
from watchkeeper.viewer.model.detail_render import Options, render_detail
from watchkeeper.viewer.model.timeline_store import TimelineStore

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "watchkeeper" / "demo" / "sample_logs"
FRAME_MS = 1000 / 60


def demo_paths() -> list[Path]:
    return sorted(p for p in DEMO.rglob("*.jsonl") if "subagents" not in p.parts)


def rows_of(path: Path) -> list[tuple[list[Event], ToolCall | None]]:
    """Each row of the transcript's sessions as the timeline shows it: its events and its call."""
    by_session: dict[str, list[Event]] = {}
    for event in convert_file(path):
        by_session.setdefault(event["session"], []).append(event)
    out = []
    for events in by_session.values():
        for seq, event in enumerate(events):
            event["seq"] = seq
        store = TimelineStore()
        store.add(events)
        store.rebuild()
        out += [(store.row_events(head), store.call_of(head)) for head in store.view]
    return out


def syntax(text: str, lexer: str, opts: Options) -> Any:
    return Syntax(detail_render.visible(text), detail_render._lexer(lexer), theme=opts.theme,
                  background_color="default", word_wrap=True)


def timed(render: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        render()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=44, help="the pane's text width (44: a 120-column terminal)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--path", type=Path, nargs="*", help="transcripts to read instead of the demo's")
    args = parser.parse_args()
    paths = args.path or demo_paths()
    rows = [row for path in paths for row in rows_of(path)]
    console = Console(width=args.width, force_terminal=True, color_system="truecolor")
    options = console.options.update(width=args.width, height=None, highlight=False)
    opts = Options()
    ours_code = detail_render.code
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for events, call in rows:
        def render(events: list[Event] = events, call: ToolCall | None = call) -> object:
            return console.render_lines(render_detail(events, call, opts, None), options, pad=False)
        for kind, code in (("ours", ours_code), ("baseline", syntax)):
            detail_render.code = code  # type: ignore[assignment]
            try:
                times[kind].append(timed(render, args.repeat) * 1000)
            finally:
                detail_render.code = ours_code  # type: ignore[assignment]
    print(f"{len(rows)} rows of {len(paths)} transcript(s), rendered at {args.width} columns")
    print(f"{'':9} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} {'sum ms':>8} {'> frame':>8}")
    for kind, ms in times.items():
        ms_sorted = sorted(ms)
        p90 = ms_sorted[min(len(ms) - 1, int(0.9 * len(ms)))]
        over = sum(m > FRAME_MS for m in ms)
        print(f"{kind:9} {statistics.median(ms):8.2f} {p90:8.2f} {ms_sorted[-1]:8.2f} {sum(ms):8.1f} {over:8d}")
    ratio = sum(times["ours"]) / sum(times["baseline"])
    print(f"ours / baseline, summed over the rows: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
