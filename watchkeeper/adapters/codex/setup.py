"""Where a person's Codex keeps its hooks, and the request files watchkeeper's forwarder reads.

``hooks install --codex`` edits ``$CODEX_HOME/hooks.json`` (JSON, the shape
Claude Code's settings use, so its careful editor serves); ``run`` adds the
same hooks for one run with ``-c`` flags and edits no file. Both hooks read
their URL and credential from a 0600 request file: ``run`` writes one per run
(a session credential, ``$WATCHKEEPER_CODEX_HOOK``), the install one beside
the person's config (the install credential).
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from ... import config
from ..claude_code import settings as S
from . import hooks as X

#: ``run``'s request files older than this are removed when the next run starts.
REQUEST_FILE_AGE = 7 * 24 * 3600


def codex_home(env: dict[str, str] | None = None) -> Path:
    given = dict(os.environ) if env is None else env
    return Path(given.get("CODEX_HOME") or Path(given.get("HOME") or Path.home()) / ".codex")


def hooks_json(env: dict[str, str] | None = None) -> Path:
    return codex_home(env) / "hooks.json"


def install_request_file() -> Path:
    """The installed hooks' request file (its path is the default in the hook command)."""
    return config.config_dir() / "codex-hook.curl"


def hook_url(port: int, fail_closed: bool, prompts_here: bool) -> str:
    query = [q for q, on in (("fail=closed", fail_closed), ("prompts=here", prompts_here)) if on]
    return f"http://{config.LOOPBACK}:{port}/hook/codex" + ("?" + "&".join(query) if query else "")


def write_request_file(path: Path, url: str, token: str) -> Path:
    """Write the forwarder's request file, readable by its owner only, atomically."""
    config.private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(X.request_file(url, token))
    tmp.replace(path)
    return path


def run_request_file(url: str, token: str) -> Path:
    """A new request file for one ``run`` (older ones pruned)."""
    directory = config.private_dir(config.config_dir() / "codex-runs")
    now = time.time()
    for old in directory.glob("*.curl"):
        try:
            if now - old.stat().st_mtime > REQUEST_FILE_AGE:
                old.unlink()
        except OSError:
            pass
    return write_request_file(directory / f"{os.getpid()}-{secrets.token_hex(4)}.curl", url, token)


def installed(env: dict[str, str] | None = None) -> dict[str, Any] | None:
    """What ``hooks install --codex`` put in ``hooks.json`` (events, fail-closed), or None."""
    try:
        settings = S.read_settings(hooks_json(env))
    except S.SettingsError:
        return None
    found = S.installed(settings, X.is_ours)
    if found is None:
        return None
    hooks = settings.get("hooks") or {}
    pre = [h for g in hooks.get("PreToolUse") or [] if isinstance(g, dict) for h in g.get("hooks") or []
           if X.is_ours(h)]
    found["fail_closed"] = any("exit 2" in str(h.get("command")) for h in pre)
    return found
