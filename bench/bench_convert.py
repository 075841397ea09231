"""Claude Code transcript conversion speed and memory, beside the floor (orjson.loads per line).

Grows a >= 200 MB transcript from real records (the 2.1.332 sample session and
the real 2.1.78 one, repeated with rewritten uuids, message, request and tool
ids so every id stays unique), then measures, each in its own subprocess:

- floor:    ``orjson.loads`` of every line, nothing else;
- convert:  ``ClaudeCodeConverter.feed`` on every line, events counted and dropped (streaming);
- retain:   the same, keeping every event in a list (what a viewer holding the session pays).

Times are CPU seconds of the measuring process (the fastest of ``--repeat``
interleaved runs), so other work on a shared machine disturbs them less.

Run: ``.venv/bin/python bench/bench_convert.py [--mb 200] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples" / "claude-code" / "projects"
SOURCES = [
    *sorted((SAMPLES / "-home-dev-project2").glob("*.jsonl")),
    *sorted((SAMPLES / "-real-delexw").glob("*.jsonl")),
]

_UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_API_ID = rb"(?:msg|toolu|srvtoolu|req)_[A-Za-z0-9_]+"
_ID = re.compile(rb"(" + _UUID + rb"|" + _API_ID + rb")")


def _templates(paths: list[Path]) -> list[list[bytes]]:
    """Each real line split into [literal, id, literal, id, …]; session ids stay as they are."""
    raw = [line for path in paths for line in path.read_bytes().splitlines() if line.strip()]
    sessions = {str(rec.get("sessionId")).encode() for rec in map(json.loads, raw) if isinstance(rec, dict)}
    lines: list[list[bytes]] = []
    for line in raw:
        parts = _ID.split(line)
        for i in range(1, len(parts), 2):
            if parts[i] in sessions:
                parts[i + 1] = parts[i] + parts[i + 1]
                parts[i] = b""
        lines.append(parts)
    return lines


def _rewrite(ident: bytes, copy: int) -> bytes:
    if not ident:
        return b""
    if re.fullmatch(_UUID, ident):
        tail = (int(ident[-12:], 16) + copy * 7919) % (1 << 48)
        return ident[:-12] + f"{tail:012x}".encode()
    return ident + f"_c{copy}".encode()


def grow(target: Path, mb: float, sources: list[Path] | None = None) -> tuple[int, int]:
    """Write the transcript grown from ``sources`` (default: this benchmark's); returns (bytes, lines)."""
    templates = _templates(SOURCES if sources is None else sources)
    limit = int(mb * 1024 * 1024)
    size = lines = copy = 0
    with target.open("wb") as f:
        while size < limit:
            chunk = []
            for parts in templates:
                out = [parts[0]]
                for i in range(1, len(parts), 2):
                    out.append(_rewrite(parts[i], copy))
                    out.append(parts[i + 1])
                chunk.append(b"".join(out))
            data = b"\n".join(chunk) + b"\n"
            f.write(data)
            size += len(data)
            lines += len(chunk)
            copy += 1
    return size, lines


# --- measurements (each runs in a fresh subprocess) ---------------------------------


def _measure(kind: str, path: Path) -> dict[str, float]:
    import orjson

    from watchkeeper.adapters.claude_code import ClaudeCodeConverter

    events = 0
    start = time.process_time()
    if kind == "floor":
        loads = orjson.loads
        with path.open("rb") as f:
            for line in f:
                loads(line)
    else:
        keep: list[object] = []
        conv = ClaudeCodeConverter(path)
        feed = conv.feed
        offset = 0
        with path.open("rb") as f:
            for line in f:
                out = feed(line.rstrip(b"\n"), offset)
                offset += len(line)
                events += len(out)
                if kind == "retain":
                    keep.extend(out)
        tail = conv.finish()
        events += len(tail)
    seconds = time.process_time() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "events": events, "peak_mb": peak_mb}


def _run(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", kind, str(path)], check=True, capture_output=True, text=True,
        cwd=ROOT,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=200, help="size of the grown transcript (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the fastest counts")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(args.measure[0], Path(args.measure[1]))))
        return 0

    with tempfile.TemporaryDirectory(prefix="wk-bench-") as tmp:
        path = Path(tmp) / "-bench" / "bench-session.jsonl"
        path.parent.mkdir()
        t0 = time.perf_counter()
        size, lines = grow(path, args.mb)
        print(f"grew {size / 1e6:.1f} MB, {lines:,} lines from {len(SOURCES)} real transcripts "
              f"in {time.perf_counter() - t0:.1f} s")
        runs: dict[str, list[dict[str, float]]] = {"floor": [], "convert": [], "retain": []}
        for _ in range(max(1, args.repeat)):  # interleaved, so a busy neighbour slows all alike
            for kind, done in runs.items():
                done.append(_run(kind, path))
        results = {}
        for kind, done in runs.items():
            best = min(done, key=lambda r: r["seconds"])
            best["peak_mb"] = max(r["peak_mb"] for r in done)
            results[kind] = best
        floor = results["floor"]["seconds"]
        print(f"{'':10} {'cpu s':>8} {'MB/s':>8} {'events/s':>11} {'events':>10} "
              f"{'peak RSS MB':>12} {'x floor':>8}")
        for kind, r in results.items():
            s = r["seconds"]
            eps = r["events"] / s if r["events"] else 0
            print(f"{kind:10} {s:8.2f} {size / 1e6 / s:8.1f} {eps:11,.0f} {r['events']:10,.0f} "
                  f"{r['peak_mb']:12.0f} {s / floor:8.2f}")
        print(f"budget: convert <= 3.00x floor, <= 400 MB peak -> "
              f"{results['convert']['seconds'] / floor:.2f}x, {results['convert']['peak_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
