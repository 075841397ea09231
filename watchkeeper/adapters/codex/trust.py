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
said yes.
"""

from __future__ import annotations

import json
import subprocess
import threading
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
    source: str

    @property
    def trusted(self) -> bool:
        return self.status in ("trusted", "managed")


def ours(codex: Sequence[str], flags: Sequence[str], env: dict[str, str], cwd: str) -> list[HookTrust]:
    """watchkeeper's hooks as Codex sees them with ``flags`` (its ``-c`` overrides) in ``cwd``."""
    (answer,) = _ask(codex, flags, env, [("hooks/list", {"cwds": [cwd]})])
    found = []
    for entry in _list(answer.get("data")):
        for hook in _list(entry.get("hooks") if isinstance(entry, dict) else None):
            if isinstance(hook, dict) and _ours(hook.get("handlerType"), hook.get("command"), hook.get("key")):
                found.append(HookTrust(str(hook.get("key")), str(hook.get("eventName")), str(hook.get("command")),
                                       str(hook.get("currentHash")), str(hook.get("trustStatus")),
                                       str(hook.get("source"))))
    return found


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


def describe(hooks: Sequence[HookTrust]) -> str:
    """The commands a person is asked to trust, one per event."""
    return visible("\n".join(f"  {h.event[:1].upper()}{h.event[1:]}: {h.command}" for h in hooks))


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
        raise TrustError(f"codex app-server failed: {e}") from None
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
