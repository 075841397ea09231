"""A row as text a person pastes: the command, its output, the message — not protocol events.

Pure (no Textual): the session screen copies these, the palette offers each
part, and "write to a file" writes the same text. Every text is
:func:`~watchkeeper.protocol.display.visible` (newlines and tabs kept): a
pasted ``ESC[201~`` would end the person's bracketed paste, so control
characters arrive as their visible stand-ins, as on screen.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...protocol import Event, Kind, ToolCall, json_text
from ...protocol.display import visible, visible_value
from . import rows
from .detail_render import edit_diff

#: Tools whose salient input is a shell command: shown as ``$ command``.
SHELLS = frozenset({"Bash", "shell", "exec_command", "local_shell", "run_command", "BashOutput"})


def _pretty(value: Any) -> str:
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()
    except TypeError:
        return json_text(value)


def command_text(call: ToolCall) -> str:
    """What the call was asked: a shell command as written, else its salient input, else the whole input."""
    value = rows.as_input(call.input)
    if isinstance(value, dict):
        for key in ("command", "cmd"):
            command = value.get(key)
            if isinstance(command, list) and all(isinstance(x, str) for x in command):
                command = " ".join(command[2:] if command[:2] in (["bash", "-lc"], ["/bin/bash", "-lc"]) else command)
            if isinstance(command, str) and command:
                return visible(command)
        if len(value) == 1 and isinstance(only := next(iter(value.values())), str):
            return visible(only)
        return visible(_pretty(value)) if value else ""
    return "" if value is None else visible(value if isinstance(value, str) else _pretty(value))


def output_text(call: ToolCall) -> str:
    """The call's output as text: stdout then stderr, text blocks joined, anything else as JSON."""
    output = call.output
    if output is None:
        return ""
    if isinstance(output, str):
        return visible(output)
    if isinstance(output, dict) and ("stdout" in output or "stderr" in output):
        parts = [str(output[k]) for k in ("stdout", "stderr") if output.get(k)]
        return visible("\n".join(parts))
    if isinstance(output, list) and all(isinstance(b, dict) and "text" in b for b in output):
        return visible("\n".join(str(b["text"]) for b in output))
    return visible(_pretty(output))


def call_text(call: ToolCall) -> str:
    """``$ command`` and its output; another tool's name and salient input (a path, a pattern), then
    its diff (an edit) or its output."""
    name = visible(call.name or "?")
    if name in SHELLS and (command := command_text(call)):
        head = f"$ {command}"
    else:
        head = f"{name} {visible(rows.salient_input(call.name, call.input))}".rstrip()
    body = edit_diff(call)
    body = visible(body) if body else output_text(call)
    return f"{head}\n{body}" if body else head


def event_text(event: Event) -> str:
    """A message's text (a queued prompt's too), a notice's, thinking; any other event's data as JSON."""
    data = event.get("data")
    if isinstance(data, dict):
        text = data.get("text")
        if isinstance(text, str) and event.get("kind") in (
            Kind.MESSAGE_USER, Kind.MESSAGE_ASSISTANT, Kind.THINKING, Kind.NOTICE,
        ):
            return visible(text)
        if event.get("kind") == Kind.USAGE:
            return visible(rows.usage_text(data))  # type: ignore[arg-type]
    return visible(_pretty(visible_value(data)))


def readable(event: Event, call: ToolCall | None) -> str:
    """The row's readable text: what ``c`` copies."""
    return call_text(call) if call is not None else event_text(event)


def json_lines(events: list[Event]) -> str:
    """The row's protocol events as JSON lines, with the same visible escapes as on screen."""
    return "\n".join(orjson.dumps(visible_value(e), default=str).decode() for e in events)


def parts(event: Event, call: ToolCall | None, events: list[Event]) -> list[tuple[str, str]]:
    """(what, text) a person may copy from the row, the readable text first; empty parts left out."""
    out = [("text", readable(event, call))]
    if call is not None:
        out += [("command" if call.name in SHELLS else "input", command_text(call)), ("output", output_text(call))]
    out.append(("JSON lines", json_lines(events)))
    return [(what, text) for what, text in out if text]
