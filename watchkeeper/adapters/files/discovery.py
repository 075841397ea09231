"""Which agent sessions this machine has: Claude Code and Codex transcripts, newest first.

Finding them is a directory walk (:func:`scan_sessions`); describing one
(id, title, cwd) reads the head of its file through the same converter that
would read the whole of it, so no format is parsed twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ...protocol import Kind
from ..claude_code import subagent_files
from .feed import CLAUDE_CODE, FileFeed, agent_kind_of

#: A session written to within this many seconds is live.
LIVE_WINDOW = 60.0
#: At most this much of a file's head is read to find its title and cwd.
HEAD_BYTES = 256 * 1024
#: A title is the first line of the first prompt, cut to this length.
TITLE_CHARS = 200
#: ``message.user`` origins that are a person's prompt (not a hook's feedback, not an injection).
_PROMPT_ORIGINS = {None, "prompt", "user", "queued"}


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
                elif is_session_name(e.name) and e.is_file():
                    files.append((Path(e.path), e.stat().st_mtime))
            except OSError:
                continue
    return files, dirs


@dataclass(frozen=True)
class SessionFile:
    """One discovered session, as the sessions screen lists it before its events are read."""

    path: Path
    agent_kind: str
    session: str
    title: str | None
    cwd: str | None
    #: Last activity: the newest mtime of the session's files (subagent files included).
    mtime: float
    live: bool

    @property
    def last_activity(self) -> str:
        stamp = datetime.fromtimestamp(self.mtime, UTC).isoformat(timespec="milliseconds")
        return stamp.replace("+00:00", "Z")


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


def describe(path: Path, mtime: float | None = None, *, now: float | None = None,
             live_window: float = LIVE_WINDOW, head_bytes: int = HEAD_BYTES) -> SessionFile:
    """Id, title and cwd from the head of the file, through its own converter."""
    path = Path(path)
    kind = agent_kind_of(path)
    mtime = last_activity(path, None, kind) if mtime is None else mtime
    session: str | None = None
    title: str | None = None
    cwd: str | None = None
    feed = FileFeed(path, chunk_size=min(head_bytes, 64 * 1024))
    try:
        while feed.tailer.offset + feed.tailer.held < head_bytes and not (title and cwd):
            events, more = feed.read()
            for ev in events:
                kind_, data = ev.get("kind"), ev.get("data") or {}
                if session is None and ev.get("session") not in (None, "", "unknown"):
                    session = ev["session"]
                if kind_ == Kind.SESSION_STARTED:
                    session = ev.get("session") or session
                    title = title or _title(data.get("title"))
                    cwd = cwd or data.get("cwd")
                elif (kind_ == Kind.MESSAGE_USER and not title and ev.get("agent", "main") == "main"
                      and data.get("origin") in _PROMPT_ORIGINS):
                    title = _title(data.get("text"))
            if not more:
                break
    except OSError:
        pass
    if feed.converter is not None:
        kind = getattr(feed.converter, "agent_kind", kind)
    now = time.time() if now is None else now
    return SessionFile(path=path, agent_kind=kind, session=session or path.stem, title=title, cwd=cwd,
                       mtime=mtime, live=now - mtime <= live_window)


def _title(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    for line in text.strip().splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"
    return None


def discover(roots: Iterable[Path | str] | None = None, *, now: float | None = None,
             limit: int | None = None, live_window: float = LIVE_WINDOW) -> list[SessionFile]:
    """The sessions under ``roots`` (default: :func:`session_roots`), newest first.

    ``limit`` describes only the newest few: finding is cheap, reading heads is not.
    """
    paths = find_sessions([Path(r) for r in roots] if roots is not None else session_roots())
    if limit is not None:
        paths = paths[:limit]
    now = time.time() if now is None else now
    return [describe(p, m, now=now, live_window=live_window) for p, m in paths]
