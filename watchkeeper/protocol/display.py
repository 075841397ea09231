"""Data made displayable: nothing an agent wrote may act on the person's terminal.

Text from transcripts, hooks, SDK, ACP and remote events is shown, never
obeyed. :func:`visible` is the one place that turns such text into text that
is safe to put on a screen (the viewer) or print (the CLI): every character
a terminal could take as a command gets a visible stand-in instead.

- C0 controls other than newline and tab, and DEL, become their Unicode
  control pictures: ESC is ``␛``, BEL ``␇``, DEL ``␡``. An escape sequence
  loses its ESC and so its effect, and stays readable: ``␛]52;c;…␛\\``.
  A CRLF line end is a plain newline.
- C1 controls (U+0080–U+009F, 8-bit CSI, OSC, DCS…), the bidi controls and
  marks (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), the line and
  paragraph separators (U+2028, U+2029), the byte order mark (U+FEFF) and lone
  surrogates become their code point in angle brackets: ``⟨U+009B⟩``,
  ``⟨U+202E⟩``, ``⟨U+DC80⟩``: none has a glyph to read, and each can move or
  break what the terminal shows around it. No
  backslash or quote: the stand-ins read the same inside JSON (the detail
  pane's, a copy's) as outside it.

It is idempotent (its output contains nothing it would change), so a text
made visible twice, by two layers, reads the same.

Fast: clean ASCII (most of it) is checked in C and returned as is.
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: What must not reach a terminal.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
                     "\ud800-\udfff]")
#: The ASCII bytes that are safe as they are: printable, tab, newline.
_ASCII_SAFE = bytes(range(0x20, 0x7F)) + b"\t\n"


def _stand_in(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"⟨U+{code:04X}⟩"


_STAND_INS: dict[str, str] = {}


def _replace(match: re.Match[str]) -> str:
    char = match.group()
    out = _STAND_INS.get(char)
    if out is None:
        out = _STAND_INS[char] = _stand_in(char)
    return out


def visible(text: str) -> str:
    """``text`` with each character a terminal could obey shown as a visible escape instead."""
    if text.isascii():
        if not text.encode().translate(None, _ASCII_SAFE):
            return text
    elif _UNSAFE.search(text) is None:
        return text
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _UNSAFE.sub(_replace, text)


#: Deeper than this, a value is shown as a marker (JSON writers and ``repr`` stop near here anyway).
MAX_DEPTH = 200


def visible_value(value: Any, depth: int = 0) -> Any:
    """A JSON-like value with every string (keys too) made :func:`visible`: the detail pane, a copy."""
    if isinstance(value, str):
        return visible(value)
    if depth >= MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        return f"⟨nested deeper than {MAX_DEPTH} levels⟩"
    if isinstance(value, dict):
        return {visible(str(k)): visible_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [visible_value(v, depth + 1) for v in value]
    return value


class VisibleFormatter(logging.Formatter):
    """Log lines with the data in them (peer names, paths, an agent's words) made :func:`visible`."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))


def visible_logging() -> None:
    """Warnings logged while nothing else is configured (Python's last-resort handler, on stderr)
    go through :class:`VisibleFormatter`: ``serve`` and ``attach`` log peers' and agents' words."""
    if logging.lastResort is not None:
        logging.lastResort.setFormatter(VisibleFormatter())


#: What JSON leaves as it is and a terminal may act on: C1 controls (U+0080–U+009F, xterm takes U+009B
#: as CSI), bidi overrides, isolates and marks, line and paragraph separators, the byte order mark (what
#: :func:`visible` stands in for, C0 aside), in their UTF-8 bytes.
_JSON_UNSAFE = re.compile(b"\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xd8\x9c|\xef\xbb\xbf")


def _json_escape(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())


def terminal_json(data: bytes) -> bytes:
    """JSON text (UTF-8) for a terminal: the same JSON, with what a terminal may act on written as
    ``\\uXXXX`` escapes (JSON escapes C0 itself). For output a person reads, not a pipe: a ``jq`` gets
    the same values either way."""
    return _JSON_UNSAFE.sub(_json_escape, data)


class TerminalJson:
    """A binary stream that writes JSON through :func:`terminal_json` (``stdout`` when it is a terminal)."""

    def __init__(self, out: Any) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        return int(self._out.write(terminal_json(data)))

    def flush(self) -> None:
        self._out.flush()


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 error``, ``2 errors``, ``1,204 events``: a count with its noun agreeing."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"
