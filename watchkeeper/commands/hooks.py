"""``watchkeeper hooks install|uninstall|status``: make Claude Code sessions started anywhere steerable.

``install`` merges the steering hooks into a Claude Code settings file (the
user's, or a project's ``.claude/settings.local.json``: personal, not checked
in) without touching any other setting or hook; installing twice changes
nothing; ``uninstall`` puts the file back as it was (``adapters.claude_code.settings``
edits it through a symlink, and refuses a read-only or oddly shaped one). The
hooks send a hook-only credential (``hook-token`` in the config directory),
referenced as ``$WATCHKEEPER_HOOK_TOKEN``, never written: sessions are
steerable when that variable is in their environment. It reaches the hook
endpoint and nothing else; the person's token is never used here (hooks an
older install wrote with it are replaced, and removed by ``uninstall``).
``status`` lists the live Claude Code processes and whether each can be
steered, and if not, why.
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HELP = "install, remove or check the Claude Code (or, with --codex, Codex) hooks that make sessions steerable"
#: A process's start time is known to the kernel's clock tick (10 ms).
START_TIME_RESOLUTION = 0.02


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "uninstall", "status"])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="the user's settings (the default)")
    where.add_argument("--project", metavar="DIR", help="DIR/.claude/settings.local.json")
    parser.add_argument("--fail-closed", action="store_true",
                        help="install: deny tool calls when watchkeeper is unreachable or a hold times out")
    parser.add_argument("--port", type=int, default=None, help="install: the hook server's port")
    parser.add_argument("--prompts", choices=["here", "terminal"], default="terminal",
                        help="install: who answers the agents' permission prompts — terminal (the default: "
                             "watchkeeper says one is waiting) or here (watchkeeper holds them for you)")
    parser.add_argument("--codex", action="store_true",
                        help="Codex's hooks ($CODEX_HOME/hooks.json), not Claude Code's")
    parser.add_argument("--trust-hook", action="store_true",
                        help="--codex install: trust watchkeeper's own hook in Codex without asking")
    parser.add_argument("--codex-command", metavar="PATH", default=None,
                        help="--codex: the codex to ask (default: codex)")


def run(args: argparse.Namespace) -> int:
    from .. import config
    from ..adapters.claude_code.settings import SettingsError, read_settings
    from ..protocol.display import visible

    if args.codex:
        from ..adapters.codex.install import run as run_codex

        return run_codex(args, _before, _record_install)
    path = project_settings(Path(args.project)) if args.project else user_settings()
    if args.action == "status":
        return status(Path(args.project) if args.project else None, args.codex_command or "codex")
    try:
        settings = read_settings(path)
        if args.action == "install":
            install(path, settings, args.port or config.hook_port(), args.fail_closed, args.prompts == "here")
        else:
            removed = uninstall(path, settings)
    except SettingsError as e:
        print(visible(f"watchkeeper hooks: {e}; nothing changed"), file=sys.stderr)
        return 1
    if args.action == "install":
        mode = "fail-closed" if args.fail_closed else "fail-open"
        prompts = "permission prompts answered here" if args.prompts == "here" else \
            "permission prompts answered in the agent's terminal"
        print(visible(f"installed the steering hooks in {path} ({mode}, {prompts})"))
        print(visible(f"Sessions started from now on are steerable when {config.ENV_HOOK_TOKEN} is in their "
                      f"environment, e.g. add to your shell profile:\n"
                      f"  export {config.ENV_HOOK_TOKEN}=\"$(cat {config.hook_token_path()})\"\n"
                      f"(a hook-only credential: never export {config.ENV_TOKEN}, your steering token, to agents)"))
        return 0
    if removed:
        print(visible(f"removed the steering hooks from {path}"))
    else:
        print(visible(f"no steering hooks in {path}"))
    return 0


# --- the settings files ---------------------------------------------------------


def user_settings() -> Path:
    base = os.environ.get("CLAUDE_CONFIG_DIR") or str(Path.home() / ".claude")
    return Path(base) / "settings.json"


def project_settings(directory: Path) -> Path:
    return directory.resolve() / ".claude" / "settings.local.json"


def install(path: Path, settings: dict[str, Any], port: int, fail_closed: bool, prompts_here: bool = False) -> None:
    from .. import config
    from ..adapters.claude_code import hooks as H
    from ..adapters.claude_code import settings as S
    from ..adapters.claude_code.steering import Policy

    S.check_writable(path)
    config.load_token(create=True)
    config.load_hook_token()
    ours = H.steering_hooks(config.hook_url(port, fail_closed, prompts_here), config.ENV_HOOK_TOKEN,
                            Policy().hold_timeout, fail_closed)
    merged = S.merge_hooks(settings, ours, _ours())
    if merged != settings or not path.exists():
        before = _before(path)
        if before is None or S.installed(settings, _ours()) is None:
            before = {**S.remember(settings), "existed": path.exists()}
        S.write_settings(path, merged)
        _record_install(path, time.time(), before)


def uninstall(path: Path, settings: dict[str, Any]) -> bool:
    """Take watchkeeper's hooks out, putting back the empty lists (and file) that were there before install."""
    from ..adapters.claude_code import settings as S

    if S.installed(settings, _ours()) is None:
        return False
    before = _before(path)
    left = S.remove_hooks(settings, _ours(), before)
    if not left and before is not None and before.get("existed") is False and not path.is_symlink():
        S.check_writable(path)
        try:
            path.unlink()
        except OSError as e:
            raise S.SettingsError(f"cannot remove {path}: {e.strerror}") from None
    else:
        S.write_settings(path, left)
    _record_install(path, None)
    return True


def _ours() -> tuple[str, ...]:
    """The credential variables that mark watchkeeper's hooks: the hook credential, and an older install's token."""
    from .. import config

    return (config.ENV_HOOK_TOKEN, config.ENV_TOKEN)


def _installs_path() -> Path:
    from .. import config

    return config.config_dir() / "installs.json"


def _install_records() -> dict[str, Any]:
    import orjson

    try:
        data = orjson.loads(_installs_path().read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def installs() -> dict[str, float]:
    """settings path -> when watchkeeper last installed hooks there (epoch seconds)."""
    out = {}
    for k, v in _install_records().items():
        at = v.get("at") if isinstance(v, dict) else v
        if isinstance(at, int | float) and not isinstance(at, bool):
            out[k] = float(at)
    return out


def _before(path: Path) -> dict[str, Any] | None:
    """What the settings at ``path`` held before watchkeeper's install (``settings.remember``)."""
    record = _install_records().get(str(path))
    before = record.get("before") if isinstance(record, dict) else None
    return before if isinstance(before, dict) else None


def _record_install(path: Path, when: float | None, before: dict[str, Any] | None = None) -> None:
    import orjson

    known = _install_records()
    if when is None:
        known.pop(str(path), None)
    else:
        known[str(path)] = {"at": when, "before": before}
    target = _installs_path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    target.write_bytes(orjson.dumps(known))


# --- status -----------------------------------------------------------------------


@dataclass
class ClaudeProcess:
    pid: int
    cwd: str | None
    started: float
    argv: list[str]
    env: dict[str, str] = field(repr=False, default_factory=dict)


def steerability(proc: ClaudeProcess, token: str | None, user_path: Path,
                 installed_at: dict[str, float]) -> tuple[bool, str]:
    """(steerable, why): how a running Claude Code was started decides whether its hooks reach watchkeeper."""
    from .. import config
    from ..adapters.claude_code import settings as S
    from ..credentials import Keyring

    via: str | None = None
    since: float | None = None
    if "--settings" in proc.argv and any(config.ENV_HOOK_TOKEN in a for a in proc.argv):
        via = "watchkeeper run"
    else:
        candidates = [user_path]
        if proc.cwd:
            project = Path(proc.cwd) / ".claude"
            candidates += [project / "settings.json", project / "settings.local.json"]
        for path in candidates:
            try:
                hooked = S.installed(S.read_settings(path), config.ENV_HOOK_TOKEN)
            except ValueError:
                continue
            if hooked is not None:
                via = str(path)
                since = installed_at.get(str(path)) or _mtime(path)
                break
    if via is None:
        return False, "not hooked (start it with `watchkeeper run -- claude`, or `watchkeeper hooks install`)"
    if since is not None and since > proc.started + START_TIME_RESOLUTION:
        return False, f"started before the install in {via}; restart it to steer it"
    given = proc.env.get(config.ENV_HOOK_TOKEN)
    if not given:
        return False, f"token missing: {config.ENV_HOOK_TOKEN} is not in its environment"
    if token is None or Keyring([(None, token)], config.hook_credentials_dir()).hook(given) is None:
        return False, f"{config.ENV_HOOK_TOKEN} in its environment is not a watchkeeper hook credential"
    leaked = proc.env.get(config.ENV_TOKEN)
    if leaked and hmac.compare_digest(leaked.encode(), token.encode()):
        return True, (f"hooked through {via}; warning: your steering token is in its environment "
                      f"({config.ENV_TOKEN}): it can approve its own calls")
    return True, f"hooked through {via}"


def status(project: Path | None, codex: str = "codex") -> int:
    from .. import config
    from ..adapters.claude_code import settings as S
    from ..client import ApiError, api_request
    from ..protocol.display import visible

    token = config.load_token(create=False)
    recorded = installs()
    paths = [user_settings()] + ([project_settings(project)] if project else [])
    for path in paths:
        try:
            settings = S.read_settings(path)
        except ValueError as e:
            print(visible(f"hooks: {e}"))
            continue
        hooked = S.installed(settings, config.ENV_HOOK_TOKEN)
        if hooked is None and S.installed(settings, config.ENV_TOKEN) is not None:
            print(visible(f"hooks: an older install in {path} sends your steering token ({config.ENV_TOKEN}); "
                          "run `watchkeeper hooks install` again to use a hook-only credential"))
        elif hooked is None:
            print(visible(f"hooks: not installed in {path}"))
        else:
            mode = "fail-closed" if hooked["fail_closed"] else "fail-open"
            mode += ", prompts answered here" if "prompts=here" in str(hooked["url"]) else \
                ", prompts answered in the agent's terminal"
            when = recorded.get(str(path)) or _mtime(path)
            print(visible(f"hooks: installed in {path} ({mode}, {hooked['url']}, since {_iso(when)})"))
    from ..adapters.codex import setup as codex_setup

    if codex_setup.installed() is not None:
        from ..adapters.codex.install import status as codex_status

        codex_status(codex_setup.hooks_json(), [codex])
    print(visible(f"token: {config.token_path()} ({'present' if token else 'missing'})"))
    runtime = config.read_runtime()
    hooked_sessions: list[dict[str, Any]] = []
    if runtime is None:
        print("relay: no watchkeeper is running (hooked sessions go on unsteered)")
    else:
        try:
            answer = api_request("GET", "/sessions", port=runtime["port"])
            hooked_sessions = [s for s in answer.get("sessions", []) if s.get("steering") is not None]
            print(visible(f"relay: listening on {runtime['host']}:{runtime['port']} (pid {runtime['pid']})"))
        except ApiError as e:
            print(visible(f"relay: {e}"))
    procs = claude_processes()
    print(f"live Claude Code processes: {len(procs)}" + ("" if procs else " (none found)"))
    for proc in procs:
        ok, why = steerability(proc, token, user_settings(), recorded)
        session = _session_of(proc, hooked_sessions) or "?"
        print(visible(f"  pid {proc.pid}  session {session}  cwd {proc.cwd or '?'}\n"
                      f"    {'steerable' if ok else 'not steerable'}: {why}"))
    for s in hooked_sessions:
        steer = s["steering"]
        mode = "paused" if steer.get("paused") else "step mode" if steer.get("step") else "running freely"
        held = ", ".join(steer.get("held") or []) or "none"
        print(visible(f"  hooked session {s['session']} ({s.get('state')}): {mode}; held: {held}; "
                      f"viewers: {steer.get('viewers', 0)}"))
    return 0


def claude_processes() -> list[ClaudeProcess]:
    """Running Claude Code CLIs of this user (Linux ``/proc``; elsewhere none are found)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    boot = _boot_time()
    if boot is None:
        return []
    ticks = os.sysconf("SC_CLK_TCK")
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = [a.decode("utf-8", "replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
            if not argv or not _is_claude(argv):
                continue
            stat = (entry / "stat").read_text()
            started = boot + int(stat.rpartition(")")[2].split()[19]) / ticks
            env = dict(kv.decode("utf-8", "replace").partition("=")[::2]
                       for kv in (entry / "environ").read_bytes().split(b"\0") if b"=" in kv)
            cwd = os.readlink(entry / "cwd")
        except (OSError, ValueError, IndexError):
            continue
        found.append(ClaudeProcess(int(entry.name), cwd, started, argv, env))
    return sorted(found, key=lambda p: p.started)


def _is_claude(argv: list[str]) -> bool:
    exe = Path(argv[0]).name
    if exe in ("claude", "claude.exe"):
        return True
    return exe.startswith("node") and any("claude-code" in a and a.endswith("cli.js") for a in argv[1:3])


def _session_of(proc: ClaudeProcess, hooked: list[dict[str, Any]]) -> str | None:
    for flag in ("--session-id", "--resume", "-r"):
        if flag in proc.argv[:-1]:
            return proc.argv[proc.argv.index(flag) + 1]
    same_cwd = [s["session"] for s in hooked if s.get("cwd") == proc.cwd and s.get("live")]
    return same_cwd[0] if len(same_cwd) == 1 else None


def _boot_time() -> float | None:
    """When the machine booted, from ``/proc/uptime`` (``btime`` in /proc/stat is whole seconds only)."""
    try:
        return time.time() - float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _iso(when: float | None) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds") if when else "?"
