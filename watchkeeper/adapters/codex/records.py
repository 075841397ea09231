"""What each Codex rollout record means, as protocol events.

Each handler takes the converter (as a :class:`Thread`: what the handlers may
use of it) and a record's ``payload`` and returns events;
``[]`` for known bookkeeping read quietly (``turn_context``, ``ghost_snapshot``,
mirror records), ``None`` for a type it does not know, which the converter
keeps as ``raw``: nothing read is dropped unseen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from ...protocol import MAIN_AGENT, Event
from ...protocol.payloads import AGENT_ORIGIN
from .session import StartFacts
from .text import content_text, is_scaffolding, reasoning_texts
from .tools import (
    CALL_TYPES,
    END_EVENTS,
    ITEM_CALL_NAMES,
    OUTPUT_TYPES,
    SELF_FINISHED,
    Finish,
    call_start,
    end_event_finish,
    item_finish,
    parse_output,
    self_finish,
)
from .usage import TokenLedger


class Thread(Protocol):
    """The converter as the handlers see it (``converter.CodexConverter``): state to read, events to build."""

    facts: StartFacts
    tokens: TokenLedger
    said_in_turn: bool
    #: Sub-agents this thread spawned: agent path (``/root/counter``) -> thread id.
    sub_agents: dict[str, str]

    @property
    def key(self) -> str: ...

    def event(self, kind: str, data: dict[str, Any], id: str | None = None, agent: str = MAIN_AGENT) -> Event: ...

    def notice(self, level: str, text: str, code: str, **extra: Any) -> Event: ...

    def odd(self, error: str) -> Event: ...

    def prompt(self, text: str, source: str) -> list[Event]: ...

    def fallback_prompt(self, text: str) -> None: ...

    def said(self, text: Any, source: str, message_id: Any = None, phase: Any = None) -> list[Event]: ...

    def thinking(self, texts: list[str], source: str) -> list[Event]: ...

    def start_call(self, call_id: str, name: str, tool_input: Any, message_id: Any = None) -> list[Event]: ...

    def finish_call(self, call_id: Any, end: Finish, name: str = "unknown", tool_input: Any = None) -> list[Event]: ...

    def open_calls(self) -> list[str]: ...

    def usage(self, delta: dict[str, int] | None, message_id: Any = None, **extra: Any) -> list[Event]: ...

    def compaction(self, summary: Any) -> list[Event]: ...


Handler = Callable[[Thread, dict[str, Any]], list[Event] | None]

#: Known bookkeeping, not conversation.
QUIET_ITEMS = frozenset({"ghost_snapshot", "additional_tools", "configuration_update"})
#: UI copies of a response item that already carries the call.
QUIET_EVENTS = frozenset({"web_search_end", "image_generation_end"})
COMPACTION_ITEMS = frozenset({"compaction", "context_compaction", "compaction_summary"})
AGENT_ENDS = frozenset({"completed", "interrupted", "errored", "closed", "shutdown"})
#: How Codex frames a message between agents; the person reads the payload, the type is kept beside it.
ENVELOPE = re.compile(r"Message Type: (?P<type>\w+)\nTask name: [^\n]*\nSender: [^\n]*\nPayload:\n(?P<payload>.*)",
                      re.DOTALL)


def response_item(c: Thread, p: dict[str, Any]) -> list[Event] | None:
    kind = p.get("type")
    if not isinstance(kind, str):
        return None
    if kind == "message":
        role, text = p.get("role"), content_text(p.get("content"))
        if role == "assistant":
            return c.said(text, "response_item", p.get("id"), p.get("phase"))
        if role == "user":
            if not is_scaffolding(text, p):
                c.fallback_prompt(text)
            return []
        # Developer and system messages are context the CLI injects, not conversation; another role is kept raw.
        return [] if role in ("developer", "system") else None
    if kind == "agent_message":
        return agent_message(c, p)
    if kind == "reasoning":
        return c.thinking(reasoning_texts(p), "response_item")
    if kind in CALL_TYPES:
        call_id, name, tool_input = call_start(str(kind), p)
        call_id = call_id or f"{kind}:{c.key}"  # web searches often have no id: the line's digest
        events = c.start_call(call_id, name, tool_input, p.get("id") if p.get("id") != call_id else None)
        if kind in SELF_FINISHED:
            events += c.finish_call(call_id, self_finish(p), name)
        return events
    if kind in OUTPUT_TYPES:
        return c.finish_call(p["call_id"], parse_output(p.get("output"))) if p.get("call_id") else None
    if kind in COMPACTION_ITEMS:
        return c.compaction(None)
    if kind in QUIET_ITEMS:
        return []
    return None


def event_msg(c: Thread, p: dict[str, Any]) -> list[Event] | None:
    kind = p.get("type")
    if not isinstance(kind, str):
        return None
    handler = EVENT_MSG.get(kind)
    if handler is not None:
        return handler(c, p)
    if kind in END_EVENTS and p.get("call_id"):
        return c.finish_call(p["call_id"], end_event_finish(p), END_EVENTS[str(kind)], p.get("command"))
    if kind in QUIET_EVENTS:
        return []
    return None


def item_completed(c: Thread, p: dict[str, Any]) -> list[Event] | None:
    """0.171's ``item_completed``: the UI's view of a finished item."""
    item = p.get("item")
    kind = item.get("type") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(kind, str):
        return [c.odd("an item_completed whose item has no type")]
    if kind == "UserMessage":
        return c.prompt(content_text(item.get("content")), "item")
    if kind == "HookPrompt":
        frags = item.get("fragments") or []
        text = "\n".join(str(f.get("text", "")) for f in frags if isinstance(f, dict))
        return [c.event("message.user", {"text": text, "origin": "hook"})]
    if kind == "AgentMessage":
        return c.said(content_text(item.get("content")), "item", item.get("id"), item.get("phase"))
    if kind == "Plan":
        return c.said(item.get("text"), "plan", item.get("id"), "plan")
    if kind == "Reasoning":
        parts = [*(item.get("summary_text") or []), *(item.get("raw_content") or [])]
        return c.thinking([t for t in parts if isinstance(t, str) and t.strip()], "item")
    if kind in ITEM_CALL_NAMES and item.get("id"):
        end = item_finish(item, p.get("started_at_ms"), p.get("completed_at_ms"))
        tool_input = item.get("command") or item.get("arguments") or item.get("query") or item.get("changes")
        return c.finish_call(item["id"], end, ITEM_CALL_NAMES[kind], tool_input)
    if kind == "SubAgentActivity":
        return sub_agent(
            c,
            {
                "agent_thread_id": item.get("agentThreadId") or item.get("agent_thread_id"),
                "agent_path": item.get("agentPath") or item.get("agent_path"),
                "kind": item.get("kind"),
                "call_id": item.get("id"),
            },
        )
    if kind == "ContextCompaction":
        return c.compaction(None)
    if kind == "Sleep":
        return [c.notice("info", f"Slept {item.get('duration_ms')} ms", "codex.sleep")]
    return [c.odd(f"unknown item_completed item type {kind!r}")]


def token_count(c: Thread, p: dict[str, Any]) -> list[Event]:
    info = p.get("info")
    if not isinstance(info, dict):
        return [] if info is None else [c.odd("token counts that are not an object")]  # None: rate limits only
    total, last = info.get("total_token_usage"), info.get("last_token_usage")
    delta = c.tokens.snapshot(total) if isinstance(total, dict) else c.tokens.step(last)
    context = last.get("input_tokens") if isinstance(last, dict) else None
    return c.usage(delta, context_window=info.get("model_context_window"), context_tokens=context)


def token_usage_record(c: Thread, p: dict[str, Any]) -> list[Event]:
    thread = p.get("thread_token_usage")
    delta = c.tokens.snapshot(thread) if isinstance(thread, dict) else c.tokens.step(p.get("usage"))
    return c.usage(delta, p.get("response_id"), turn_id=p.get("turn_id"))


def turn_started(c: Thread, p: dict[str, Any]) -> list[Event]:
    c.said_in_turn = False
    return [c.event("state", {"state": "running", "reason": "turn started", "turn_id": p.get("turn_id")})]


def turn_complete(c: Thread, p: dict[str, Any]) -> list[Event]:
    said = c.said_in_turn
    events = [] if said else c.said(p.get("last_agent_message"), "last_agent_message")
    c.said_in_turn = False
    data = {"state": "idle", "reason": "turn complete", "turn_id": p.get("turn_id")}
    if p.get("duration_ms") is not None:
        data["duration_ms"] = p["duration_ms"]
    return [*events, c.event("state", data)]


def turn_aborted(c: Thread, p: dict[str, Any]) -> list[Event]:
    """The person interrupted (or a new prompt replaced) the turn: its open calls end interrupted."""
    reason = str(p.get("reason") or "aborted")
    events: list[Event] = []
    for call_id in c.open_calls():
        events += c.finish_call(call_id, Finish("interrupted", f"turn aborted: {reason}"))
    state = {"state": "idle", "reason": f"turn aborted: {reason}", "turn_id": p.get("turn_id")}
    events.append(c.event("state", state))
    events.append(c.notice("warning", f"Turn aborted ({reason})", "codex.turn_aborted"))
    return events


def agent_message(c: Thread, p: dict[str, Any]) -> list[Event]:
    """A message between agents (multi-agent v2): a task from the parent, or a sub-agent's answer.

    Written into the rollout of the thread it reaches, so it is not this thread's own speech: a sub-agent's
    answer is that sub-agent's (its agent in the parent's timeline), anything else is a prompt from ``author``.
    """
    text, author = content_text(p.get("content"), hidden="(encrypted)"), p.get("author")
    if not isinstance(author, str) or not author or author == c.facts.meta.get("agent_path"):
        return c.said(text, "agent_item", p.get("id"), p.get("phase"))
    if not text.strip():
        return []
    envelope = ENVELOPE.fullmatch(text)
    data: dict[str, Any] = {"text": text}
    if envelope is not None and envelope["payload"].strip():
        data = {"text": envelope["payload"], "message_type": envelope["type"]}
    child = c.sub_agents.get(author)
    if child is not None:
        return [c.event("message.assistant", {**data, "message_id": p.get("id"), "model": None}, agent=child)]
    return [c.event("message.user", {**data, "origin": f"{AGENT_ORIGIN}{author}"})]


def sub_agent(c: Thread, p: dict[str, Any]) -> list[Event]:
    """``sub_agent_activity``: a child thread (with its own rollout) started, was talked to, or ended."""
    agent_id, kind, path = p.get("agent_thread_id"), str(p.get("kind") or ""), p.get("agent_path")
    if not agent_id:
        return [c.notice("info", f"Sub-agent activity: {kind}", "codex.sub_agent", agent_path=path)]
    if kind == "started":
        if isinstance(path, str) and path:
            c.sub_agents[path] = str(agent_id)
        spawn = p.get("call_id")  # the spawn_agent call that started it, still open
        parent = spawn if spawn in c.open_calls() else None
        data = {"agent_id": str(agent_id), "parent_call_id": parent, "agent_type": path, "description": path}
        return [c.event("agent.started", data)]
    if kind in AGENT_ENDS:
        return [c.event("agent.finished", {"agent_id": str(agent_id), "status": kind})]
    text = f"Sub-agent {path or agent_id}: {kind}"
    return [c.notice("info", text, "codex.sub_agent", agent_id=str(agent_id))]


def settings(c: Thread, p: dict[str, Any]) -> list[Event]:
    c.facts.read_settings(p)
    return []


def world_state(c: Thread, p: dict[str, Any]) -> list[Event]:
    c.facts.read_settings(p, snapshot=True)
    return []


def _thinking_text(c: Thread, p: dict[str, Any]) -> list[Event]:
    text = p.get("text")
    if text is not None and not isinstance(text, str):
        return [c.odd("reasoning text that is not a string")]
    return c.thinking([text] if isinstance(text, str) and text.strip() else [], "event_msg")


def _notice(level: str, code: str, text: Callable[[dict[str, Any]], str]) -> Handler:
    return lambda c, p: [c.notice(level, text(p), code)]


def _message(p: dict[str, Any]) -> str:
    return str(p.get("message") or p)


TOP_LEVEL: dict[str, Handler] = {
    "response_item": response_item,
    "event_msg": event_msg,
    "turn_context": settings,
    "world_state": world_state,
    "token_usage_record": token_usage_record,
    "compacted": lambda c, p: c.compaction(p.get("message")),
    # Whether a message between agents starts a turn: bookkeeping, the message itself is its own record.
    "inter_agent_communication_metadata": lambda c, p: [],
}

EVENT_MSG: dict[str, Handler] = {
    "user_message": lambda c, p: c.prompt(str(p.get("message") or ""), "event_msg"),
    "agent_message": lambda c, p: c.said(p.get("message"), "event_msg", None, p.get("phase")),
    "agent_reasoning": _thinking_text,
    "agent_reasoning_raw_content": _thinking_text,
    "token_count": token_count,
    "task_started": turn_started,
    "turn_started": turn_started,
    "task_complete": turn_complete,
    "turn_complete": turn_complete,
    "turn_aborted": turn_aborted,
    "item_completed": item_completed,
    "sub_agent_activity": sub_agent,
    "context_compacted": lambda c, p: c.compaction(None),
    "thread_settings_applied": settings,
    "session_configured": settings,
    "thread_rolled_back": _notice(
        "warning", "codex.rolled_back", lambda p: f"Rolled back {p.get('num_turns', '?')} turn(s)"
    ),
    "entered_review_mode": _notice("info", "codex.review", lambda p: "Entered review mode"),
    "exited_review_mode": _notice("info", "codex.review", lambda p: "Exited review mode"),
    "thread_goal_updated": _notice("info", "codex.goal", lambda p: f"Goal updated: {p.get('goal')}"),
    "error": _notice("error", "codex.error", _message),
    "stream_error": _notice("warning", "codex.stream_error", _message),
    "warning": _notice("warning", "codex.warning", _message),
}
