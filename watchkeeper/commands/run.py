"""``watchkeeper run -- claude [ARGS]``: start Claude Code steerable, editing no file.

``watchkeeper run --acp -- AGENT [ARGS]``: drive any ACP agent, watchkeeper its client
(``adapters/acp``): inside the running watchkeeper when there is one (``POST /acp``),
else with a viewer of its own open on the session; quitting that viewer (or SIGTERM,
or SIGHUP: the terminal closed) answers every pending permission request ``cancelled``
and ends the agent.

The hooks go in through ``--settings`` (merged into the person's own
``--settings``, if they gave one) and point at the running relay's hook
endpoint. The child gets a hook credential minted for this session (through
its environment), never the person's token: it can report its own hooks and
steer nothing. The same settings deny Claude Code's tools watchkeeper's config
directory, where the person's token lives.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

HELP = ("start Claude Code or Codex steerable: watchkeeper run [--fail-closed] -- claude|codex [ARGS]; "
        "or any ACP agent: watchkeeper run --acp [--prompt TEXT] -- AGENT [ARGS]")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fail-closed", action="store_true",
                        help="if watchkeeper is unreachable or a hold times out, deny the tool call "
                             "(Claude Code 2.1.332 honours this; 2.1.197 ignores it and goes on)")
    parser.add_argument("--port", type=int, default=None,
                        help="the hook server's port (default: the running relay's, else the configured one)")
    parser.add_argument("--prompts", choices=["here", "terminal"], default="here",
                        help="who answers the agent's permission prompts: here (watchkeeper holds them for you; "
                             "the agent's terminal can still answer first) or terminal (watchkeeper only says "
                             "one is waiting); default: here")
    parser.add_argument("--trust-hook", action="store_true",
                        help="Codex: trust watchkeeper's own hook without asking (Codex runs only trusted hooks)")
    parser.add_argument("--acp", action="store_true",
                        help="AGENT speaks the Agent Client Protocol: watchkeeper is its client and opens the "
                             "viewer on its session (e.g. -- claude-agent-acp, -- codex-acp, -- gemini --acp)")
    parser.add_argument("--prompt", metavar="TEXT", help="--acp: the first prompt (later ones: inject, i)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- claude|codex [ARGS], or -- AGENT [ARGS] with --acp")


def run(args: argparse.Namespace) -> int:
    from .. import config
    from ..client import hook_target_port

    argv = list(args.command)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("watchkeeper run: give the command to start, e.g. `watchkeeper run -- claude`", file=sys.stderr)
        return 2
    if args.acp:
        return run_acp(argv, args.prompt)
    if args.prompt is not None:
        print("watchkeeper run: --prompt goes with --acp", file=sys.stderr)
        return 2
    port = args.port or hook_target_port()
    from ..adapters.codex.launch import installed_mode, is_codex

    fail_closed = args.fail_closed
    if is_codex(argv):
        installed = installed_mode(dict(os.environ))
        if args.fail_closed and installed is False:
            print("watchkeeper run: the Codex hooks `hooks install --codex` put in place fail open, and Codex runs "
                  "them for this session too, so --fail-closed cannot take effect; reinstall them with "
                  "`watchkeeper hooks install --codex --fail-closed`, or remove them "
                  "(`watchkeeper hooks uninstall --codex`)", file=sys.stderr)
            return 2
        fail_closed = fail_closed or bool(installed)
    if args.port is None and config.read_runtime() is None:
        print(f"watchkeeper run: no watchkeeper is running; this session becomes steerable once one "
              f"listens on port {port} (until then its hooks fail "
              f"{'closed' if fail_closed else 'open'})", file=sys.stderr)
    if is_codex(argv):
        return run_codex(args, argv, port, fail_closed)
    try:
        argv = steerable_argv(argv, port, args.fail_closed, args.prompts == "here")
    except ValueError as e:
        print(f"watchkeeper run: {e}", file=sys.stderr)
        return 2
    env = agent_env(dict(os.environ))
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(f"watchkeeper run: cannot start {argv[0]}: {e.strerror}", file=sys.stderr)
        return 127


def run_codex(args: argparse.Namespace, argv: list[str], port: int, fail_closed: bool) -> int:
    """Codex with this run's hooks (``-c`` flags), their trust asked for, then exec'd; ``fail_closed`` is the
    session's mode, the installed hooks' included (they read this run's request file)."""
    from ..adapters.codex.launch import ensure_trust, prepare
    from ..protocol.display import visible

    argv, env, flags = prepare(argv, port, fail_closed, args.prompts == "here", dict(os.environ))
    _trusted, message = ensure_trust([argv[0]], flags, env, args.trust_hook)
    if message:
        print(visible(f"watchkeeper run: {message}"), file=sys.stderr)
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(f"watchkeeper run: cannot start {argv[0]}: {e.strerror}", file=sys.stderr)
        return 127
#: Seconds to wait for the agent's ACP session (and the local API) to start.
ACP_WAIT = 60.0


def run_acp(argv: list[str], prompt: str | None) -> int:
    """Into the running watchkeeper when there is one (its viewer shows the session), else a viewer of its own."""
    from .. import config

    if config.read_runtime() is not None:
        return _into_running(argv, prompt)
    return _with_viewer(argv, prompt)


def _into_running(argv: list[str], prompt: str | None) -> int:
    from ..client import ApiError, api_request
    from ..protocol.display import visible

    body = {"argv": argv, "prompt": prompt, "cwd": os.getcwd(), "env": dict(os.environ)}
    try:
        answer = api_request("POST", "/acp", body, timeout=ACP_WAIT + 10)
    except ApiError as e:
        print(visible(f"watchkeeper run --acp: {e}"), file=sys.stderr)
        return 1
    # The session id is the agent's own text: shown, never let at the terminal.
    print(visible(f"ACP session {answer.get('session')} runs in the watchkeeper that is open: watch and steer it "
                  "there (it ends when that watchkeeper quits, or the agent exits)"))
    return 0


def _with_viewer(argv: list[str], prompt: str | None) -> int:
    from ..adapters.acp import watch_disk
    from ..adapters.acp.source import AcpSource
    from ..adapters.files.discovery import session_roots
    from ..adapters.files.tailfirst import INDEX_AFTER
    from ..protocol.display import visible_logging
    from ..relay import Relay
    from ..relay.notify import start_notifier
    from ..viewer import WatchkeeperApp
    from ..viewer.hangup import Hangup

    visible_logging()
    roots = session_roots([], defaults=True)
    relay = Relay(index_after=INDEX_AFTER).start()
    alerts, problem = start_notifier(relay)
    hangup = Hangup()
    try:
        steer, matcher = _steering(relay)
        steer.notices += [problem] if problem else []
        source = AcpSource(argv, prompt=prompt, env=dict(os.environ), breakpoint=matcher)
        relay.add_source(source)
        watch_disk(relay, roots)
        source.ready.wait(ACP_WAIT)
        if source.session is None:
            print(f"watchkeeper run --acp: {source.error or 'the agent opened no ACP session in time'}",
                  file=sys.stderr)
            return 1
        app = WatchkeeperApp(relay, open_session=source.session, looked_in=[str(r) for r in roots], steer=steer)
        hangup.run(app)
    finally:
        if alerts is not None:
            alerts.close()
        relay.stop()
        hangup.restore()
        hangup.exit_if_signalled()
    return app.return_code or 0


def _steering(relay: Any) -> tuple[Any, Any]:
    """The hook endpoint and control API on ``relay`` (as ``watchkeeper`` starts them), and the breakpoints."""
    from .. import config
    from ..breakpoints import Book, Matcher, relay_facts
    from ..relay.servers.hookserver import serve_hooks
    from ..viewer.model.control_availability import SteerSetup

    book = Book.load()
    setup = SteerSetup(breakpoints=book)
    matcher = Matcher(book, relay_facts(relay))
    token = config.load_token(create=True)
    assert token is not None
    source = serve_hooks(relay, token, port=config.hook_port(), breakpoint=matcher, runtime_file=True,
                         record_dir=config.recordings_dir())
    if not source.ready.wait(ACP_WAIT) or source.error is not None:
        setup.hooks_error = f"port {config.hook_port()}: {source.error or 'not listening in time'}"
        setup.notices.append(f"No local control API: {setup.hooks_error}; the ACP session is steered here only.")
    else:
        setup.hooks_port = source.port
    return setup, matcher


def agent_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for the agent: a new session's hook credential in, the person's token out."""
    from .. import config
    from ..credentials import mint

    config.load_token(create=True)
    env.pop(config.ENV_TOKEN, None)
    env[config.ENV_HOOK_TOKEN] = mint(config.hook_credentials_dir(), "session")
    return env


def steerable_argv(argv: list[str], port: int, fail_closed: bool, prompts_here: bool = True) -> list[str]:
    """``argv`` with one ``--settings`` holding the steering hooks, merged into the person's own."""
    import orjson

    from .. import config
    from ..adapters.claude_code import hooks as H
    from ..adapters.claude_code import settings as S
    from ..adapters.claude_code.steering import Policy

    own: dict[str, Any] = {}
    rest = [argv[0]]
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--settings" and i + 1 < len(argv):
            own = _load_settings(argv[i + 1])
            i += 2
            continue
        if arg.startswith("--settings="):
            own = _load_settings(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    ours = H.steering_hooks(config.hook_url(port, fail_closed, prompts_here), config.ENV_HOOK_TOKEN,
                            Policy().hold_timeout, fail_closed)
    merged = S.merge_hooks(own, ours, (config.ENV_HOOK_TOKEN, config.ENV_TOKEN))
    merged = S.merge_denials(merged, S.deny_rules(protected_dirs()))
    return [rest[0], "--settings", orjson.dumps(merged).decode(), *rest[1:]]


def protected_dirs() -> list[str]:
    """The config directory as given and as resolved (a symlinked one is named both ways)."""
    from .. import config

    directory = config.config_dir().absolute()
    out = [str(directory)]
    try:
        out.append(str(directory.resolve()))
    except OSError:
        pass
    return list(dict.fromkeys(out))


def _load_settings(value: str) -> dict[str, Any]:
    """``--settings`` takes a file or inline JSON, as Claude Code does."""
    import orjson

    text = value if value.lstrip().startswith("{") else None
    if text is None:
        try:
            text = Path(value).read_text()
        except OSError as e:
            raise ValueError(f"cannot read --settings {value}: {e.strerror}") from None
    try:
        loaded = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"--settings is not valid JSON: {e}") from None
    if not isinstance(loaded, dict):
        raise ValueError("--settings must be a JSON object")
    return loaded
