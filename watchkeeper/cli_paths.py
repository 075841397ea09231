"""What the command line says about a path it is given: a file to replay, a directory to watch.

Each check returns the message for the person (what is wrong and what to run
instead), or None when the path is fine, so ``replay``, ``watch`` and
``watchkeeper FILE`` say the same things. Paths are the person's own words
and are printed through ``visible``.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from .protocol.display import visible

#: What a replayable file is, for the message that refuses one that is not.
EXPECTED = ("a Claude Code session (a .jsonl under ~/.claude/projects), a Codex rollout "
            "(rollout-*.jsonl under ~/.codex/sessions) or a watchkeeper recording (a .jsonl of events: "
            "what `watchkeeper events` prints, or a hooked session's recording)")
#: Characters of an unreadable file's first line quoted back.
QUOTED = 60


def arg(path: Path | str) -> str:
    """``path`` as the person would type it again in a shell."""
    return visible(shlex.quote(str(path)))


def replay_problem(path: Path) -> str | None:
    """Why ``path`` cannot be replayed, with what to run instead; None if an adapter reads it."""
    from .adapters.files.discovery import scan_sessions
    from .adapters.registry import detect

    if path.is_dir():
        found = sorted(scan_sessions(path)[0], key=lambda f: f[1], reverse=True)
        example = (f"\n  to replay its newest session:  watchkeeper replay {arg(found[0][0])}" if found
                   else "\n  (no session files are in it)")
        return (f"{arg(path)} is a directory, not a session file.\n"
                f"  to watch the sessions in it:   watchkeeper --root {arg(path)} --no-default-roots{example}")
    if not path.exists():
        return f"no such file: {arg(path)}"
    if not path.is_file():
        return f"{arg(path)} is not a regular file"
    try:
        with path.open("rb") as f:
            first = b""
            while not first.strip():
                line = f.readline(65536)
                if not line:
                    break
                first = line
    except OSError as e:
        return f"cannot read {arg(path)}: {e.strerror}"
    if not first.strip():
        return f"{arg(path)} is empty: there is nothing to replay"
    if detect(path, first) is None:
        start = visible(first.decode("utf-8", "replace").strip()[:QUOTED])
        return (f"no reader here understands {arg(path)} (it starts: {start!r}).\n"
                f"  Expected {EXPECTED}.")
    return None


def root_problem(root: str) -> str | None:
    """Why ``--root root`` cannot be watched; None if it is a directory."""
    path = Path(root).expanduser()
    if path.is_dir():
        return None
    if path.is_file():
        return (f"--root {arg(root)} is a file, not a directory of sessions.\n"
                f"  to replay it:  watchkeeper replay {arg(root)}")
    if path.exists():
        return f"--root {arg(root)} is not a directory"
    return f"--root {arg(root)} does not exist (no such directory)"


def looked_in(root: Path) -> str:
    """A root as the empty sessions list names it: said when it does not exist."""
    return f"{root}" if root.is_dir() else f"{root}  (does not exist)"
