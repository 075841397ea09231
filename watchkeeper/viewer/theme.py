"""watchkeeper's own theme, and the theme the person chose last (every built-in Textual theme works too:
Ctrl+P, "Theme"), kept in a preferences file (the commands pass the config directory's) for the next start."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from rich.color import Color as RichColor
from rich.style import Style
from rich.syntax import ANSI_DARK, ANSI_LIGHT, ANSISyntaxTheme, SyntaxTheme
from rich.terminal_theme import TerminalTheme
from textual.color import Color, ColorParseError
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


#: Text colours the viewer draws data in (tool names, warnings, outcomes, footer keys), and the
#: backgrounds each is drawn on: every pair is made to reach ``TEXT_CONTRAST``.
_TEXT_ON = {
    "text-accent": ("background", "surface", "panel"),
    "text-warning": ("background", "surface", "panel"),
    "text-error": ("background", "surface", "panel"),
    "text-success": ("background", "surface", "panel"),
    "text-primary": ("background", "surface", "panel"),
    "footer-key-foreground": ("footer-background",),
}
#: WCAG AA for body text.
TEXT_CONTRAST = 4.5
#: Pygments' whitespace token.
WHITESPACE = ("Text", "Whitespace")


def contrast(foreground: Color, background: Color) -> float:
    """The WCAG 2 contrast ratio of two opaque colours (1 to 21)."""
    def luminance(c: Color) -> float:
        def channel(v: int) -> float:
            s = v / 255
            return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def legible(variables: dict[str, str]) -> dict[str, str]:
    """``variables`` (a theme's CSS variables) with each text colour of ``_TEXT_ON`` that is too faint on
    its backgrounds moved toward black on a light theme (white on a dark one) until it reads: Textual's
    light theme draws tool names and warnings at ~3:1 and footer keys at ~2.9:1. The hue stays."""
    out = dict(variables)
    for name, under in _TEXT_ON.items():
        try:
            colour = Color.parse(out[name])
            grounds = [Color.parse(out[b]) for b in under if b in out]
        except (KeyError, ColorParseError):
            continue
        if not grounds or colour.ansi is not None or any(g.ansi is not None or g.a != 1 for g in grounds) \
                or colour.a != 1:
            continue  # a terminal's own palette (the ANSI themes), or translucent: not ours to judge
        lifted = lift(colour, grounds)
        if lifted is not colour:
            out[name] = lifted.hex
    return out


def lift(colour: Color, grounds: list[Color]) -> Color:
    """``colour`` moved toward black over light ``grounds`` (white over dark ones), keeping its hue, until it
    reaches ``TEXT_CONTRAST`` on each; ``colour`` itself when it already does."""
    toward = Color(0, 0, 0) if sum(g.brightness for g in grounds) / len(grounds) > 0.5 else Color(255, 255, 255)
    lifted, step = colour, 0
    while step < 20 and min(contrast(lifted, g) for g in grounds) < TEXT_CONTRAST:
        step += 1
        lifted = colour.blend(toward, 0.05 * step)
    return lifted


def syntax_theme(dark: bool, palette: TerminalTheme, ground: Color) -> SyntaxTheme:
    """Rich's ANSI syntax theme with each colour as ``palette`` (the app's ANSI palette) draws it, lifted to
    ``TEXT_CONTRAST`` on ``ground``: under Textual's palettes, JSON strings on a light theme are yellow at
    1.8:1. Whitespace keeps its colour: it has no glyph to read."""
    styles: dict[tuple[str, ...], Style] = {}
    for token, style in (ANSI_DARK if dark else ANSI_LIGHT).items():
        if style.color is not None and token != WHITESPACE:
            rgb = style.color.get_truecolor(palette)
            c = lift(Color(rgb.red, rgb.green, rgb.blue), [ground])
            style = style + Style(color=RichColor.from_rgb(c.r, c.g, c.b))
        styles[token] = style
    return ANSISyntaxTheme(styles)


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
