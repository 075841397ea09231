"""What making data displayable costs: ``protocol.display.visible`` alone, and per timeline row.

``visible`` runs on every text a row, the detail pane or a CLI line shows.
Figures per call, on realistic text: a clean ASCII row (the common case, the
fast path), a 4 KiB ASCII tool output, a row with non-ASCII text, a hostile
row; then ``rows.build_row`` over the live-stream benchmark's event mix, with
``visible`` as it is beside an identity in its place (the baseline).

Run: ``.venv/bin/python bench/bench_display.py``.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_live_stream import event

from watchkeeper.protocol import CallTable, Event, ToolCall
from watchkeeper.protocol.display import visible
from watchkeeper.viewer.model import rows

TEXTS = {
    "clean ASCII row (83 chars)": "Bash  pytest -q tests/test_app.py --maxfail=1 -k 'not slow' && echo done >> log.txt",
    "ASCII tool output (4 KiB)": ("def f(x):\n\treturn x + 1  # comment\n" * 120)[:4096],
    "non-ASCII row (56 chars)": "Edit  /home/dév/projet/café.py — “quoted” ✓ 1.2s ünïcödé",
    "hostile row (31 chars)": "echo \x1b]0;TITLE\x07 \x1b[2J \x9b31m \u202eevil",
}


def per_call(fn: object, arg: object, seconds: float = 0.3) -> float:
    timer = timeit.Timer(lambda: fn(arg))  # type: ignore[operator]
    n, _ = timer.autorange()
    best = min(timer.repeat(repeat=5, number=max(1, int(n * seconds / 0.2))))
    return best / max(1, int(n * seconds / 0.2))


def row_cost(heads: list[tuple[Event, ToolCall | None]]) -> float:
    def build_all(_: object) -> None:
        for ev, call in heads:
            rows.build_row(ev, call)

    return per_call(build_all, None) / len(heads)


def main() -> None:
    print(f"{'text':32} {'visible()':>12}")
    for name, text in TEXTS.items():
        print(f"{name:32} {per_call(visible, text) * 1e9:9.0f} ns")
    events = [event(n) for n in range(2000)]
    calls = CallTable()
    for ev in events:
        calls.update(ev)
    heads = [(ev, calls.get(ev["session"], ev["data"]["call_id"]) if ev["kind"] == "tool.started" else None)
             for ev in events if ev["kind"] != "tool.finished"]
    with_visible = row_cost(heads)
    rows.visible = lambda text: text  # type: ignore[assignment]
    baseline = row_cost(heads)
    print(f"\nrows.build_row per row (live-stream mix): {with_visible * 1e6:.2f} µs with visible(), "
          f"{baseline * 1e6:.2f} µs baseline (identity): +{(with_visible - baseline) * 1e9:.0f} ns "
          f"({(with_visible / baseline - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
