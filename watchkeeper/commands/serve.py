"""``watchkeeper serve``: the relay beside the agents, served over websocket for ``attach`` and SDK agents.

It discovers and tails the sessions on this machine, listens for Claude Code
hooks, takes SDK agents (``watchkeeper.sdk.connect``) as sources, and serves
all of it to viewers. Loopback by default. A token is always checked (this
machine's token file, or ``--token-file``, one per person or one file of
``name=token`` lines: a named token's controls are recorded as that name's);
``--no-token`` is refused off loopback. It prints how to attach, never the token.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import ssl
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

#: ``--upstream-keep``'s default (MiB): what an edge keeps for its hub (``relay/owed.py``).
DEFAULT_KEEP_MIB = 256

HELP = "serve this machine's sessions (and SDK agents) over websocket, for `watchkeeper attach`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", metavar="HOST:PORT", default=None,
                        help="where to listen (default 127.0.0.1:47718); off loopback a token is required")
    parser.add_argument("--token-file", metavar="F", action="append", help="a token viewers and agents may "
                        "present: one token, or `name=token` lines, one per person (repeatable; default: this "
                        "machine's token file, created mode 0600)")
    parser.add_argument("--no-token", action="store_true", help="accept connections without a token "
                        "(loopback only)")
    parser.add_argument("--certfile", metavar="C", help="serve wss:// with this certificate (PEM)")
    parser.add_argument("--keyfile", metavar="K", help="the certificate's private key (PEM)")
    parser.add_argument("--root", metavar="DIR", action="append", default=[],
                        help="also discover sessions under DIR (repeatable)")
    parser.add_argument("--no-default-roots", action="store_true",
                        help="do not look in ~/.claude/projects and ~/.codex/sessions")
    parser.add_argument("--max-age", type=float, default=24.0, metavar="HOURS",
                        help="tail existing sessions active within this many hours, and read back the recorded "
                             "sessions of the last run active within them (default 24)")
    parser.add_argument("--no-hooks", action="store_true", help="do not listen for Claude Code hooks")
    parser.add_argument("--history", type=int, default=None, metavar="N",
                        help="a viewer may read back at most the newest N events per session "
                             "(older ones show as 'N events missed'); default: all")
    parser.add_argument("--reconnect-grace", type=float, default=None, metavar="SECONDS",
                        help="when the last viewer leaves, held calls wait this long for one to come back "
                             "before the session's failure policy ends them (default 30)")
    parser.add_argument("--queue-limit", type=int, default=10_000, metavar="N",
                        help="events queued for a slow viewer before telemetry is coalesced and it resyncs")
    parser.add_argument("--max-connections", type=int, default=None, metavar="N",
                        help="websocket connections (viewers, agents, edges) open at once; past it a new one is "
                             "refused with 503 (default 512); one agent or edge credential holds at most N/8, and the "
                             "last N/8 are kept for people's tokens")
    parser.add_argument("--edge-token-file", metavar="F", action="append", help="as a hub: accept edges "
                        "(`serve --upstream`) presenting a credential of F (one, or `name=token` lines naming "
                        "the edges); an edge may only push its sessions and take their controls (repeatable)")
    parser.add_argument("--upstream", metavar="URL", help="as an edge: push every session to the hub at URL "
                        "(wss://HOST:PORT) over one outbound websocket; the hub's people steer them from there")
    parser.add_argument("--upstream-token-file", metavar="F", help="with --upstream: the edge credential")
    parser.add_argument("--upstream-cafile", metavar="C", help="with --upstream: trust this certificate (PEM) "
                        "for the hub's wss://, e.g. its self-signed one")
    parser.add_argument("--edge-name", metavar="NAME", help="with --upstream: this edge's name on the hub "
                        "(A-Z a-z 0-9 . _ -, up to 64, not `local`; default: the host name; a named edge "
                        "credential's name wins)")
    parser.add_argument("--upstream-keep", type=float, default=None, metavar="MIB",
                        help="with --upstream: at most this much (MiB) of what the hub has not acknowledged is "
                             "kept to push again, past a drop or this edge's restart; the oldest beyond it are "
                             "dropped, with a notice (default 256)")
    parser.add_argument("--insecure", action="store_true", help="with --upstream: allow ws:// (no TLS) to a hub "
                        "off loopback")
    from ..export.options import add_otlp_arguments

    add_otlp_arguments(parser)


def parse_bind(value: str | None) -> tuple[str, int]:
    from .. import config

    if not value:
        return config.LOOPBACK, config.SERVE_PORT
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, str(config.SERVE_PORT)
    host = host.strip("[]") or config.LOOPBACK
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--bind {value!r}: the port must be a number (HOST:PORT)")
    return host, int(port)


#: The shortest token a server off loopback takes: one anyone who reaches the port could guess is no lock.
MIN_TOKEN_CHARS = 16


def _strong_enough(keyring: Any, files: list[str], host: str) -> None:
    """Off loopback, every token (people's and edges') long enough to be a secret, in files only their owner
    reads; ValueError says which is not."""
    import os
    import stat

    for name, token in [*keyring.people, *keyring.edges]:
        if len(token) < MIN_TOKEN_CHARS:
            who = f"the token of {name}" if name else "a token"
            raise ValueError(f"refusing to serve on {host}: {who} has {len(token)} characters; off loopback "
                             f"give tokens of {MIN_TOKEN_CHARS} or more (`openssl rand -hex 24` makes one)")
    for path in files:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(f"refusing to serve on {host}: {path} can be read by others (mode "
                             f"{stat.S_IMODE(mode):o}); chmod 600 it")


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The server's settings from the arguments; ValueError says what is wrong, for the person."""
    from .. import config
    from ..protocol.loopback import is_loopback
    from ..relay.servers.watching import RECONNECT_GRACE

    host, port = parse_bind(args.bind)
    if args.no_token and args.token_file:
        raise ValueError("--no-token and --token-file contradict each other")
    if args.no_token and not is_loopback(host):
        raise ValueError(f"refusing to serve on {host} without a token: off loopback anyone who can reach "
                         "the port could steer your agents (drop --no-token)")
    if args.edge_token_file and args.no_token:
        raise ValueError("--edge-token-file needs the hub's own token check (drop --no-token)")
    token = None if args.no_token else config.keyring(args.token_file, args.edge_token_file)
    if token is not None and not is_loopback(host):
        _strong_enough(token, [*(args.token_file or ()), *(args.edge_token_file or ())], host)
    context = None
    if args.certfile or args.keyfile:
        if not (args.certfile and args.keyfile):
            raise ValueError("--certfile and --keyfile go together")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(args.certfile, args.keyfile)
        except (OSError, ssl.SSLError) as e:
            raise ValueError(f"cannot load the certificate: {e}") from None
    grace = RECONNECT_GRACE if args.reconnect_grace is None else args.reconnect_grace
    if not 0 <= grace < 86_400:
        raise ValueError(f"--reconnect-grace {grace:g}: give seconds, 0 or more (under a day)")
    if args.max_connections is not None and args.max_connections < 1:
        raise ValueError(f"--max-connections {args.max_connections}: give 1 or more")
    return {"token": token, "host": host, "port": port, "ssl_context": context, "history": args.history,
            "queue_limit": args.queue_limit, "grace": grace,
            **({"max_connections": args.max_connections} if args.max_connections else {})}


def upstream_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--upstream``'s settings (None without it); ValueError says what is wrong."""
    from .. import config
    from ..protocol.origin import edge_name_problem
    from ..relay.servers.upstream import check_upstream

    if not args.upstream:
        if args.upstream_token_file or args.edge_name or args.insecure or args.upstream_cafile or \
                args.upstream_keep is not None:
            raise ValueError("--upstream-token-file, --upstream-cafile, --upstream-keep, --edge-name and "
                             "--insecure go with --upstream")
        return None
    if args.upstream_keep is not None and not 0 < args.upstream_keep < 2**30:
        raise ValueError(f"--upstream-keep {args.upstream_keep:g}: give MiB, more than 0")
    check_upstream(args.upstream, args.insecure)
    problem = edge_name_problem(args.edge_name) if args.edge_name is not None else None
    if problem is not None:
        raise ValueError(f"--edge-name {args.edge_name!a}: {problem}")
    if not args.upstream_token_file:
        raise ValueError("--upstream needs --upstream-token-file (the edge credential the hub lists)")
    context = None
    if args.upstream.startswith("wss:"):
        try:
            context = ssl.create_default_context(cafile=args.upstream_cafile)
        except (OSError, ssl.SSLError) as e:
            raise ValueError(f"--upstream-cafile: cannot load the certificate: {e}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return {"url": args.upstream, "token": config.read_token_file(args.upstream_token_file),
            "edge": args.edge_name, "ssl_context": context, "insecure": args.insecure}


def run(args: argparse.Namespace) -> int:
    from .. import config
    from ..adapters.acp import transcripts_to
    from ..adapters.files.discovery import session_roots
    from ..adapters.files.source import DirectorySource
    from ..cli_paths import root_problem
    from ..protocol.display import visible, visible_logging
    from ..protocol.loopback import is_loopback
    from ..relay import Relay
    from ..relay.notify import start_notifier
    from ..relay.servers.wsserver import FLUSH_INTERVAL, WsServer

    visible_logging()
    problems = [p for r in args.root if (p := root_problem(r)) is not None]
    for bad in problems:
        print(f"watchkeeper serve: {bad}", file=sys.stderr)
    if problems:
        return 2
    try:
        options = server_options(args)
        upstream = upstream_options(args)
        otlp_check(args)
    except ValueError as e:
        print(visible(f"watchkeeper serve: {e}"), file=sys.stderr)
        return 2
    taken = claim(config.config_dir())
    if isinstance(taken, str):
        print(visible(f"watchkeeper serve: {taken}"), file=sys.stderr)
        return 2
    relay = Relay(flush_interval=FLUSH_INTERVAL).start()
    alerts, problem = start_notifier(relay)
    if problem:
        print(visible(f"watchkeeper serve: {problem}"), file=sys.stderr, flush=True)
    exporter = None
    if args.otlp:
        from ..export.options import continuous_export

        exporter = continuous_export(relay, args)
    recorder, wanted = _recorder(relay)
    keep = DEFAULT_KEEP_MIB if args.upstream_keep is None else args.upstream_keep
    ledger = _read_back(relay, recorder, wanted, keep if upstream is not None else None, args.max_age * 3600)
    server = WsServer(relay, **options)
    server.record_to(recorder)
    server.owed = ledger if upstream is not None else None
    wanted.append(server.agent_sessions.__contains__)
    relay.add_source(server)
    if not server.ready.wait(15) or server.error is not None:
        print(visible(f"watchkeeper serve: cannot listen on {options['host']}:{options['port']}: {server.error}"),
              file=sys.stderr)
        relay.stop()
        recorder.close()
        return 1
    roots = session_roots(args.root, defaults=not args.no_default_roots)
    relay.add_source(DirectorySource(roots, transcripts_to(relay),
                                     max_age=args.max_age * 3600))
    hooks = "" if args.no_hooks else _start_hooks(relay, server, options["token"], recorder, wanted)
    if upstream is not None:
        from ..relay.servers.upstream import Upstream

        relay.add_source(Upstream(server, **upstream))
        hooks += f"; pushing to {upstream['url']}"
    token_hint = "" if options["token"] is None else " --token-file YOUR_TOKEN_FILE" \
        if len(options["token"].people) > 1 else \
        f" --token-file {args.token_file[0] if args.token_file else config.token_path()}"
    host = options["host"]
    shown = server.url if is_loopback(host) or host not in ("0.0.0.0", "::") else \
        server.url.replace("[::]" if host == "::" else host, _hostname(), 1)
    print(visible(f"watchkeeper serve: relay {relay.epoch} on {server.url}{hooks}"), flush=True)
    if exporter is not None:
        print(visible(f"  OTLP:       spans to {exporter.shown}"), flush=True)
    print(visible(f"  attach:     watchkeeper attach {shown}{token_hint}"), flush=True)
    print(visible(f"  SDK agents: watchkeeper.sdk.connect({shown!r}) with $WATCHKEEPER_AGENT_TOKEN set "
                  "(one per run: watchkeeper token --agent)"), flush=True)
    if not is_loopback(host) and options["ssl_context"] is None:
        print("  warning: not TLS: the token crosses the network in clear; use --certfile/--keyfile "
              "or an ssh tunnel", file=sys.stderr, flush=True)
    _wait_for_signal()
    if alerts is not None:
        alerts.close()
    if exporter is not None:
        exporter.close()
        print(visible(f"watchkeeper serve: {exporter.summary()}"), file=sys.stderr, flush=True)
    relay.stop()
    ledger.save()
    recorder.close()
    return 0


def _recorder(relay: Any) -> tuple[Any, list[Callable[[str], bool]]]:
    """Hooked, SDK and ACP sessions recorded (for ``replay``, and as their history on disk): the recorder,
    and the list of what it wants, filled in as the servers start."""
    from .. import config
    from ..relay.pruning import DEFAULT_DAYS, DEFAULT_GIB, Retention
    from ..relay.recorder import Recorder

    days, gib = config.recordings_retention_or_default(_say_stderr) or (DEFAULT_DAYS, DEFAULT_GIB)
    wanted: list[Callable[[str], bool]] = []
    recorder = Recorder(config.recordings_dir(), want=lambda sid: any(w(sid) for w in wanted),
                        read_range=relay.read_range, retention=Retention(config.recordings_dir(), days, gib),
                        notice=relay.notice)
    relay.subscribe(recorder)
    relay.record_to(recorder)
    return recorder, wanted


def _read_back(relay: Any, recorder: Any, wanted: list[Callable[[str], bool]], keep_mib: float | None,
               max_age: float) -> Any:
    """The sessions the last run recorded, read back from their recordings before any agent reconnects (as
    transcripts are re-read); as an edge (``keep_mib``), what the hub had not acknowledged first of all, within
    the cap. The ledger that keeps the marks of this run."""
    from .. import config
    from ..protocol.display import plural, visible
    from ..relay.owed import Ledger, Marks, OwedSource

    pushing = keep_mib is not None
    ledger = Ledger(Marks(config.config_dir() / "recorded-sessions.json"), recorder,
                    int(keep_mib * 2**20) if keep_mib is not None else None, pushing=pushing, max_age=max_age)
    recorder.opened = ledger.opened
    tails, notices = ledger.recover()
    recovered = {t.session for t in tails}
    wanted.append(recovered.__contains__)
    for notice in notices:
        print(visible(f"watchkeeper serve: {notice['data']['text']}"), file=sys.stderr, flush=True)
    if tails or notices:
        done = threading.Event()
        relay.add_source(OwedSource(tails, notices, done.set))
        n, owed = sum(len(t) for t in tails), sum(len(t) - t.owed for t in tails)
        said = f", {owed} of them not acknowledged by the hub" if pushing else ""
        print(f"watchkeeper serve: reading back {plural(n, 'event')} of {plural(len(tails), 'session')} from "
              f"their recordings{said}", flush=True)
        done.wait()
    return ledger


def claim(directory: Path) -> int | str:
    """This process's hold on the config ``directory`` (a locked file, released when it exits, however); or
    why not: the serve already holding it. Two sharing one would overwrite each other's record of what each
    recorded and what its hub acknowledged (``recorded-sessions.json``), and lose it at the next start."""
    from .. import config

    path = config.private_dir(directory) / "serve.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        said = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f" (pid {said})" if said.isdigit() else ""
        return (f"another watchkeeper serve{who} uses {directory}: give this one a config directory of its "
                f"own (WATCHKEEPER_HOME=DIR)")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def otlp_check(args: argparse.Namespace) -> None:
    """``--otlp``'s flags and the SDK, checked before anything starts; ValueError says what is wrong."""
    if not args.otlp:
        return
    from ..export.options import sender_of
    from ..export.otlp import OtelMissing

    try:
        sender_of(args).shutdown()
    except OtelMissing as e:
        raise ValueError(str(e)) from None


def _start_hooks(relay: Any, server: Any, people: Any, recorder: Any,
                 wanted: list[Callable[[str], bool]]) -> str:
    """Claude Code hooks on their usual loopback port; a note (not a failure) if that port is taken.

    The calls they hold are held for the attached viewers (``server.viewers``),
    and this machine's breakpoint rules, which those viewers edit, are checked
    before each one.
    """
    from .. import config
    from ..breakpoints import Book, Matcher, relay_facts
    from ..protocol.display import visible
    from ..relay.servers.hookserver import serve_hooks

    book = Book.load()
    for problem in book.problems:
        print(f"watchkeeper serve: breakpoints: {problem}", file=sys.stderr, flush=True)
    source = serve_hooks(relay, people if people is not None else config.keyring(), port=config.hook_port(),
                         runtime_file=True, recorder=recorder,
                         breakpoint=Matcher(book, relay_facts(relay)), viewers=server.viewers)
    wanted.append(source.knows)
    if not source.ready.wait(10) or source.error is not None:
        print(visible(f"watchkeeper serve: no hook endpoint ({source.error}); hooked sessions are watched, "
                      "not steered"), file=sys.stderr)
        return ""
    server.breakpoints = book
    server.watched_by(source)
    return f"; hooks on port {source.port}"


def _hostname() -> str:
    import socket

    return socket.getfqdn()


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    while not stop.wait(0.5):
        pass


def _say_stderr(text: str) -> None:
    import sys

    from ..protocol.display import visible

    print(visible(f"watchkeeper: {text}"), file=sys.stderr, flush=True)

