"""A session's summary (``SessionInfo``) folded from its events, one at a time.

Pure: an event in, the summary updated in place. Only the few kinds that say
something about the session as a whole are looked at; the rest cost a count
and a timestamp compare, because this runs once per event on the relay's hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..protocol import Event, ToolCall
from ..protocol.kinds import Kind, State, ToolStatus
from ..protocol.usage import UsageTally
from .api import SessionInfo

TITLE_MAX = 200


class Summary:
    """``SessionInfo`` plus what it takes to keep it current (title origin, held calls)."""

    __slots__ = ("info", "title_from_start", "usage", "waiting")

    def __init__(self, session: str, agent_kind: str) -> None:
        self.info = SessionInfo(session=session, agent_kind=agent_kind)
        self.title_from_start = False
        self.usage = UsageTally()
        #: call ids held for approval or by a pause: the session needs the person.
        self.waiting: set[str] = set()

    def fold(self, ev: Event, call: ToolCall | None) -> None:
        """Update the summary with one event (already numbered); ``call`` is its merged tool call."""
        info = self.info
        info.events += 1
        info.last_seq = ev["seq"]
        ts = ev.get("ts")
        if isinstance(ts, str) and (info.last_ts is None or ts > info.last_ts):
            info.last_ts = ts
        handler = _HANDLERS.get(ev.get("kind", ""))
        if handler is not None:
            data = ev.get("data")
            handler(self, data if isinstance(data, dict) else {}, call)

    def _set_waiting(self, call_id: Any, held: bool) -> None:
        if not isinstance(call_id, str):
            return
        if held:
            self.waiting.add(call_id)
            if self.info.state in (State.RUNNING, State.IDLE):
                self.info.state = State.WAITING
        else:
            self.waiting.discard(call_id)
            if not self.waiting and self.info.state == State.WAITING:
                self.info.state = State.RUNNING
        self.info.needs_attention = bool(self.waiting)


def _session_started(s: Summary, data: dict[str, Any], call: ToolCall | None) -> None:
    info = s.info
    if isinstance(data.get("agent_kind"), str):
        info.agent_kind = data["agent_kind"]
    if data.get("title"):
        info.title = str(data["title"])
        s.title_from_start = True
    info.cwd = data.get("cwd") or info.cwd
    info.model = data.get("model") or info.model
    caps = data.get("capabilities")
    if isinstance(caps, dict):
        info.capabilities = merge_capabilities(info.capabilities, caps)


def _message_user(s: Summary, data: dict[str, Any], call: ToolCall | None) -> None:
    if s.info.title is None and not s.title_from_start:
        s.info.title = title_from_text(data.get("text"))


def _message_assistant(s: Summary, data: dict[str, Any], call: ToolCall | None) -> None:
    if isinstance(data.get("model"), str):
        s.info.model = data["model"]


def _usage(s: Summary, data: dict[str, Any], call: ToolCall | None) -> None:
    info = s.info
    s.usage.fold(data)
    info.tokens_in, info.tokens_out, info.tokens_cache_read, info.tokens_cache_creation = s.usage.tokens
    info.cost_usd = s.usage.cost_usd
    if info.model is None and isinstance(data.get("model"), str):
        info.model = data["model"]


def _state(s: Summary, data: dict[str, Any], call: ToolCall | None) -> None:
    if isinstance(data.get("state"), str):
        s.info.state = data["state"]


def _session_ended(s: Summary, data: dict[str, Any], call: ToolCall | None) -> None:
    s.info.state = State.FINISHED
    s.waiting.clear()
    s.info.needs_attention = False


def _tool(s: Summary, data: dict[str, Any], call: ToolCall | None) -> None:
    """A call held (waiting) or let go (running again, finished) changes whether the person is needed."""
    if call is not None:
        held = call.status == ToolStatus.WAITING
        if held or call.call_id in s.waiting:
            s._set_waiting(call.call_id, held)


_HANDLERS: dict[str, Callable[[Summary, dict[str, Any], ToolCall | None], None]] = {
    Kind.SESSION_STARTED: _session_started,
    Kind.SESSION_ENDED: _session_ended,
    Kind.MESSAGE_USER: _message_user,
    Kind.MESSAGE_ASSISTANT: _message_assistant,
    Kind.USAGE: _usage,
    Kind.STATE: _state,
    Kind.TOOL_STARTED: _tool,
    Kind.TOOL_WAITING: _tool,
    Kind.TOOL_FINISHED: _tool,
    Kind.CONTROL_APPLIED: _tool,
}


def title_from_text(text: Any) -> str | None:
    """The first non-empty line of a prompt, cut to ``TITLE_MAX`` characters."""
    if not isinstance(text, str):
        return None
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1] + "…"
    return None


def merge_capabilities(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two sources of one session: a control is available if either source honours it."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, bool):
            merged[key] = bool(merged.get(key)) or value
        elif value is not None or key not in merged:
            merged[key] = value
    return merged
