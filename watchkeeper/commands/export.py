"""``watchkeeper export --otlp URL PATH…``: transcripts sent once as OpenTelemetry GenAI traces.

Files are read through the same adapters as everywhere else; a directory is
searched for session files. Ids derive from the sessions, calls and messages,
so exporting again sends the same spans, not new ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "send transcripts (files or directories) to an OTLP/HTTP endpoint as OpenTelemetry GenAI traces"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..export.options import add_otlp_arguments

    parser.add_argument("paths", metavar="PATH", nargs="+", type=Path,
                        help="a transcript file, or a directory searched for session files")
    add_otlp_arguments(parser, required=True)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")


def run(args: argparse.Namespace) -> int:
    from ..cli_paths import path_problem
    from ..export.oneshot import export_paths
    from ..export.options import content_of, sender_of
    from ..export.otlp import OtelMissing
    from ..protocol.display import visible, visible_logging

    def say(text: str) -> None:
        print(visible(f"watchkeeper export: {text}"), file=sys.stderr, flush=True)

    visible_logging()
    problem = next((p for path in args.paths if (p := path_problem(path)) is not None), None)
    if problem is not None:
        say(problem)
        return 2
    try:
        sender = sender_of(args)
    except (ValueError, OtelMissing) as e:
        say(str(e))
        return 2

    def progress(path: Path, stats: object) -> None:
        if not args.quiet:
            print(visible(f"  {path}"), flush=True)

    try:
        stats = export_paths(args.paths, sender, content=content_of(args), progress=progress)
    finally:
        sender.shutdown()
    line = (f"{stats.files:,} files, {stats.sessions:,} sessions, {stats.events:,} events: "
            f"{stats.sent:,} spans sent to {sender.shown}")
    if stats.failed:
        say(f"{line}; {stats.failed:,} spans NOT accepted (see the exporter's log above)")
        return 1
    if not stats.files:
        say("no session files found")
        return 1
    if not args.quiet:
        print(visible(line), flush=True)
    return 0
