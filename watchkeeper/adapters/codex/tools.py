"""Codex tool calls: what started a call, and how each version says it finished.

Pure functions, record in, facts out. The output and error conventions drifted
between Codex versions:

- 0.7x: the output is a JSON string ``{"output": …, "metadata": {"exit_code", "duration_seconds"}}``;
- 0.104: plain text with a header: ``Exit code: N`` or ``Process exited with code N``,
  and ``Wall time: S seconds``;
- 0.171: the same text, plus an ``item_completed`` ``CommandExecution`` item with
  ``exit_code`` and ``status``, written before the output and the best source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from ...protocol.codec import finite
from ...protocol.payloads import ToolFinishedData
from .text import content_text

#: Tool output kept in an event; the rest is cut and counted in ``truncated``.
MAX_OUTPUT = 256 * 1024

#: ``response_item`` types that start a call, and the name used when the record has none.
CALL_TYPES = {
    "function_call": None,
    "custom_tool_call": None,
    "local_shell_call": "local_shell",
    "tool_search_call": "tool_search",
    "web_search_call": "web_search",
    "image_generation_call": "image_generation",
}
#: Calls whose record is also their only result: started and finished at once.
SELF_FINISHED = frozenset({"web_search_call", "image_generation_call"})
OUTPUT_TYPES = frozenset({"function_call_output", "custom_tool_call_output", "tool_search_output"})
#: ``item_completed`` item types that report a call's end.
ITEM_CALL_NAMES = {
    "CommandExecution": "exec_command",
    "FileChange": "apply_patch",
    "McpToolCall": "mcp",
    "DynamicToolCall": "dynamic_tool",
    "CollabAgentToolCall": "collab_agent",
    "WebSearch": "web_search",
    "ImageView": "view_image",
    "ImageGeneration": "image_generation",
}
#: Older ``event_msg`` records that report a call's end.
END_EVENTS = {
    "exec_command_end": "exec_command",
    "patch_apply_end": "apply_patch",
    "mcp_tool_call_end": "mcp",
}

_HEADER = 600
_EXIT = re.compile(r"^(?:Process exited with code|Exit code:)\s*(-?\d+)", re.MULTILINE)
_WALL = re.compile(r"^Wall time:\s*([0-9.]+)\s*seconds", re.MULTILINE)
_DENIED = re.compile(r"rejected by (?:the )?user|declined by (?:the )?user", re.IGNORECASE)
_ABORTED = re.compile(r"^aborted\b", re.IGNORECASE)


@dataclass(slots=True)
class Finish:
    """How a call ended, as far as one record tells."""

    status: str = "ok"
    output: Any = None
    exit_code: int | None = None
    duration_ms: float | None = None

    def data(self, call_id: str) -> ToolFinishedData:
        output, cut = cut_output(self.output)
        data: ToolFinishedData = {
            "call_id": call_id,
            "status": self.status,
            "is_error": self.status == "error",
            "output": output,
            "duration_ms": self.duration_ms,
        }
        if cut:
            data["truncated"] = cut
        if self.exit_code is not None:
            data["exit_code"] = self.exit_code
        return data


def decode_arguments(arguments: Any) -> Any:
    """``arguments`` is a JSON string; its decoded value, or the string itself if it is not JSON."""
    if not isinstance(arguments, str):
        return arguments
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments


def mcp_name(space: str, name: str) -> str:
    """An MCP tool's name as Codex's hooks and Claude Code give it (``mcp__server__tool``), so a call reads the
    same from the rollout as from a hook, and a breakpoint on it matches either."""
    return f"{space}{name}" if space.endswith("__") else f"{space}__{name}"


def call_start(kind: str, payload: dict[str, Any]) -> tuple[str | None, str, Any]:
    """(call_id or None, name, input) of a call-starting ``response_item``."""
    call_id = payload.get("call_id") or payload.get("id")
    name = payload.get("name") or CALL_TYPES.get(kind) or kind
    if kind == "function_call":
        tool_input = decode_arguments(payload.get("arguments"))
        space = payload.get("namespace")
        if isinstance(space, str) and space:
            name = mcp_name(space, name) if space.startswith("mcp__") else f"{space}.{name}"
    elif kind == "custom_tool_call":
        tool_input = payload.get("input")
    elif kind == "tool_search_call":
        tool_input = decode_arguments(payload.get("arguments"))
    elif kind == "local_shell_call" or kind == "web_search_call":
        tool_input = payload.get("action")
    else:
        tool_input = {k: v for k, v in payload.items() if k not in ("type", "id", "status", "result")}
    return (str(call_id) if call_id else None), str(name), tool_input


def self_finish(payload: dict[str, Any]) -> Finish:
    """A web search or image generation: its own record says how it went."""
    status = str(payload.get("status") or "completed")
    result = payload.get("result")
    if isinstance(result, str) and len(result) > 200:
        result = f"<{len(result)} characters of generated data>"
    return Finish(_item_status(status), result if result is not None else status)


def parse_output(output: Any) -> Finish:
    """A ``*_output`` record's ``output``, in any of the three conventions."""
    if isinstance(output, list):
        return Finish(output=content_text(output) or output)
    if isinstance(output, dict):
        return _from_object(output, output)
    if not isinstance(output, str):
        return Finish(output=output)
    if output.startswith("{"):
        try:
            obj = orjson.loads(output)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and ("metadata" in obj or "success" in obj):
            return _from_object(obj, output)
    return _from_text(output)


def _from_object(obj: dict[str, Any], original: Any) -> Finish:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
    text = obj.get("output", obj.get("content", original))
    if isinstance(text, list):
        text = content_text(text) or text
    exit_code = _int(meta.get("exit_code"))
    seconds = meta.get("duration_seconds")
    duration = seconds * 1000 if isinstance(seconds, int | float) else None
    failed = (exit_code not in (None, 0)) or obj.get("success") is False
    if isinstance(text, str) and not failed and exit_code is None:
        finish = _from_text(text)
        finish.duration_ms = finish.duration_ms or duration
        return finish
    return Finish("error" if failed else "ok", text, exit_code, duration)


def _from_text(text: str) -> Finish:
    head = text[:_HEADER]
    m = _EXIT.search(head)
    exit_code = int(m.group(1)) if m else None
    w = _WALL.search(head)
    duration = float(w.group(1)) * 1000 if w else None
    if exit_code not in (None, 0):
        status = "error"
    elif exit_code is None and _DENIED.search(text[:200]):
        status = "denied"
    elif exit_code is None and _ABORTED.match(text):
        status = "interrupted"
    else:
        status = "ok"
    return Finish(status, text, exit_code, duration)


def item_finish(item: dict[str, Any], started_ms: Any = None, completed_ms: Any = None) -> Finish:
    """An ``item_completed`` call item (0.171): exit code and status, the best finished source."""
    exit_code = _int(_get(item, "exit_code", "exitCode"))
    status = _item_status(item.get("status"))
    if exit_code not in (None, 0) or item.get("success") is False or item.get("error"):
        status = "error" if status == "ok" else status
    output = _first(
        _get(item, "aggregated_output", "aggregatedOutput"),
        _get(item, "formatted_output", "formattedOutput"),
        _join_streams(item),
        item.get("result"),
        item.get("content_items") or item.get("contentItems"),
        item.get("error"),
    )
    duration = duration_ms(item.get("duration"))
    started, completed = finite(started_ms), finite(completed_ms)
    if duration is None and started is not None and completed is not None:
        duration = completed - started
    return Finish(status, output, exit_code, duration)


def end_event_finish(payload: dict[str, Any]) -> Finish:
    """An older ``exec_command_end`` / ``patch_apply_end`` / ``mcp_tool_call_end``."""
    exit_code = _int(payload.get("exit_code"))
    status = "error" if exit_code not in (None, 0) or payload.get("success") is False else "ok"
    result = payload.get("result")
    if isinstance(result, dict) and ("Err" in result or "Ok" in result):
        if "Err" in result:
            status, result = "error", result["Err"]
        else:
            result = result["Ok"]
            if isinstance(result, dict) and result.get("isError"):
                status = "error"
    output = _first(
        payload.get("aggregated_output"), payload.get("formatted_output"), _join_streams(payload), result
    )
    return Finish(status, output, exit_code, duration_ms(payload.get("duration")))


def duration_ms(value: Any) -> float | None:
    """A Rust ``Duration`` as serialised: ``{secs, nanos}``, seconds, or text like ``"1.5s"``/``"20ms"``."""
    if isinstance(value, dict):
        secs, nanos = finite(value.get("secs", 0)), finite(value.get("nanos", 0))
        if secs is not None and nanos is not None:
            return secs * 1000 + nanos / 1e6
        return None
    seconds = finite(value)
    if seconds is not None:
        return seconds * 1000
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9.]+)\s*(ms|s)\s*", value)
        if m:
            return float(m.group(1)) * (1 if m.group(2) == "ms" else 1000)
    return None


def cut_output(output: Any) -> tuple[Any, int]:
    """Output over :data:`MAX_OUTPUT` bytes cut at a character boundary; returns (output, bytes cut)."""
    if not isinstance(output, str) or len(output) <= MAX_OUTPUT // 4:
        return output, 0
    raw = output.encode("utf-8", "replace")
    if len(raw) <= MAX_OUTPUT:
        return output, 0
    kept = raw[:MAX_OUTPUT].decode("utf-8", "ignore")
    return kept, len(raw) - len(kept.encode("utf-8"))


def _item_status(status: Any) -> str:
    s = str(status or "").lower()
    if s in ("failed", "error", "incomplete"):
        return "error"
    if s in ("declined", "rejected", "denied"):
        return "denied"
    if s in ("interrupted", "cancelled", "canceled", "aborted"):
        return "interrupted"
    return "ok"


def _join_streams(obj: dict[str, Any]) -> str | None:
    parts = [s for k in ("stdout", "stderr") if isinstance(s := obj.get(k), str) and s]
    return "".join(parts) if parts else None


def _get(obj: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if obj.get(k) is not None:
            return obj[k]
    return None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
