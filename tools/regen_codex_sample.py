"""Write watchkeeper/demo/sample_logs/codex/rollout-reference.jsonl: a rollout written by the real Codex CLI.

Runs the reference script (tests/standins/codex.py) against the scripted Responses API
stand-in, offline, then copies the rollout with the run's temporary paths rewritten to a
stable /home/dev (project in /home/dev/demo, CODEX_HOME /home/dev/.codex), so the sample
cannot drift from what the installed CLI really writes.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from standins.codex import run_reference  # noqa: E402

OUT = ROOT / "watchkeeper" / "demo" / "sample_logs" / "codex" / "rollout-reference.jsonl"


def stable_paths(text: str, workdir: Path) -> str:
    """Replace the run's temporary directories, most specific first."""
    mapping = {
        workdir / "codex" / "home": "/home/dev",
        workdir / "codex": "/home/dev/.codex",
        workdir / "demo": "/home/dev/demo",
        workdir: "/home/dev",
    }
    for path, stable in mapping.items():
        for spelling in dict.fromkeys([str(path), str(path.resolve())]):
            text = text.replace(spelling, stable)
    return text


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="codex-sample-"))
    try:
        run, api = run_reference(workdir)
        if run.exit_code != 0 or run.rollout is None or api.errors:
            print(run.describe(), f"stand-in errors: {api.errors}", sep="\n", file=sys.stderr)
            return 1
        text = stable_paths(run.rollout.read_text(), workdir)
        if workdir.name in text:
            print(f"a temporary path survived the rewrite: {workdir}", file=sys.stderr)
            return 1
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(text)
        print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size} bytes, CLI wall time {run.elapsed_s:.2f}s")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
