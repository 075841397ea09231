"""``watchkeeper replay PATH [--speed N]``: a recorded session played back with its own timing.

Any file an adapter reads (a Claude Code session with its subagents, a Codex
rollout, a native recording) is converted by a one-shot transcript source on
the relay as fast as it can go; the app opens straight into the session's
replay screen, where a playhead decides what is on screen (see
``watchkeeper.viewer.screens.replay`` for why a playhead and not pacing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "play a recorded session back: play/pause, step, seek, speed"


def speed(text: str) -> float:
    """``10``, ``2.5``, ``10x``; ``0`` or ``max``: as fast as possible."""
    text = text.strip().lower()
    if text == "max":
        return 0.0
    text = text.removesuffix("x").removesuffix("×")
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a speed: {text!r} (a number such as 10, or max)") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a speed cannot be negative")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH",
                        help="a Claude Code session, a Codex rollout, or a watchkeeper recording (.jsonl)")
    parser.add_argument("--speed", type=speed, default=1.0, metavar="N",
                        help="N× the original pace (default 1); 0 or max: as fast as possible")
    parser.add_argument("--paused", action="store_true", help="open paused at the first event")
    parser.add_argument("--theme", help="a Textual theme for this run (default: the one chosen last, else watchkeeper)")


def first_session(path: Path) -> str | None:
    """The session the file's first event belongs to (reads only the start of the file)."""
    from ..adapters.files.feed import convert_file

    return next((event["session"] for event in convert_file(path)), None)


def run(args: argparse.Namespace) -> int:
    import sys

    from .. import config
    from ..adapters.files.source import TranscriptSource
    from ..cli_paths import replay_problem
    from ..protocol.display import visible_logging
    from ..relay import Relay
    from ..viewer.replay_app import ReplayApp

    visible_logging()
    path: Path = args.path
    problem = replay_problem(path)
    if problem is not None:
        print(f"watchkeeper replay: {problem}", file=sys.stderr)
        return 2
    relay = Relay().start()
    try:
        relay.add_source(TranscriptSource(path, follow=False))
        app = ReplayApp(relay, open_session=first_session(path), speed=args.speed, paused=args.paused,
                        looked_in=[str(path)], theme=args.theme, preferences=config.preferences_path())
        app.run()
    finally:
        relay.stop()
    return app.return_code or 0
