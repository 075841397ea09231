"""The built-in breakpoint: a call whose input names watchkeeper's config directory, a token file or a port.

Always on, in no file, not removable (the book refuses its name). The hook
endpoint asks it before the person's rules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .breakpoints import BUILTIN_NAME
from .tool_input import input_paths, input_text

#: Variables that hold watchkeeper's secrets or say where they are: a call naming one is held.
GUARDED_VARIABLES = ("WATCHKEEPER_TOKEN", "WATCHKEEPER_HOME")


class Guard:
    """The built-in breakpoint: holds a call whose input names the config dir, a token file or a port.

    A tripwire for the agent's own tools, not a wall: a command can spell a
    path so that no rule sees it. The README's Security section says what
    closes which door.
    """

    name = BUILTIN_NAME

    def __init__(self, paths: Iterable[str], ports: Iterable[int]) -> None:
        self.paths = tuple(sorted({" ".join(p.rstrip("/").split()) for p in paths if p.strip("/")}))
        self.ports = {p for p in ports if p > 0}
        #: The guarded paths resolved, for a file tool's path spelled another way (``..``, ``//``, a symlink).
        self.real = tuple(sorted({_real(p) for p in self.paths if p.startswith("/")}))

    @classmethod
    def here(cls, port: int = 0, token_files: Iterable[str] = ()) -> Guard:
        """The guard for this machine's config directory and ports (plus ``port`` and ``token_files``)."""
        from . import config

        directory = config.config_dir()
        paths = {str(directory), *token_files}
        try:
            paths.add(str(directory.resolve()))
        except OSError:
            pass
        home = str(Path.home())
        for path in list(paths):
            if path.startswith(home.rstrip("/") + "/"):
                tail = path[len(home.rstrip("/")) + 1:]
                paths |= {f"~/{tail}", f"$HOME/{tail}", f"${{HOME}}/{tail}"}
        return cls(paths, {config.hook_port(), config.SERVE_PORT, port})

    def __call__(self, payload: dict[str, Any]) -> str | None:
        tool_input = payload.get("tool_input")
        text = input_text(tool_input)
        if any(path in text for path in self.paths) or any(var in text for var in GUARDED_VARIABLES):
            return self.name
        cwd = payload.get("cwd")
        cwd = cwd if isinstance(cwd, str) else "/"
        for path in input_paths(tool_input):
            full = _real(os.path.join(cwd, os.path.expanduser(path)))
            if any(full == g or full.startswith(g.rstrip("/") + "/") for g in self.real):
                return self.name
        if any(re.search(rf"(?<![0-9]){port}(?![0-9])", text) for port in self.ports):
            return self.name
        return None

    def before(self, breakpoint: Callable[[dict[str, Any]], str | None] | None
               ) -> Callable[[dict[str, Any]], str | None]:
        """This guard, then ``breakpoint`` (the person's rules)."""

        def check(payload: dict[str, Any]) -> str | None:
            return self(payload) or (breakpoint(payload) if breakpoint is not None else None)

        return check

    def describe(self) -> str:
        ports = ", ".join(str(p) for p in sorted(self.ports))
        return (f"input names watchkeeper's config directory or a token file ({', '.join(self.paths)}), "
                f"{' or '.join(GUARDED_VARIABLES)}, or port {ports} (built in, always on, cannot be removed)")


def _real(path: str) -> str:
    """``path`` with ``..``, ``//`` and symlinks resolved (as far as they exist); as given if that fails."""
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path
