"""``watchkeeper events`` on a big Claude Code transcript: wall time and peak RSS beside the orjson floor.

Budget (DESIGN, raised 2026-12-06): ``events`` streams, <= 2x the orjson per-line floor in
wall time with its output, peak RSS <= 100 MB whatever the file size.

Grows the transcript as ``bench_convert.py`` does (real records repeated with rewritten
uuids, message, request and tool ids so every id stays unique), from the repository's own
real Claude Code transcript (the demo's, written by the real CLI), then runs, each as its own process, interleaved,
the fastest of ``--repeat`` counting:

- floor:        ``orjson.loads`` of every line, nothing else (the DESIGN anchor);
- floor+out:    ``orjson.loads`` and ``orjson.dumps`` of every line, written to /dev/null;
- events:       ``watchkeeper events FILE > /dev/null``, the command as users run it.

Wall seconds and each process's own peak RSS (``wait4``).

``--file PATH`` measures an existing transcript instead (read, never written): e.g. one grown by
``bench_convert.py`` from its own mix, whose smaller records weigh the converter's per-record work
more against the parse.

Run: ``.venv/bin/python bench/bench_events.py [--mb 200] [--repeat 3] [--file PATH]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_convert import grow

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "watchkeeper" / "demo" / "sample_logs" / "claude-code" / "-home-dev-demo").glob("*.jsonl"))
TARGET_X = 2.0
TARGET_MB = 100.0

FLOOR = """
import sys, orjson
loads = orjson.loads
with open(sys.argv[1], "rb") as f:
    for line in f:
        loads(line)
"""
FLOOR_OUT = """
import sys, orjson
loads, dumps, opt = orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as out:
    for line in f:
        out.write(dumps(loads(line), option=opt))
"""


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one process, its stdout to /dev/null."""
    with open(os.devnull, "wb") as null:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=null, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{argv[:3]} failed with {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--file", type=Path, help="an existing transcript to measure instead of growing one")
    args = parser.parse_args()
    watchkeeper = str(Path(sys.executable).with_name("watchkeeper"))
    with tempfile.TemporaryDirectory(prefix="wk-bench-events-") as tmp:
        if args.file is not None:
            path = args.file
            with path.open("rb") as f:
                lines = sum(1 for _ in f)
            print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, {lines:,} lines")
        else:
            path = Path(tmp) / "-bench" / "bench-session.jsonl"
            path.parent.mkdir()
            size, lines = grow(path, args.mb, SOURCES)
            print(f"grew {size / 1e6:.1f} MB, {lines:,} lines from the demo's real Claude Code transcript")
        runs = {
            "floor": [sys.executable, "-c", FLOOR, str(path)],
            "floor+out": [sys.executable, "-c", FLOOR_OUT, str(path), os.devnull],
            "events": [watchkeeper, "events", str(path)],
        }
        best: dict[str, tuple[float, float]] = {}
        for _ in range(max(1, args.repeat)):
            for kind, argv in runs.items():
                wall, peak = timed(argv)
                old = best.get(kind)
                best[kind] = (min(wall, old[0]) if old else wall, max(peak, old[1]) if old else peak)
    floor = best["floor"][0]
    print(f"{'':10} {'wall s':>8} {'x floor':>8} {'peak RSS MB':>12}")
    for kind, (wall, peak) in best.items():
        print(f"{kind:10} {wall:8.2f} {wall / floor:8.2f} {peak:12.1f}")
    wall, peak = best["events"]
    print(f"target: events <= {TARGET_X:g}x the floor: {'met' if wall <= TARGET_X * floor else 'MISSED'} "
          f"({wall / floor:.2f}x); peak RSS <= {TARGET_MB:g} MB: {'met' if peak <= TARGET_MB else 'MISSED'} "
          f"({peak:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
