"""Which agent sessions this machine has: Claude Code and Codex transcripts, newest first.

Finding them is a directory walk (``source.scan_sessions``) that opens no
file; what a session is about comes from its events, once a source reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .source import CLAUDE_CODE, agent_kind_of, scan_sessions, subagent_files


def default_roots(env: Mapping[str, str] | None = None) -> list[Path]:
    """``$CLAUDE_CONFIG_DIR/projects`` (else ``~/.claude/projects``) and ``$CODEX_HOME/sessions``."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    claude = Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else home / ".claude"
    codex = Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else home / ".codex"
    return [claude / "projects", codex / "sessions"]


def session_roots(extra: Iterable[Path | str] = (), *, defaults: bool = True,
                  env: Mapping[str, str] | None = None) -> list[Path]:
    """The default roots (unless ``defaults`` is false) and the ones given on the command line."""
    roots = (default_roots(env) if defaults else []) + [Path(r).expanduser() for r in extra]
    return list(dict.fromkeys(r.absolute() for r in roots))


def last_activity(path: Path, mtime: float | None = None, agent_kind: str | None = None) -> float:
    """The newest mtime among a session's files: a running subagent keeps its session live."""
    newest = mtime if mtime is not None else _mtime(path)
    if (agent_kind or agent_kind_of(path)) == CLAUDE_CODE:
        for sub in subagent_files(path):
            newest = max(newest, _mtime(sub))
    return newest


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def find_sessions(roots: Iterable[Path]) -> list[tuple[Path, float]]:
    """Every session file under the roots with its last activity, newest first; no file is opened."""
    found: dict[Path, float] = {}
    for root in roots:
        for path, mtime in scan_sessions(Path(root))[0]:
            found[path] = last_activity(path, mtime)
    return sorted(found.items(), key=lambda f: f[1], reverse=True)
