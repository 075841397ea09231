"""``watchkeeper`` (or ``watchkeeper watch``): the TUI over the agent sessions on this machine.

Builds a relay, gives it a source per discovered session (the newest
``--limit``; those active in the last day are followed live) and one for
sessions that appear later, then runs the app on the relay's API.
"""

from __future__ import annotations

import argparse
import sys
import time

HELP = "watch the agent sessions on this machine (the default command)"

#: Sessions written to within this many seconds are followed; older ones are read once.
FOLLOW_WINDOW = 24 * 3600


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", action="append", default=[], metavar="DIR",
                        help="also look for sessions under DIR (repeatable)")
    parser.add_argument("--no-default-roots", action="store_true",
                        help="look only under --root, not ~/.claude/projects and ~/.codex/sessions")
    parser.add_argument("--session", metavar="ID", help="open this session at once")
    parser.add_argument("--limit", type=int, default=50, metavar="N",
                        help="read the newest N existing sessions (default 50)")
    parser.add_argument("--theme", help="a Textual theme name (default: watchkeeper)")


def run(args: argparse.Namespace) -> int:
    from ..adapters.discovery import find_sessions, session_roots
    from ..adapters.source import DirectorySource, TranscriptSource
    from ..relay import Relay
    from ..viewer import WatchkeeperApp

    roots = session_roots(args.root, defaults=not args.no_default_roots)
    relay = Relay().start()
    try:
        now = time.time()
        for path, mtime in find_sessions(roots)[: max(0, args.limit)]:
            relay.add_source(TranscriptSource(path, follow=now - mtime <= FOLLOW_WINDOW))
        relay.add_source(DirectorySource(roots, lambda p: relay.add_source(TranscriptSource(p)), existing=False))
        app = WatchkeeperApp(relay, open_session=args.session, looked_in=[str(r) for r in roots],
                             theme=args.theme)
        result = app.run()
    finally:
        relay.stop()
    if result == "demo":
        return run_demo()
    return app.return_code or 0


def run_demo() -> int:
    """The person asked for the demo on the empty sessions screen."""
    import importlib

    try:
        demo = importlib.import_module("watchkeeper.commands.demo")
    except ImportError:
        print("The demo is not available in this build yet.", file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(prog="watchkeeper demo")
    demo.add_arguments(parser)
    return int(demo.run(parser.parse_args([])))
