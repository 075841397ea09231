"""Message text as styled, wrapped lines: a small Markdown reading for the conversation view.

Pure: text in, lines of :data:`~watchkeeper.viewer.model.rows.Cell` out, each
cell naming a style role (the widget maps roles to the theme). The Markdown
read here is what makes a message readable, no more: headings, lists, quotes,
fenced code, ``code``, **bold** and links. A link is shown as its text and its
address, as plain text: nothing here makes a hyperlink (no OSC 8, no ``link``
style), and no text is ever parsed as Rich markup. The caller makes the text
:func:`~watchkeeper.protocol.display.visible` first.

Wrapping is greedy by words at a cell width (wide characters count two); a
word longer than the line is cut.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, chop_cells

from .rows import Cell

Line = list[Cell]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)([-*+]|\d{1,3}[.)])\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
#: Inline pieces: `code`, **bold** / __bold__, [text](address).
_INLINE = re.compile(r"`([^`\n]+)`|\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__|\[([^\]\n]+)\]\(([^)\s]+)\)")
_WORDS = re.compile(r"\S+|\s+")


def inline(text: str, role: str) -> Line:
    """One line of Markdown text as cells: code, bold and links picked out, the rest in ``role``."""
    if "`" not in text and "*" not in text and "_" not in text and "](" not in text:
        return [(text, role)]
    out: Line = []
    at = 0
    for m in _INLINE.finditer(text):
        if m.start() > at:
            out.append((text[at:m.start()], role))
        code, bold, bold2, label, address = m.groups()
        if code is not None:
            out.append((code, "code"))
        elif bold is not None or bold2 is not None:
            out.append((bold if bold is not None else bold2, "bold"))
        else:
            out += [(label, "link"), (f" <{address}>", "dim")]
        at = m.end()
    if at < len(text):
        out.append((text[at:], role))
    return out


class Source:
    """One source line read as Markdown: its cells, how it wraps, and whether it is a rule."""

    __slots__ = ("cells", "code", "first", "rest", "rule")

    def __init__(self, cells: Line, first: str = "", rest: str = "", code: bool = False, rule: bool = False):
        self.cells, self.first, self.rest, self.code, self.rule = cells, first, rest, code, rule


def markdown(text: str, role: str = "text") -> list[Source]:
    """Each line of ``text`` read as Markdown (one source line each, so a line count holds)."""
    out: list[Source] = []
    fenced = False
    for raw in text.split("\n"):
        line = raw.replace("\t", "    ")
        if _FENCE.match(line):
            fenced = not fenced
            out.append(Source([(line.strip(), "dim")]))
        elif fenced:
            out.append(Source([(line, "code")], code=True))
        elif (m := _HEADING.match(line)) is not None:
            out.append(Source(inline(m.group(2), "heading")))
        elif _RULE.match(line):
            out.append(Source([], rule=True))
        elif (m := _BULLET.match(line)) is not None:
            indent, mark, rest = m.groups()
            mark = "•" if mark in "-*+" else mark
            lead = indent + mark + " "
            out.append(Source(inline(rest, role), lead, " " * cell_len(lead)))
        elif (m := _QUOTE.match(line)) is not None:
            out.append(Source(inline(m.group(1), "quote"), "▎ ", "▎ "))
        else:
            out.append(Source(inline(line, role)))
    return out


def plain(text: str, role: str, words: bool = False) -> list[Source]:
    """Each line of ``text`` as it is, in ``role``: broken anywhere (tool input and output), or
    between ``words`` (a person's prompt, a thinking)."""
    return [Source([(line.replace("\t", "    "), role)], code=not words) for line in text.split("\n")]


def wrap_sources(sources: list[Source], width: int, lead: str = "") -> list[Line]:
    """The sources wrapped to ``width`` cells, each line starting with ``lead`` (dim)."""
    width = max(1, width - cell_len(lead))
    out: list[Line] = []
    for src in sources:
        if src.rule:
            lines = [[("─" * width, "dim")]]
        else:
            first = [(src.first, "dim")] if src.first else []
            rest = [(src.rest, "dim")] if src.rest else []
            lines = wrap(src.cells, width, first, rest, words=not src.code)
        if lead:
            lines = [[(lead, "dim"), *line] for line in lines]
        out += lines
    return out


def wrap(
    cells: Line, width: int, first: Line | None = None, rest: Line | None = None, words: bool = True
) -> list[Line]:
    """``cells`` broken into lines at most ``width`` cells wide; ``first``/``rest`` lead the first/later lines.

    ``words``: break between words (prose); else anywhere (code keeps its spaces).
    """
    first, rest = first or [], rest or []
    if line_width(rest) >= width:
        rest = []
    lines: list[Line] = []
    line, used, start = list(first), line_width(first), len(first)

    def newline() -> None:
        nonlocal line, used, start
        while len(line) > start:
            text, role = line[-1]
            if text.rstrip():
                line[-1] = (text.rstrip(), role)
                break
            line.pop()
        lines.append(line)
        line, used, start = list(rest), line_width(rest), len(rest)

    def put(piece: str, role: str) -> None:
        if len(line) > start and line[-1][1] == role:
            line[-1] = (line[-1][0] + piece, role)
        else:
            line.append((piece, role))

    for text, role in cells:
        for piece in _WORDS.findall(text) if words else [text]:
            if words and piece.isspace():
                if len(line) > start:
                    w = cell_len(piece)  # a wide space (U+3000) takes two cells
                    if used + w > width:
                        newline()  # the break takes the space
                    else:
                        put(piece, role)
                        used += w
                continue
            w = cell_len(piece)
            if words and used + w > width and len(line) > start:
                newline()
            while piece and used + w > width:
                head = chop_cells(piece, max(1, width - used))[0]
                if cell_len(head) > width - used and len(line) > start:
                    newline()
                    continue
                put(head, role)
                piece = piece[len(head):]
                w = cell_len(piece)
                newline()
            if piece:
                put(piece, role)
                used += w
    if len(line) > start or not lines:
        newline()
    return lines


def line_width(line: Line) -> int:
    return sum(cell_len(t) for t, _ in line)
