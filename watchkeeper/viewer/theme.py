"""watchkeeper's own theme, and the theme the person chose last (every built-in Textual theme works too:
Ctrl+P, "Theme"), kept in a preferences file (the commands pass the config directory's) for the next start."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from textual.theme import Theme

#: A dark bridge-at-night palette. Colours live here, in the theme, and nowhere else:
#: widgets and .tcss files use the theme's variables ($primary, $error, …).
WATCHKEEPER = Theme(
    name="watchkeeper",
    primary="#5FB3C9",
    secondary="#C9A45F",
    accent="#8FC95F",
    warning="#E0B44C",
    error="#E05F5F",
    success="#6FC98F",
    foreground="#D8DEE4",
    background="#0F1720",
    surface="#15202B",
    panel="#1D2B38",
    dark=True,
)


def load_theme(path: Path) -> str | None:
    """The theme chosen last, or None (never chosen, or the file unreadable: the default then)."""
    try:
        prefs = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    theme = prefs.get("theme") if isinstance(prefs, dict) else None
    return theme if isinstance(theme, str) and theme else None


def save_theme(path: Path, name: str) -> str | None:
    """Remember ``name`` in ``path`` (its other keys kept) as the theme to start in; None, or why not written."""
    try:
        prefs = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        prefs = {}
    if not isinstance(prefs, dict):
        prefs = {}
    prefs["theme"] = name
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(prefs, option=orjson.OPT_INDENT_2))
        tmp.replace(path)
    except OSError as e:
        return f"{path}: {e.strerror or e}"
    return None
