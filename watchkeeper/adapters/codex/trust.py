"""Codex hook trust, asked of Codex itself: which of watchkeeper's hooks it would run, and trusting exactly those.

Codex 0.171.0 runs a non-managed hook only once the person trusted that
exact hook: ``[hooks.state."<key>"] trusted_hash`` in the user's
``config.toml``, where the key names the hook's source and place and the
hash covers its definition, so a changed hook is untrusted again. An
untrusted hook is skipped without a word under ``codex exec``.

watchkeeper never computes that hash and never passes
``--dangerously-bypass-hook-trust``: ``codex app-server``'s ``hooks/list``
reports each hook's key, current hash and trust status (for ``run``'s
``-c`` hooks too, given the same flags), and ``config/batchWrite`` records
the trust, as Codex's own ``/hooks`` screen does. Only hooks that are
watchkeeper's (``hooks.is_ours``) are ever trusted, and only when the person
said yes — and only where watchkeeper put them: ``run``'s own ``-c`` flags,
or the user's ``hooks.json`` that ``hooks install --codex`` wrote, with the
very commands written there. A project's ``.codex/hooks.json`` that copies
or imitates the forwarder is never trusted here: it could point the
forwarder at a curl config of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...protocol.display import visible
from . import hooks as X

#: Seconds ``codex app-server`` gets to answer (it starts in well under one).
TIMEOUT = 30.0


class TrustError(RuntimeError):
    """Codex could not be asked (not installed, too old, or it failed); the message says which."""


@dataclass(frozen=True)
class HookTrust:
    key: str
    event: str
    command: str
    current_hash: str
    status: str
    source_path: str

    @property
    def trusted(self) -> bool:
        return self.status in ("trusted", "managed")


#: Where Codex says hooks given with ``-c`` come from.
SESSION_FLAGS = "/<session-flags>/config.toml"


def ours(codex: Sequence[str], flags: Sequence[str], env: dict[str, str], cwd: str) -> list[HookTrust]:
    """watchkeeper's hooks as Codex sees them with ``flags`` (its ``-c`` overrides) in ``cwd``."""
    where, commands = _placed(flags, env)
    (answer,) = _ask(codex, flags, env, [("hooks/list", {"cwds": [cwd]})])
    found = []
    for entry in _list(answer.get("data")):
        for hook in _list(entry.get("hooks") if isinstance(entry, dict) else None):
            if (isinstance(hook, dict) and _same_file(hook.get("sourcePath"), where)
                    and hook.get("command") in commands
                    and _ours(hook.get("handlerType"), hook.get("command"), hook.get("key"))):
                found.append(HookTrust(str(hook.get("key")), str(hook.get("eventName")), str(hook.get("command")),
                                       str(hook.get("currentHash")), str(hook.get("trustStatus")),
                                       str(hook.get("sourcePath"))))
    return found


def _placed(flags: Sequence[str], env: dict[str, str]) -> tuple[str, frozenset[str]]:
    """(where watchkeeper's hooks are, the exact commands it wrote there): the ``-c`` flags of this run, else
    the user's ``hooks.json``."""
    from ..claude_code import settings as S
    from . import setup

    if flags:
        hooks: dict[str, object] = {}
        for flag in flags:
            if flag != "-c":
                hooks.update(tomllib.loads(flag).get("hooks") or {})
        return SESSION_FLAGS, frozenset(_commands(hooks))
    path = setup.hooks_json(env)
    try:
        settings = S.read_settings(path)
    except S.SettingsError:
        return str(path), frozenset()
    return str(path), frozenset(_commands(settings.get("hooks") or {}))


def _commands(hooks: object) -> list[str]:
    groups = [g for event in hooks.values() for g in _list(event)] if isinstance(hooks, dict) else []
    return [str(h.get("command")) for g in groups if isinstance(g, dict) for h in _list(g.get("hooks"))
            if isinstance(h, dict) and X.is_forwarder(h.get("command"))]


def _same_file(found: object, where: str) -> bool:
    if not isinstance(found, str):
        return False
    if where == SESSION_FLAGS or found == SESSION_FLAGS:
        return found == where
    return os.path.realpath(found) == os.path.realpath(where)


def _ours(handler: Any, command: Any, key: Any) -> bool:
    """A hook watchkeeper may ask to trust: exactly its forwarder, under a key that stays one TOML key."""
    return (handler == "command" and X.is_forwarder(command) and isinstance(key, str)
            and not any(c in key for c in '"\\\n'))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def trust(codex: Sequence[str], env: dict[str, str], hooks: Sequence[HookTrust]) -> None:
    """Record trust for exactly ``hooks`` (each at the hash Codex reported) in the user's config."""
    edits = [{"keyPath": f'hooks.state."{h.key}".trusted_hash', "value": h.current_hash, "mergeStrategy": "upsert"}
             for h in hooks if _ours("command", h.command, h.key)]
    if edits:
        _ask(codex, (), env, [("config/batchWrite", {"edits": edits})])


def forget(codex: Sequence[str], env: dict[str, str], hooks: Sequence[HookTrust]) -> int:
    """Remove what the user's config records of ``hooks`` (watchkeeper's, as :func:`ours` found them before
    they were uninstalled); how many. Left there, the trust would wait for a hook written again at the same
    place with the same definition, and Codex would run it without asking."""
    edits = [{"keyPath": f'hooks.state."{h.key}"', "value": None, "mergeStrategy": "replace"}
             for h in hooks if h.status in ("trusted", "modified") and _ours("command", h.command, h.key)]
    if edits:
        _ask(codex, (), env, [("config/batchWrite", {"edits": edits})])
    return len(edits)


def describe(hooks: Sequence[HookTrust]) -> str:
    """The commands a person is asked to trust, one per event, and where each is written."""
    lines = []
    for h in hooks:
        where = "this run's -c flags" if h.source_path == SESSION_FLAGS else h.source_path
        lines.append(f"  {h.event[:1].upper()}{h.event[1:]} (in {where}): {h.command}")
    return visible("\n".join(lines))


def _ask(codex: Sequence[str], flags: Sequence[str], env: dict[str, str],
         calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Start ``codex app-server`` (stdio JSON-RPC), make ``calls`` in order, return their results."""
    argv = [*codex, *flags, "app-server"]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
    except OSError as e:
        raise TrustError(f"cannot start {argv[0]}: {e.strerror}") from None
    killer = threading.Timer(TIMEOUT, proc.kill)
    killer.start()
    try:
        assert proc.stdin is not None and proc.stdout is not None
        requests = [("initialize", {"clientInfo": {"name": "watchkeeper", "version": "1"}}), *calls]
        results = []
        for n, (method, params) in enumerate(requests):
            proc.stdin.write(json.dumps({"id": n, "method": method, "params": params}) + "\n")
            proc.stdin.flush()
            results.append(_answer(proc, n, method))
            if n == 0:
                proc.stdin.write(json.dumps({"method": "initialized"}) + "\n")
                proc.stdin.flush()
        proc.stdin.close()
        return results[1:]
    except (OSError, ValueError) as e:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        said = proc.stderr.read()[-400:].strip() if proc.stderr is not None else ""
        raise TrustError(f"codex app-server failed: {said or e}") from None
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _answer(proc: subprocess.Popen[str], n: int, method: str) -> dict[str, Any]:
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or message.get("id") != n:
            continue
        if "error" in message:
            error = message["error"]
            why = error.get("message") if isinstance(error, dict) else error
            raise TrustError(f"codex app-server refused {method}: {why}")
        result = message.get("result")
        return result if isinstance(result, dict) else {}
    err = proc.stderr.read()[-400:] if proc.stderr is not None else ""
    raise TrustError(f"codex app-server ended before answering {method}: {err.strip() or 'no output'}")
