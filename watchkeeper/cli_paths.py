"""What the command line says about a path it is given: a file to replay, a directory to watch.

Each check returns the message for the person (what is wrong and what to run
instead), or None when the path is fine, so ``replay``, ``watch`` and
``watchkeeper FILE`` say the same things. Paths are the person's own words
and are printed through ``visible``.
"""

from __future__ import annotations

import os
import shlex
import stat
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
    from .adapters.files.tail import open_regular
    from .adapters.registry import detect

    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return f"no such file: {arg(path)}"
    except OSError as e:
        return f"cannot read {arg(path)}: {e.strerror or e}"
    if stat.S_ISDIR(mode):
        found = sorted(scan_sessions(path)[0], key=lambda f: f[1], reverse=True)
        example = (f"\n  to replay its newest session:  watchkeeper replay {arg(found[0][0])}" if found
                   else "\n  (no session files are in it)")
        return (f"{arg(path)} is a directory, not a session file.\n"
                f"  to watch the sessions in it:   watchkeeper --root {arg(path)} --no-default-roots{example}")
    if not stat.S_ISREG(mode):
        return f"{arg(path)} is not a regular file"
    try:
        with os.fdopen(open_regular(path), "rb") as f:
            first = b""
            while not first.strip():
                line = f.readline(65536)
                if not line:
                    break
                first = line
    except OSError as e:
        return f"cannot read {arg(path)}: {e.strerror or e}"
    if not first.strip():
        return f"{arg(path)} is empty: there is nothing to replay"
    if detect(path, first) is None:
        start = visible(first.decode("utf-8", "replace").strip()[:QUOTED])
        return (f"no reader here understands {arg(path)} (it starts: {start!r}).\n"
                f"  Expected {EXPECTED}.")
    return None


def root_problem(root: str) -> str | None:
    """Why ``--root root`` cannot be watched (missing, not a directory, not readable); None if it can."""
    path = Path(root).expanduser()
    mode = _mode(path, f"--root {arg(root)} does not exist (no such directory)", f"cannot read --root {arg(root)}")
    if isinstance(mode, str) or stat.S_ISDIR(mode):
        return mode if isinstance(mode, str) else None
    if stat.S_ISREG(mode):
        return (f"--root {arg(root)} is a file, not a directory of sessions.\n"
                f"  to replay it:  watchkeeper replay {arg(root)}")
    return f"--root {arg(root)} is not a directory"


def path_problem(path: Path) -> str | None:
    """Why a file or directory given to read cannot be (missing, unreadable, not a regular file: a FIFO is
    never opened to wait for a writer); None if it can."""
    from .adapters.files.tail import open_regular

    mode = _mode(path, f"no such file or directory: {arg(path)}", f"cannot read {arg(path)}")
    if isinstance(mode, str) or stat.S_ISDIR(mode):
        return mode if isinstance(mode, str) else None
    try:
        os.close(open_regular(path))
    except OSError as e:
        return f"cannot read {arg(path)}: {e.strerror or e}"
    return None


def _mode(path: Path, missing: str, unreadable: str) -> int | str:
    """The path's ``st_mode`` (a directory's once it can be listed), or what to say instead."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            with os.scandir(path):
                pass
        return mode
    except (FileNotFoundError, NotADirectoryError):
        return missing
    except OSError as e:
        return f"{unreadable}: {e.strerror or e}"


def looked_in(root: Path) -> str:
    """A root as the empty sessions list names it: said when it does not exist or cannot be read."""
    try:
        return f"{root}" if root.is_dir() else f"{root}  (does not exist)"
    except OSError as e:
        return f"{root}  (cannot read: {e.strerror or e})"
