"""What ``watchkeeper run -- codex [ARGS]`` does before it starts Codex (interactive or ``codex exec``): no file edited.

The hooks go in as ``-c hooks.<event>=…`` flags for this run only (unless
``hooks install --codex`` put them in ``hooks.json`` already); the forwarder
reads this run's URL and a session credential from a 0600 request file named
by ``$WATCHKEEPER_CODEX_HOOK``. Codex runs them only once the person trusted
them: asked once here (``--trust-hook`` says yes without asking), never
bypassed. Untrusted, the session starts observe-only and this says how to fix it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TRUST_QUESTION = ("Codex runs a hook only once you trust it. Trust watchkeeper's hook (exactly these commands, "
                  "nothing else)?")


def is_codex(argv: list[str]) -> bool:
    return bool(argv) and Path(argv[0]).name in ("codex", "codex.js", "codex.exe")


def installed_mode(env: dict[str, str]) -> bool | None:
    """Whether the hooks ``hooks install --codex`` put in place fail closed (None: none installed).

    Codex runs them beside any ``-c`` hooks, and ``run`` adds none when they are there, so their mode is the
    session's: a ``run --fail-closed`` over hooks installed fail-open would fail open.
    """
    from . import setup

    found = setup.installed(env)
    return None if found is None else bool(found["fail_closed"])


def prepare(argv: list[str], port: int, fail_closed: bool, prompts_here: bool,
            env: dict[str, str]) -> tuple[list[str], dict[str, str], list[str]]:
    """(argv, env, flags): Codex with this run's hooks and request file; the person's token out of ``env``."""
    from ... import config
    from ...credentials import mint
    from ..claude_code.steering import Policy
    from . import hooks as X
    from . import setup

    config.load_token(create=True)
    env.pop(config.ENV_TOKEN, None)
    env.pop(config.ENV_HOOK_TOKEN, None)
    token = mint(config.hook_credentials_dir(), "session")
    env[X.ENV_HOOK_FILE] = str(setup.run_request_file(setup.hook_url(port, fail_closed, prompts_here), token))
    if setup.installed(env) is not None:
        return list(argv), env, []
    hooks = X.steering_hooks(str(setup.install_request_file()), Policy().hold_timeout, fail_closed)
    flags = X.config_flags(hooks)
    return [argv[0], *flags, *argv[1:]], env, flags


#: How a person trusts the hook without being asked, per command.
RUN_FIX = "`watchkeeper run --trust-hook -- codex …`"


def ensure_trust(codex: list[str], flags: list[str], env: dict[str, str], trust_hook: bool,
                 ask: bool | None = None, fix: str = RUN_FIX) -> tuple[bool, str]:
    """(trusted, what to tell the person): asks Codex, and the person when needed, never trusting silently."""
    from . import trust as T

    try:
        hooks = T.ours(codex, flags, env, os.getcwd())
    except T.TrustError as e:
        return False, f"cannot check Codex's hook trust ({e}); the session may be observe-only"
    if not hooks:
        return False, "Codex does not list watchkeeper's hooks (hooks disabled?): the session is observe-only"
    untrusted = [h for h in hooks if not h.trusted]
    if not untrusted:
        return True, ""
    interactive = sys.stdin.isatty() if ask is None else ask
    yes = trust_hook
    if not yes and interactive:
        print(f"{TRUST_QUESTION}\n{T.describe(untrusted)}", file=sys.stderr)
        try:
            yes = input("Trust watchkeeper's Codex hook? [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            yes = False
    if not yes:
        return False, ("watchkeeper's Codex hook is not trusted, so this session is observe-only. Trust it with "
                       f"{fix}, or in Codex: /hooks")
    try:
        T.trust(codex, env, untrusted)
        again = T.ours(codex, flags, env, os.getcwd())
    except T.TrustError as e:
        return False, f"could not record the hook trust ({e}): the session is observe-only"
    if any(not h.trusted for h in again):
        return False, "Codex still reports watchkeeper's hook untrusted: the session is observe-only"
    return True, "trusted watchkeeper's Codex hook (Codex's /hooks lists it)"
