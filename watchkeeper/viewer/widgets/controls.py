"""Where steering controls go (pause, approve, deny, inject): a later issue fills this in.

Today it only says which controls the session's source could honour, so the
place, and the rule that a control is never offered when the source cannot
honour it, exist before the controls do.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from .status import CONTROLS


class Controls(Static):
    """Hidden unless the source can be steered."""

    DEFAULT_CSS = """
    Controls {
        height: 1;
        padding: 0 1;
        background: $primary-background;
        color: $foreground;
        display: none;
        &.-steerable { display: block; }
    }
    """

    _can: list[str] | None = None

    def set_capabilities(self, caps: dict[str, Any]) -> None:
        can = [name for name in CONTROLS if caps.get(name)]
        if can == self._can:
            return
        self._can = can
        self.set_class(bool(can), "-steerable")
        self.update(f"This session can be steered ({', '.join(can)}); controls arrive in a later version.")
