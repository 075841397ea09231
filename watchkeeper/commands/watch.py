"""``watchkeeper`` (or ``watchkeeper watch``): the TUI over the agent sessions on this machine.

Builds a relay, gives it a source per discovered session (the newest
``--limit``; those active in the last day are followed live) and one for
sessions that appear later, starts the Claude Code hook endpoint and local
control API on it (with the configured breakpoints), so sessions started with
``watchkeeper run -- claude`` or after ``hooks install`` are steerable here,
then runs the app on the relay's API. SIGTERM and SIGHUP (the terminal closed)
quit the app as ``q`` does (``viewer.hangup``), so the relay stops cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

HELP = "watch the agent sessions on this machine (the default command)"

#: Sessions written to within this many seconds are followed; older ones are read once.
FOLLOW_WINDOW = 24 * 3600
#: Seconds to wait for the hook endpoint to listen before the app opens.
HOOKS_READY = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", action="append", default=[], metavar="DIR",
                        help="also look for sessions under DIR (repeatable)")
    parser.add_argument("--no-default-roots", action="store_true",
                        help="look only under --root, not ~/.claude/projects and ~/.codex/sessions")
    parser.add_argument("--session", metavar="ID", help="open this session at once")
    parser.add_argument("--limit", type=int, default=50, metavar="N",
                        help="read the newest N existing sessions (default 50)")
    parser.add_argument("--theme", help="a Textual theme for this run (default: the one chosen last, else watchkeeper)")
    parser.add_argument("--no-hooks", action="store_true",
                        help="do not listen for Claude Code hooks: watch sessions, steer none")
    from ..export.options import add_otlp_arguments

    add_otlp_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from .. import config
    from ..adapters.acp import transcripts_to
    from ..adapters.files.discovery import find_sessions, session_roots
    from ..adapters.files.source import DirectorySource, TranscriptSource
    from ..adapters.files.tailfirst import INDEX_AFTER
    from ..cli_paths import looked_in, root_problem
    from ..protocol.display import visible_logging
    from ..relay import Relay
    from ..relay.notify import start_notifier
    from ..viewer import WatchkeeperApp
    from ..viewer.hangup import Hangup

    visible_logging()
    problems = [p for r in args.root if (p := root_problem(r)) is not None]
    if problems:
        for bad in problems:
            print(f"watchkeeper: {bad}", file=sys.stderr)
        return 2
    roots = session_roots(args.root, defaults=not args.no_default_roots)
    if args.otlp:
        from ..export.options import sender_of
        from ..export.otlp import OtelMissing

        try:
            sender_of(args).shutdown()
        except (ValueError, OtelMissing) as e:
            print(f"watchkeeper: {e}", file=sys.stderr)
            return 2
    relay = Relay(index_after=INDEX_AFTER).start()
    alerts, problem = start_notifier(relay)
    exporter = None
    hangup = Hangup()
    try:
        if args.otlp:
            from ..export.options import continuous_export

            exporter = continuous_export(relay, args)
        now = time.time()
        for path, mtime in find_sessions(roots)[: max(0, args.limit)]:
            relay.add_source(TranscriptSource(path, follow=now - mtime <= FOLLOW_WINDOW))
        relay.add_source(DirectorySource(roots, transcripts_to(relay),
                                         existing=False))
        steer = start_steering(relay, hooks=not args.no_hooks)
        steer.notices += [problem] if problem else []
        app = WatchkeeperApp(relay, open_session=args.session, looked_in=[looked_in(r) for r in roots],
                             theme=args.theme, steer=steer, preferences=config.preferences_path())
        result = hangup.run(app)
    finally:
        if alerts is not None:
            alerts.close()
        if exporter is not None:
            exporter.close()
            with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                print(exporter.summary(), file=sys.stderr)
        relay.stop()
        hangup.restore()
        hangup.exit_if_signalled()
    if result == "demo":
        return run_demo()
    return app.return_code or 0


def start_steering(relay: Any, *, hooks: bool = True, port: int | None = None) -> Any:
    """The hook endpoint and control API on ``relay``, with the breakpoints; a ``SteerSetup`` for the app.

    A port already taken (another watchkeeper serves hooks) is a notice in the
    app, not a failure: sessions are then watched here and steered there.
    """
    from .. import config
    from ..breakpoints import Book, Matcher, relay_facts
    from ..viewer.model.control_availability import SteerSetup

    book = Book.load()
    setup = SteerSetup(breakpoints=book)
    if not hooks:
        setup.hooks_error = "started with --no-hooks"
        return setup
    from ..relay.servers.hookserver import serve_hooks  # aiohttp: ~0.3 s, only when hooks are served
    token = config.load_token(create=True)
    assert token is not None
    port = config.hook_port() if port is None else port
    taken = port_taken(port)
    if taken is not None:
        return _no_hooks(setup, hook_failure(taken, port))
    source = serve_hooks(relay, token, port=port, breakpoint=Matcher(book, relay_facts(relay)), runtime_file=True,
                         record_dir=config.recordings_dir(),
                         retention=config.recordings_retention_or_default(_say_stderr))
    if not source.ready.wait(HOOKS_READY) or source.error is not None:
        return _no_hooks(setup, hook_failure(source.error, port))
    setup.hooks_port = source.port
    return setup


def _no_hooks(setup: Any, why: str) -> Any:
    setup.hooks_error = why
    setup.notices.append(f"No Claude Code hook endpoint: {why}. Hooked sessions are watched here, not steered "
                         "(WATCHKEEPER_PORT picks another port).")
    return setup


def port_taken(port: int) -> OSError | None:
    """Whether the hook port is free, checked before the relay tries it (a failed source logs a traceback)."""
    import socket

    from .. import config

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.LOOPBACK, port))
        except OSError as e:
            return e
    return None


def hook_failure(error: BaseException | None, port: int) -> str:
    import errno

    if error is None:
        return f"port {port} did not start listening in time"
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
        return f"port {port} is taken (another watchkeeper or `watchkeeper serve` may be listening there)"
    return f"port {port}: {error}"


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


def _say_stderr(text: str) -> None:
    import sys

    from ..protocol.display import visible

    print(visible(f"watchkeeper: {text}"), file=sys.stderr, flush=True)

