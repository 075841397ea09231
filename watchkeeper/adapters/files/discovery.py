"""Which agent sessions this machine has: Claude Code and Codex transcripts, newest first.

Finding them is a directory walk (:func:`scan_sessions`) that opens no file;
what a session is about comes from its events, once a source reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..claude_code import subagent_files
from .feed import CLAUDE_CODE, agent_kind_of

#: Directories that never hold sessions of their own (a session's attachments, tooling).
_NOT_SESSIONS = frozenset({"subagents", "tool-results", "node_modules", "__pycache__"})
#: Levels below a root searched for sessions: ~/.codex/sessions/YYYY/MM/DD is 3, ~/.codex is 4.
MAX_DEPTH = 5


def is_session_name(name: str) -> bool:
    """A session file, not a subagent's (``agent-*.jsonl``) nor a prompt history."""
    return name.endswith(".jsonl") and not name.startswith("agent-") and name != "history.jsonl"


def scan_sessions(root: Path) -> tuple[list[tuple[Path, float]], list[Path]]:
    """Session files under ``root`` with their mtimes, and the directories searched (to watch).

    Skips a session's own directory (``<id>/`` beside ``<id>.jsonl``: its
    subagents, tool results), hidden directories, and anything too deep.
    """
    files: list[tuple[Path, float]] = []
    dirs: list[Path] = []
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue
        dirs.append(d)
        names = {e.name for e in entries}
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if (depth < MAX_DEPTH and e.name not in _NOT_SESSIONS and not e.name.startswith(".")
                            and f"{e.name}.jsonl" not in names):
                        stack.append((Path(e.path), depth + 1))
                elif is_session_name(e.name):
                    # Not only regular files: a FIFO or a device by a session's name is read as one, and its
                    # reader says why it cannot be, where skipping it here would say nothing.
                    files.append((Path(e.path), e.stat().st_mtime))
            except OSError:
                continue
    return files, dirs


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
