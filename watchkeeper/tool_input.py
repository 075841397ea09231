"""What a tool call's input says, for rules that read it: its text, and the paths a file tool names. Pure."""

from __future__ import annotations

import posixpath
from typing import Any

#: Input fields that hold a path a file tool reads or writes (Claude Code and Codex names).
PATH_KEYS = ("file_path", "notebook_path", "path")


def input_text(value: Any) -> str:
    """Every string, key and number in a tool input, joined, with runs of whitespace as one space (a port
    written as a number, or a path as an object's key, is text a rule can see)."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                stack += (inner, key)
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif isinstance(item, int | float) and not isinstance(item, bool):
            out.append(str(item))
    return " ".join(" ".join(out).split())


def input_paths(value: Any) -> list[str]:
    """The paths a file tool's input names (shell commands are not parsed: use a pattern for those)."""
    if not isinstance(value, dict):
        return []
    return [v for key in PATH_KEYS if isinstance(v := value.get(key), str) and v]


def outside(path: str, cwd: str) -> bool:
    """``path`` (relative ones against ``cwd``) is not under ``cwd``; ``~`` is taken as outside."""
    if path.startswith("~"):
        return True
    full = posixpath.normpath(posixpath.join(cwd, path))
    root = posixpath.normpath(cwd)
    return full != root and not full.startswith(root.rstrip("/") + "/")
