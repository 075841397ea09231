"""One timeline row as text: an event (or a merged tool call) in, styled cells out.

Pure: no Textual, no I/O, so it is unit-tested directly. Each cell names a
style role (``"error"``, ``"tool"``, …); the timeline maps roles to colours
from the theme, so this module never names a colour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from rich.cells import cell_len, set_cell_size

from ...protocol import MAIN_AGENT, Event, Kind, ToolCall, ToolStatus, json_text
from ...protocol.activity import duration_text
from ...protocol.codec import json_object_text
from ...protocol.display import plural, visible
from ...protocol.envelope import parse_ts
from ...protocol.payloads import (
    AgentFinishedData,
    AgentStartedData,
    ControlOutcomeData,
    MessageAssistantData,
    MessageUserData,
    NoticeData,
    RawData,
    SessionEndedData,
    SessionStartedData,
    StateData,
    ThinkingData,
    UsageData,
)
from .inbox import clock_text

#: (text, role); roles are the timeline's component classes without the ``timeline--`` prefix.
Cell = tuple[str, str]

USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")

FAILED = frozenset({ToolStatus.ERROR, ToolStatus.INTERRUPTED})

#: The kinds whose row belongs to the subagent they name (``data.agent_id``), not to the event's agent.
AGENT_KINDS = frozenset({Kind.AGENT_STARTED, Kind.AGENT_FINISHED})

#: Short labels for the kind column.
KIND_LABELS: dict[str, str] = {
    Kind.SESSION_STARTED: "session",
    Kind.SESSION_ENDED: "end",
    Kind.MESSAGE_USER: "user",
    Kind.MESSAGE_ASSISTANT: "assistant",
    Kind.THINKING: "thinking",
    Kind.TOOL_STARTED: "tool",
    Kind.TOOL_WAITING: "tool",
    Kind.TOOL_FINISHED: "tool",
    Kind.USAGE: "usage",
    Kind.AGENT_STARTED: "subagent",
    Kind.AGENT_FINISHED: "subagent",
    Kind.STATE: "state",
    Kind.CONTROL_APPLIED: "control",
    Kind.CONTROL_REJECTED: "control",
    Kind.NOTICE: "notice",
    Kind.RAW: "raw",
}

KIND_ROLES = {
    "user": "user",
    "assistant": "assistant",
    "thinking": "dim",
    "usage": "dim",
    "raw": "raw",
    "notice": "notice",
    "subagent": "agent",
}

#: Which input field says the most about a call, by tool name (Claude Code and Codex names).
SALIENT_KEYS = (
    "command",
    "cmd",
    "file_path",
    "notebook_path",
    "path",
    "pattern",
    "url",
    "query",
    "description",
    "prompt",
    "skill",
)


@dataclass(frozen=True, slots=True)
class Row:
    """What a row shows; ``summary`` is one line, already flattened."""

    time: str
    agent: str
    kind: str
    summary: list[Cell]
    status: list[Cell]
    error: bool


def one_line(text: str, limit: int = 400) -> str:
    """First ``limit`` characters with line breaks and tabs turned into spaces."""
    text = text[: limit * 2] if len(text) > limit * 2 else text
    return " ".join(text.split())[:limit]


def local_clock(t: float) -> str | None:
    """HH:MM:SS in local time; None where local time has no such moment (a transcript's year 1 or 9999
    falls outside the years ``datetime`` holds once the zone's offset is applied)."""
    try:
        return datetime.fromtimestamp(t).strftime("%H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return None


def clock(ts: str | None) -> str:
    """HH:MM:SS in local time; the raw text if it is not a timestamp or local time cannot hold it."""
    t = parse_ts(ts)
    shown = None if t is None else local_clock(t)
    return (ts or "")[:8] if shown is None else shown


def number(value: Any) -> int | float | None:
    """A count, a duration or an amount as a source sent it, if it is one: a peer's event passes validation
    with ``"12"`` or ``true`` where a number belongs (the models coerce what they check, the event stays as
    sent), and an in-process source may send infinity."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    return None


def duration(ms: Any) -> str:
    """``450ms``, ``12.3s``, ``4m05s``, ``3h12m``; past 48 hours ``3d 4h`` (``protocol.activity``)."""
    ms = number(ms)
    return "" if ms is None else duration_text(ms / 1000)


#: Tool input as a mapping when it is JSON text (Codex arguments, old Claude Code).
as_input = json_object_text


def patch_files(patch: str) -> list[str]:
    """The files an ``apply_patch`` patch touches, in order."""
    files = []
    for line in patch.splitlines():
        for marker in ("*** Update File: ", "*** Add File: ", "*** Delete File: "):
            if line.startswith(marker):
                files.append(line[len(marker) :].strip())
    return files


def salient_input(name: str | None, value: Any) -> str:
    """The part of a call's input a person scans for: the command, the path, the pattern."""
    value = as_input(value)
    if isinstance(value, str):
        files = patch_files(value) if "*** Begin Patch" in value else []
        return ", ".join(files) if files else one_line(value)
    if not isinstance(value, dict):
        return "" if value is None else one_line(str(value))
    if name in ("Grep", "Glob", "grep", "glob") and "pattern" in value:
        where = value.get("path") or value.get("glob") or ""
        return one_line(f"{value['pattern']}  {where}".rstrip())
    if name == "TodoWrite" and isinstance(value.get("todos"), list):
        return plural(len(value["todos"]), "todo")
    for key in SALIENT_KEYS:
        v = value.get(key)
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            return one_line(" ".join(v[2:] if v[:2] in (["bash", "-lc"], ["/bin/bash", "-lc"]) else v))
        if isinstance(v, str) and v:
            return one_line(v)
    patch = value.get("input") or value.get("patch")
    if isinstance(patch, str) and "*** Begin Patch" in patch:
        return ", ".join(patch_files(patch))
    for v in value.values():
        if isinstance(v, str) and v:
            return one_line(v)
    return one_line(json_text(value)) if value else ""


def call_failed(call: ToolCall) -> bool:
    """The call failed; one the person (or a hook) denied did not: it is shown as denied, not as an error."""
    return call.status != ToolStatus.DENIED and (call.is_error or call.status in FAILED)


def call_status_cells(call: ToolCall, now: float | None) -> list[Cell]:
    """Status and duration; a running call shows its elapsed time when ``now`` is given (its session may
    still run it); else it is unfinished: its session ended or went idle without its result."""
    status = call.status
    if status == ToolStatus.RUNNING:
        start = parse_ts(call.started_ts)
        if now is None or start is None:
            return [("… unfinished", "dim")]
        return [("… running ", "running"), (duration(max(0.0, now - start) * 1000), "running")]
    if status == ToolStatus.WAITING:
        reason = f" ({call.wait_reason})" if call.wait_reason else ""
        ends = parse_ts(call.wait_expires_at)
        left = [(f" {clock_text(ends - now)} left", "dim")] if ends is not None and now is not None else []
        return [(f"⏸ waiting{reason}", "waiting"), *left]
    took = duration(call.duration_ms if call.duration_ms is not None else _span_ms(call))
    if call_failed(call):
        label = "✗ error" if status == ToolStatus.ERROR or status == ToolStatus.OK else f"✗ {status}"
        return [(label, "error"), (f" {took}" if took else "", "dim")]
    if status == ToolStatus.DENIED:
        return [("⊘ denied", "denied"), (f" {took}" if took else "", "dim")]
    return [("✓", "ok"), (f" {took}" if took else "", "dim")]


def _span_ms(call: ToolCall) -> float | None:
    a, b = parse_ts(call.started_ts), parse_ts(call.finished_ts)
    return (b - a) * 1000 if a is not None and b is not None else None


def event_summary(event: Event) -> list[Cell]:
    """The one-line summary of a non-tool event."""
    kind = str(event.get("kind", "?"))
    data = event.get("data") or {}
    if not isinstance(data, dict):
        data = {"value": data}
    if kind in (Kind.CONTROL_APPLIED, Kind.CONTROL_REJECTED):
        return control_summary(kind == Kind.CONTROL_APPLIED, cast(ControlOutcomeData, data))
    summary = _SUMMARIES.get(kind)
    return summary(data) if summary is not None else [(one_line(json_text(data)), "dim")]


#: How a queued prompt's row reads while it waits or once taken back; delivered, it reads as the prompt.
QUEUE_LABELS = {"queued": "⧗ queued ", "queue-removed": "⊘ taken back "}


def _user(data: MessageUserData) -> list[Cell]:
    origin = data.get("origin")
    if origin in QUEUE_LABELS:
        return [(QUEUE_LABELS[origin], "waiting" if origin == "queued" else "dim"),
                (one_line(str(data.get("text", ""))), "user")]
    prefix = [(f"[{origin}] ", "dim")] if origin and origin != "prompt" else []
    return [*prefix, (one_line(str(data.get("text", ""))), "user")]


def _assistant(data: MessageAssistantData) -> list[Cell]:
    return [(one_line(str(data.get("text", ""))), "summary")]


def _thinking(data: ThinkingData) -> list[Cell]:
    text = str(data.get("text") or "")
    return [("(hidden)" if data.get("hidden") or not text else one_line(text), "dim")]


def _started(data: SessionStartedData) -> list[Cell]:
    bits = [data.get("agent_kind"), data.get("model"), data.get("cwd"), data.get("title")]
    return [(one_line(" · ".join(str(b) for b in bits if b)), "summary")]


def _ended(data: SessionEndedData) -> list[Cell]:
    return [(one_line(str(data.get("reason") or "session ended")), "dim")]


def _usage(data: UsageData) -> list[Cell]:
    return [(usage_text(data), "dim")]


def _agent_started(data: AgentStartedData) -> list[Cell]:
    what = data.get("description") or ""
    kind = data.get("agent_type")
    cells: list[Cell] = [("started  ", "agent"), (one_line(str(what)), "summary")] if what else [("started", "agent")]
    ident = ", ".join(str(x) for x in (kind, data.get("agent_id")) if x)
    return [*cells, (f"  ({one_line(ident, 120)})", "dim")] if ident else cells


def _agent_finished(data: AgentFinishedData) -> list[Cell]:
    return [(str(data.get("status") or "finished"), "agent"), (f"  ({data.get('agent_id', '?')})", "dim")]


def _state(data: StateData) -> list[Cell]:
    reason = f" ({data['reason']})" if data.get("reason") else ""
    return [(f"{data.get('state', '?')}{reason}", "summary")]


def _notice(data: NoticeData) -> list[Cell]:
    level = data.get("level", "info")
    role = "error" if level == "error" else "warning" if level == "warning" else "notice"
    return [(one_line(str(data.get("text", ""))), role)]


def _raw(data: RawData) -> list[Cell]:
    record = data.get("record")
    text = record if isinstance(record, str) else json_text(record)
    error = f"{data['error']}: " if data.get("error") else ""
    return [(one_line(error + text), "raw")]


#: kind -> its summary, reading ``data`` as the kind's payload (``protocol.payloads``).
_SUMMARIES: dict[str, Callable[[Any], list[Cell]]] = {
    Kind.MESSAGE_USER: _user,
    Kind.MESSAGE_ASSISTANT: _assistant,
    Kind.THINKING: _thinking,
    Kind.SESSION_STARTED: _started,
    Kind.SESSION_ENDED: _ended,
    Kind.USAGE: _usage,
    Kind.AGENT_STARTED: _agent_started,
    Kind.AGENT_FINISHED: _agent_finished,
    Kind.STATE: _state,
    Kind.NOTICE: _notice,
    Kind.RAW: _raw,
}


def control_summary(applied: bool, data: ControlOutcomeData) -> list[Cell]:
    """``✓ deny  denied: the agent is told why  "not today"  — who``; a rejection says why, in red."""
    control = str(data.get("control") or "?")
    reason = one_line(str(data.get("reason") or ""))
    if not applied:
        return [("✗ ", "error"), (control, "error"), (" rejected: ", "error"), (reason or "no reason given", "error")]
    cells: list[Cell] = [("✓ ", "ok"), (control, "tool"), (f"  {reason}" if reason else "", "summary")]
    said = data.get("message") if control == "deny" else data.get("text") if control == "inject" else None
    if said:
        cells.append((f"  “{one_line(str(said), 120)}”", "user"))
    if data.get("by"):
        cells.append((f"  — {data['by']}", "dim"))
    return cells


def usage_text(data: UsageData) -> str:
    parts = [f"in {number(data.get('input_tokens')) or 0:,}", f"out {number(data.get('output_tokens')) or 0:,}"]
    cache = (number(data.get("cache_read_tokens")) or 0) + (number(data.get("cache_creation_tokens")) or 0)
    if cache:
        parts.append(f"cache {cache:,}")
    cost = number(data.get("cost_usd"))
    if cost is not None:
        parts.append(f"${cost:.4f}")
    return "  ".join(parts)


def event_is_error(event: Event) -> bool:
    kind = str(event.get("kind", "?"))
    data = event.get("data") or {}
    if kind == Kind.RAW or kind == Kind.CONTROL_REJECTED:
        return True
    return kind == Kind.NOTICE and isinstance(data, dict) and cast(NoticeData, data).get("level") == "error"


def build_row(
    event: Event, call: ToolCall | None, now: float | None = None, spawned: str = "", depth: int = 0,
    agent_name: str | None = None,
) -> Row:
    """The row for an event; ``call`` when the event heads a tool call (merged by call id).

    ``spawned`` is the subagent marker of a spawning call (``"▾ 2 agents"``);
    ``depth`` indents a subagent's rows under the call that spawned it;
    ``agent_name`` is what the agent column shows instead of the agent's id (a subagent's description),
    whole: the column cuts it to fit.
    Every text in it is :func:`visible`: the row is what reaches the terminal.
    """
    time = clock(event.get("ts"))
    agent = one_line(agent_name or str(event.get("agent", MAIN_AGENT)), 120)
    indent: list[Cell] = [("┆ " * depth, "dim")] if depth else []
    if call is not None:
        summary: list[Cell] = [*indent, (one_line(call.name or "") or "?", "tool")]
        salient = salient_input(call.name, call.input)
        if salient:
            summary.append(("  " + salient, "summary"))
        if spawned:
            summary.append(("  " + spawned, "agent"))
        return _visible(Row(time, agent, "tool", summary, call_status_cells(call, now), call_failed(call)))
    kind = str(event.get("kind", "?"))
    kind = KIND_LABELS.get(kind, kind)
    return _visible(Row(time, agent, kind, [*indent, *event_summary(event)], [], event_is_error(event)))


def _visible(row: Row) -> Row:
    """``row`` with its texts :func:`flat`; checked whole first, as most rows need nothing."""
    texts = [row.time, row.agent, row.kind, *(t for t, _ in row.summary), *(t for t, _ in row.status)]
    joined = "".join(texts)
    if "\n" not in joined and "\t" not in joined and visible(joined) is joined:
        return row
    return Row(flat(row.time), flat(row.agent), flat(row.kind),
               [(flat(t), role) for t, role in row.summary], [(flat(t), role) for t, role in row.status],
               row.error)


def flat(text: str) -> str:
    """``text`` :func:`visible` and on one line: a line break or a tab is a space (a line break in a tool's
    name drew the agent's text as a row of its own; a tab went to the terminal and moved the cursor)."""
    if "\n" in text or "\t" in text:
        text = text.replace("\n", " ").replace("\t", " ")
    return visible(text)


def name_line(text: str) -> str:
    """A name from the data (a tool's, a subagent's) as one visible line, its runs of whitespace one space."""
    return visible(one_line(text))


def row_agent(event: Event) -> str:
    """The agent a row belongs to: a subagent's own start and end rows sit with its other rows."""
    if event.get("kind") in AGENT_KINDS:
        data = event.get("data")
        if isinstance(data, dict) and (agent := cast(AgentStartedData | AgentFinishedData, data).get("agent_id")):
            return str(agent)
    return event.get("agent", MAIN_AGENT)


def cut(cells: list[Cell], width: int) -> list[Cell]:
    """``cells`` cut to ``width`` cells, an ellipsis where cut."""
    return cut_to(cells, width)[0]


def cut_to(cells: list[Cell], width: int) -> tuple[list[Cell], int]:
    """``cells`` cut to ``width`` cells (an ellipsis where cut), and the cells they then take."""
    out: list[Cell] = []
    left = width
    for text, role in cells:
        if left <= 0:
            break
        w = cell_len(text)
        if w > left:
            text = set_cell_size(text, left - 1) + "…" if left > 1 else "…"
            w = left
        out.append((text, role))
        left -= w
    return out, width - left
