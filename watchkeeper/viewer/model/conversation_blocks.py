"""One block of the conversation view as lines: a turn's prose, a folded tool call, a thinking line.

Pure: an event (a tool call merged) in, lines of styled cells out, at a given
width, so it is tested without an app. Each cell names a style role (the
widget maps roles to the theme); every text from the session is made
:func:`~watchkeeper.protocol.display.visible` before it is measured, a line
that is one line (a header, a call, a notice) holds no line break or tab
(``rows.flat``), and nothing here is markup or a hyperlink.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import orjson
from rich.cells import cell_len

from ...protocol import MAIN_AGENT, Event, Kind, ToolCall, json_text
from ...protocol.calls import TOOL_KINDS
from ...protocol.display import plural, visible, visible_value
from ...protocol.payloads import (
    AGENT_ORIGIN,
    AgentFinishedData,
    AgentStartedData,
    MessageUserData,
    ThinkingData,
    data_of,
)
from . import rows
from .prose import Line, Source, markdown, plain, wrap_sources

#: The kinds the conversation shows; usage and state stay in the timeline and the status bar.
SHOWN_KINDS = frozenset({
    Kind.SESSION_STARTED, Kind.SESSION_ENDED, Kind.MESSAGE_USER, Kind.MESSAGE_ASSISTANT, Kind.THINKING,
    *TOOL_KINDS, Kind.AGENT_STARTED, Kind.AGENT_FINISHED, Kind.CONTROL_APPLIED, Kind.CONTROL_REJECTED,
    Kind.NOTICE, Kind.RAW,
})
PROSE_KINDS = frozenset({Kind.MESSAGE_USER, Kind.MESSAGE_ASSISTANT})
#: A message longer than this (source lines, characters) is folded until the person expands it.
PROSE_LINES = 120
PROSE_CHARS = 12_000
#: Lines of an expanded call's input, and of its output, shown (the detail pane has the rest).
EXPAND_LINES = 200
#: Cells a turn's body is indented under its speaker.
BODY = "  "


def speaker(event: Event) -> tuple[str, str] | None:
    """Whose turn an event belongs to: (``user``/``assistant``, agent); None for the session's own lines."""
    kind = event.get("kind")
    agent = str(event.get("agent", MAIN_AGENT))
    if kind == Kind.MESSAGE_USER:
        return ("user", agent)
    if kind == Kind.MESSAGE_ASSISTANT or kind == Kind.THINKING or kind in TOOL_KINDS:
        return ("assistant", agent)
    return None


def prose_text(event: Event) -> str:
    text = data_of(event).get("text")
    return text if isinstance(text, str) else ""


def estimate(event: Event) -> tuple[int, int]:
    """Width-free size of a block's body: (lines, characters); its height at text width ``w`` is
    about ``lines + characters // w`` (folded calls and one-liners are exactly one line)."""
    if event.get("kind") not in PROSE_KINDS:
        return 1, 0
    text = prose_text(event)
    lines = text.count("\n") + 1
    if lines > PROSE_LINES or len(text) > PROSE_CHARS:
        return PROSE_LINES + 1, PROSE_CHARS
    return lines, len(text)


@dataclass(frozen=True, slots=True)
class Block:
    """What one block is drawn from."""

    event: Event
    call: ToolCall | None
    #: How deep under spawning calls (a subagent's blocks are indented).
    depth: int = 0
    #: The block starts a turn: the speaker and the time come first.
    header: bool = False
    #: A blank line before the header (every turn but the first).
    gap: bool = False
    expanded: bool = False
    #: The speaker's name: ``You``, ``Assistant``, a subagent's description.
    who: str = ""
    #: The subagents under a spawning call (``▾ Count files (5)``).
    spawn: str = ""


def block_lines(block: Block, width: int, now: float | None = None) -> list[Line]:
    """The block's lines, each at most ``width`` cells."""
    lead = "┆ " * block.depth
    inner = max(8, width - cell_len(lead))
    out: list[Line] = [[]] if block.gap else []
    if block.header:
        out.append(_header(block, inner))
    out += _body(block, inner, now)
    if lead:
        out = [[(lead, "dim"), *line] for line in out]
    return out


def _header(block: Block, width: int) -> Line:
    event = block.event
    kind = event.get("kind")
    role = "speaker-user" if kind == Kind.MESSAGE_USER else "speaker"
    cells: Line = [(rows.name_line(block.who), role), (f" · {rows.flat(rows.clock(event.get('ts')))}", "time")]
    origin = cast(MessageUserData, data_of(event)).get("origin") if kind == Kind.MESSAGE_USER else None
    if origin and origin != "prompt" and not str(origin).startswith(AGENT_ORIGIN):  # the header names the agent
        cells.append((f"  {rows.name_line(str(origin))}", "dim"))
    return rows.cut(cells, width)


def _body(block: Block, width: int, now: float | None) -> list[Line]:
    event, kind = block.event, block.event.get("kind")
    if block.call is not None:
        return _call(block, block.call, width, now)
    if kind in PROSE_KINDS:
        return _prose(block, width)
    if kind == Kind.THINKING:
        return _thinking(block, width)
    return [rows.cut([(BODY, "dim"), *_one_line(event)], width)]


def _prose(block: Block, width: int) -> list[Line]:
    text = visible(prose_text(block.event))
    role = "user" if block.event.get("kind") == Kind.MESSAGE_USER else "text"
    note: Line | None = None
    if not block.expanded:
        lines = text.split("\n", PROSE_LINES)
        if len(lines) > PROSE_LINES or len(text) > PROSE_CHARS:
            kept = "\n".join(lines[:PROSE_LINES])[:PROSE_CHARS]
            more = text.count("\n") - kept.count("\n")
            rest = plural(more, "more line") if more else plural(len(text) - len(kept), "more character")
            note = [(f"{BODY}▸ {rest} — Enter shows them all", "dim")]
            text = kept
    out = wrap_sources(markdown(text, role) if role == "text" else plain(text, role, words=True), width, BODY)
    return [*out, note] if note else out


def _thinking(block: Block, width: int) -> list[Line]:
    data = cast(ThinkingData, data_of(block.event))
    text = visible(str(data.get("text") or ""))
    if data.get("hidden") or not text:
        return [rows.cut([(f"{BODY}· thinking (hidden)", "dim")], width)]
    if not block.expanded:
        return [rows.cut([(f"{BODY}▸ thinking  ", "dim"), (rows.one_line(text), "thinking")], width)]
    return [rows.cut([(f"{BODY}▾ thinking", "dim")], width),
            *wrap_sources(_capped(plain(text, "thinking", words=True)), width, BODY + "  ")]


def _call(block: Block, call: ToolCall, width: int, now: float | None) -> list[Line]:
    arrow = "▾" if block.expanded else "▸"
    status = [(rows.flat(t), role) for t, role in rows.call_status_cells(call, now)]
    summary: Line = [(f"{BODY}{arrow} ", "dim"), (rows.name_line(call.name or "") or "?", "tool")]
    salient = rows.flat(rows.salient_input(call.name, call.input))
    if salient:
        summary.append(("  " + salient, "summary"))
    if block.spawn:
        summary.append(("  " + rows.flat(block.spawn), "agent"))
    status_w = sum(cell_len(t) for t, _ in status)
    line = rows.cut(summary, max(1, width - status_w - 1)) if status_w else rows.cut(summary, width)
    if status_w:
        pad = width - status_w - sum(cell_len(t) for t, _ in line)
        line += [(" " * max(1, pad), "dim"), *status]
    out = [line]
    if block.expanded:
        deeper = BODY + "    "
        out.append([(BODY + "  ", "dim"), ("input", "label")])
        out += wrap_sources(_capped(plain(input_text(call.input), "code")), width, deeper)
        out.append([(BODY + "  ", "dim"), ("output", "label")])
        if call.output is None:
            out.append([(deeper, "dim"), ("(no output)" if call.final else "(not finished)", "dim")])
        else:
            out += wrap_sources(_capped(plain(output_text(call.output), "output")), width, deeper)
    return out


def _capped(sources: list[Source]) -> list[Source]:
    if len(sources) <= EXPAND_LINES:
        return sources
    more = len(sources) - EXPAND_LINES
    return [*sources[:EXPAND_LINES], Source([(f"… {more:,} more lines: the detail pane (d) shows them", "dim")])]


def input_text(value: Any) -> str:
    """A call's input as a person reads it: the command alone for a shell call, else the text or JSON."""
    value = rows.as_input(value)
    if isinstance(value, dict):
        command = value.get("command") or value.get("cmd")
        if isinstance(command, list) and all(isinstance(c, str) for c in command):
            command = " ".join(command)
        if isinstance(command, str) and len(value) <= 2:
            return visible(command)
    return visible(value) if isinstance(value, str) else pretty(value)


def output_text(value: Any) -> str:
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict) and ("stdout" in value or "stderr" in value):
        parts = [str(value.get(name) or "") for name in ("stdout", "stderr")]
        return visible("\n".join(p for p in parts if p)) or "(empty)"
    if isinstance(value, list) and all(isinstance(b, dict) and "text" in b for b in value):
        return visible("\n".join(str(b["text"]) for b in value))
    return pretty(value)


def pretty(value: Any) -> str:
    """JSON, indented, its strings made visible first (JSON would write ESC as ``\\u001b``)."""
    try:
        return orjson.dumps(visible_value(value), option=orjson.OPT_INDENT_2, default=str).decode()
    except TypeError:
        return visible(json_text(value))


_GLYPHS: dict[str, str] = {Kind.SESSION_STARTED: "● ", Kind.SESSION_ENDED: "■ ", Kind.NOTICE: "! ", Kind.RAW: "⚠ "}


def _one_line(event: Event) -> Line:
    """A line for what is neither prose nor a call: a subagent starting or ending, a notice, a control."""
    kind = event.get("kind")
    if kind == Kind.AGENT_STARTED:
        data = cast(AgentStartedData, data_of(event))
        what = data.get("description") or data.get("agent_type") or data.get("agent_id") or "?"
        return [("⑂ subagent ", "agent"), (rows.name_line(str(what)), "agent"), (" started", "dim")]
    if kind == Kind.AGENT_FINISHED:
        status = cast(AgentFinishedData, data_of(event)).get("status") or "finished"
        return [("⑂ subagent ", "agent"), (rows.name_line(str(status)), "dim")]
    cells = rows.event_summary(event)
    glyph = _GLYPHS.get(str(kind), "")
    return [(glyph, "dim"), *((rows.flat(t), role) for t, role in cells)]




def plain_text(lines: list[Line]) -> str:
    """The lines as plain text (tests, copies)."""
    return "\n".join("".join(t for t, _ in line).rstrip() for line in lines)
