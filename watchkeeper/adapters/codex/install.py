"""What ``watchkeeper hooks install|uninstall|status --codex`` do: Codex sessions started anywhere, steerable.

``install`` merges watchkeeper's command hooks into ``$CODEX_HOME/hooks.json``
(every other hook and key kept; twice changes nothing; ``uninstall`` puts the
file back) and writes their request file (URL and the install credential,
0600) into the config directory. Codex runs the hooks only once the person
trusts them: ``install`` asks on the terminal (``--trust-hook`` says yes),
through Codex's own app-server, for exactly these hooks. Installed sessions
leave Codex's permission prompts to its own terminal (a notice says one is
waiting); ``run`` answers them here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .trust import HookTrust

#: What the settings held before install (``settings.remember``), by path; and recording an install (None: removed).
Before = Callable[[Path], dict[str, Any] | None]
Record = Callable[..., None]


def run(args: argparse.Namespace, before: Before, record: Record) -> int:
    from ...protocol.display import visible
    from ..claude_code.settings import SettingsError, read_settings
    from . import setup

    path = setup.hooks_json()
    codex = [args.codex_command or "codex"]
    if args.action == "status":
        return status(path, codex)
    try:
        settings = read_settings(path)
        if args.action == "install":
            install(path, settings, args.port, args.fail_closed, before, record, args.prompts == "here")
        else:
            listed = _listed(codex, settings)  # asked while the hooks are still there to be listed
            removed = uninstall(path, settings, before, record)
    except SettingsError as e:
        print(visible(f"watchkeeper hooks: {e}; nothing changed"), file=sys.stderr)
        return 1
    if args.action == "uninstall":
        print(visible(f"{'removed the Codex steering hooks from' if removed else 'no Codex steering hooks in'} {path}"))
        if removed:
            _forget(codex, listed)
        return 0
    mode = "fail-closed" if args.fail_closed else "fail-open"
    prompts = "permission prompts answered here" if args.prompts == "here" else \
        "permission prompts answered in the agent's terminal"
    print(visible(f"installed the Codex steering hooks in {path} ({mode}, {prompts})"))
    from .launch import ensure_trust

    trusted, message = ensure_trust(codex, [], dict(os.environ), args.trust_hook,
                                    fix="`watchkeeper hooks install --codex --trust-hook`")
    if message:
        print(visible(message))
    return 0 if trusted else 1


def install(path: Path, settings: dict[str, Any], port: int | None, fail_closed: bool, before_of: Before,
            record: Record, prompts_here: bool = False) -> None:
    from ... import config
    from ..claude_code import settings as S
    from ..claude_code.steering import Policy
    from . import hooks as X
    from . import setup

    S.check_writable(path)
    config.load_token(create=True)
    token = config.load_hook_token()
    request = setup.install_request_file()
    setup.write_request_file(request, setup.hook_url(port or config.hook_port(), fail_closed, prompts_here), token)
    merged = S.merge_hooks(settings, X.steering_hooks(str(request), Policy().hold_timeout, fail_closed), X.is_ours)
    if merged != settings or not path.exists():
        before = before_of(path)
        if before is None or S.installed(settings, X.is_ours) is None:
            before = {**S.remember(settings), "existed": path.exists()}
        S.write_settings(path, merged)
        record(path, time.time(), before)


def uninstall(path: Path, settings: dict[str, Any], before_of: Before, record: Record) -> bool:
    from ..claude_code import settings as S
    from . import hooks as X
    from . import setup

    if S.installed(settings, X.is_ours) is None:
        return False
    before = before_of(path)
    left = S.remove_hooks(settings, X.is_ours, before)
    setup.install_request_file().unlink(missing_ok=True)
    if not left and before is not None and before.get("existed") is False and not path.is_symlink():
        S.check_writable(path)
        path.unlink()
    else:
        S.write_settings(path, left)
    record(path, None)
    return True


def _listed(codex: list[str], settings: dict[str, Any]) -> list[HookTrust] | str:
    """watchkeeper's installed hooks as Codex lists them, with their trust; or why Codex could not say."""
    from ..claude_code import settings as S
    from . import hooks as X
    from . import trust as T

    if S.installed(settings, X.is_ours) is None:
        return []
    try:
        return T.ours(codex, [], dict(os.environ), os.getcwd())
    except T.TrustError as e:
        return str(e)


def _forget(codex: list[str], listed: list[HookTrust] | str) -> None:
    """Codex's record of trusting the hooks just removed goes too (``trust.forget``)."""
    from ...protocol.display import visible
    from . import trust as T

    if isinstance(listed, str):
        why = listed
    else:
        try:
            forgot = T.forget(codex, dict(os.environ), listed)
        except T.TrustError as e:
            why = str(e)
        else:
            if forgot:
                print(visible(f"removed Codex's trust of {forgot} watchkeeper hooks from its config.toml"))
            return
    print(visible(f"watchkeeper hooks: could not ask Codex to forget the hooks' trust ({why}); their entries "
                  "stay under [hooks.state] in Codex's config.toml until Codex's /hooks or an edit removes them"),
          file=sys.stderr)


def status(path: Path, codex: list[str]) -> int:
    from ...protocol.display import visible
    from . import setup
    from . import trust as T

    found = setup.installed()
    if found is None:
        print(visible(f"codex hooks: not installed in {path} (`watchkeeper run -- codex` needs none)"))
    else:
        mode = "fail-closed" if found["fail_closed"] else "fail-open"
        print(visible(f"codex hooks: installed in {path} ({mode}, {', '.join(found['events'])})"))
    try:
        hooks = T.ours(codex, [], dict(os.environ), os.getcwd())
    except T.TrustError as e:
        print(visible(f"codex hook trust: cannot ask Codex ({e})"))
        return 0
    untrusted = [h for h in hooks if not h.trusted]
    if found is not None and untrusted:
        print(visible(f"codex hook trust: NOT trusted ({len(untrusted)} of {len(hooks)}): Codex skips them, so its "
                      "sessions are observe-only; trust them with `watchkeeper hooks install --codex --trust-hook` "
                      "or Codex's /hooks"))
    elif found is not None:
        print(visible(f"codex hook trust: trusted ({len(hooks)} hooks)"))
    return 0
