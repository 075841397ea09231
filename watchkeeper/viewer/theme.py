"""watchkeeper's own theme; every built-in Textual theme works too (Ctrl+P, "Theme")."""

from __future__ import annotations

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
