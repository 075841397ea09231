"""``watchkeeper demo``: no set-up — the project's own recordings play as if agents were working now.

Each file in ``sample_logs/`` (a Claude Code session with a subagent, a Codex
rollout, an SDK agent's recording, all written by the real programs) is played
by a paced source into a live relay, so the sessions screen, follow mode and
the counters behave exactly as they do beside a real agent.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.replay import PacedSource

HELP = "play the built-in sample sessions as if agents were working right now"

SAMPLE_LOGS = Path(__file__).resolve().parent.parent.parent / "sample_logs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    parser.add_argument("--samples", type=Path, default=SAMPLE_LOGS, help=argparse.SUPPRESS)


def demo_files(root: Path) -> list[Path]:
    """The sessions under ``root``: main session files only (a session's subagents play with it)."""
    from ..adapters.source import scan_sessions

    return sorted(path for path, _ in scan_sessions(root)[0])


def demo_sources(files: list[Path], speed: float = 1.0) -> list[PacedSource]:
    """One paced source per file, starting one after another so the sessions arrive one by one."""
    from ..adapters.replay import PacedSource

    scale = 1 / speed if speed > 0 else 0.0
    return [PacedSource(path, speed, min_gap=0.6, start_delay=(0.5 + 1.5 * i) * scale)
            for i, path in enumerate(files)]


def run(args: argparse.Namespace) -> int:
    import sys

    from ..relay import Relay
    from ..viewer import WatchkeeperApp

    files = demo_files(args.samples)
    if not files:
        print(f"no sample sessions under {args.samples}", file=sys.stderr)
        return 2
    relay = Relay().start()
    try:
        for source in demo_sources(files, args.speed):
            relay.add_source(source)
        app = WatchkeeperApp(relay, looked_in=[f"{args.samples} (demo)"])
        app.run()
    finally:
        relay.stop()
    return app.return_code or 0
