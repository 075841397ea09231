"""Regenerate watchkeeper/demo/sample_logs/claude-code/ (the demo's package data) from the real Claude Code CLI,
so the sample cannot drift from it.

Runs the reference session (Bash, Write, Edit, a failing Bash, a subagent; tests/standins/claude.py) offline
against the scripted Messages API stand-in, in a temp HOME laid out as <tmp>/home/dev with the project in
<tmp>/home/dev/demo, then copies the session (main file, subagents/, meta) into
watchkeeper/demo/sample_logs/claude-code/-home-dev-demo/ with the temp prefix removed. Between runs only ids,
timestamps and durations change; the session id is fixed.

usage: .venv/bin/python tools/regen_claude_sample.py [--version 2.1.332]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from standins.claude import DEMO_PROMPT, demo_api, project_slug, run_claude  # noqa: E402

NEWEST = "2.1.332"
OUT = ROOT / "watchkeeper" / "demo" / "sample_logs" / "claude-code"
SESSION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/watchkeeper/sample_logs/claude-code"))


def stabilise(text: str, base: Path) -> str:
    """Drop the temp prefix from paths (/tmp/x/home/dev/demo -> /home/dev/demo) and from project slugs."""
    return text.replace(str(base), "").replace(project_slug(base) + "-", "-")


def regenerate(version: str, out: Path = OUT) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="wk-regen-") as tmp:
        base = Path(tmp).resolve()
        home = base / "home" / "dev"
        cwd = home / "demo"
        with demo_api(cwd) as api:
            run = run_claude(
                version, DEMO_PROMPT, api=api, cwd=cwd, home=home, session_id=SESSION_ID, timeout=120
            )
        if run.returncode != 0 or not run.transcript.exists():
            raise SystemExit(f"claude {version} failed (exit {run.returncode}):\n{run.stderr}")
        source_dir = run.transcript.parent
        target_dir = out / stabilise(source_dir.name, base)
        if out.exists():
            shutil.rmtree(out)
        sources = [
            run.transcript,
            *sorted(p for p in run.transcript.with_suffix("").rglob("*") if p.is_file()),
        ]
        written = []
        for source in sources:
            target = target_dir / source.relative_to(source_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(stabilise(source.read_text(), base))
            written.append(target)
        leftovers = [p for p in written if str(base) in p.read_text() or project_slug(base) in p.read_text()]
        if leftovers:
            raise SystemExit(f"temp paths left in {leftovers}")
        print(f"claude {version}: {len(api.requests)} model requests, {run.wall_seconds:.1f} s")
        return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=NEWEST, help=f"Claude Code CLI version (default {NEWEST})")
    args = parser.parse_args(argv)
    for path in regenerate(args.version):
        print(f"{path.stat().st_size:>8}  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
