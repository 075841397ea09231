"""Where a copy goes, and what the person is told about it.

A terminal never acknowledges a clipboard write (OSC 52): the app can only say
the text was *sent*. Under tmux the sequence reaches the clipboard only when
``set-clipboard`` is ``on`` (``external`` and ``off`` drop what applications
send), so that option is read and a copy that cannot arrive says so. Writing
the text to a file always works, and is always offered.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: What the toast points to when the clipboard cannot be trusted.
WRITE_HINT = "Ctrl+P › “Write row text to a file”"


def tmux_set_clipboard(env: Mapping[str, str] | None = None) -> str | None:
    """tmux's ``set-clipboard`` when running under tmux (``TMUX`` set), else None (also if tmux does not answer)."""
    env = os.environ if env is None else env
    if not env.get("TMUX"):
        return None
    try:
        done = subprocess.run(["tmux", "show", "-gv", "set-clipboard"], capture_output=True, text=True,
                              timeout=3, env=dict(env), check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def sent_note(what: str, text: str, tmux: str | None) -> tuple[str, bool]:
    """(toast text, whether it is a warning) for ``text`` sent to the clipboard; ``tmux`` its set-clipboard."""
    lines = text.count("\n") + 1
    size = f"{lines:,} line{'s' if lines != 1 else ''}"
    if tmux is not None and tmux != "on":
        return (f"tmux set-clipboard is {tmux}: the {what} ({size}) will not reach the clipboard. "
                f"Turn it on (tmux set -g set-clipboard on), or {WRITE_HINT}.", True)
    return f"The {what} ({size}) was sent to the terminal's clipboard. Not there? {WRITE_HINT}.", False


def write_text(text: str, directory: str | Path | None = None) -> Path:
    """``text`` exactly, in a new private file (0600); its path."""
    fd, path = tempfile.mkstemp(prefix="watchkeeper-row-", suffix=".txt", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return Path(path)
