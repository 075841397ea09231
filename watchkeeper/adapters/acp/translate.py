"""ACP ``session/update`` notifications (wire form, camelCase dicts) into protocol events, pure.

Message and thought chunks are gathered into one event per message (the
source flushes at the next other update, at the turn's end, or after a short
quiet spell). A tool call is keyed by ``toolCallId`` and patched field by
field; it becomes ``tool.started`` once its input is known (an update that
carries ``rawInput``, a permission request about it, or a status past
``pending``), and ``tool.finished`` at ``completed``/``failed``, with its
output and any diffs; a call the person denied that the agent never reports
finishes as denied at the turn's end. A permission request about a call that
has finished is about a new call (:meth:`Translator.renew`), with an id of its
own that the agent's later updates of that ``toolCallId`` go to: a finished
call cannot be held. A plan is a notice that lists its entries. Event ids are
stable per session, so a reconnecting viewer never sees a call twice.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from ...protocol import Event, Kind, make_event
from ...protocol.codec import finite
from ...protocol.payloads import (
    MessageAssistantData,
    NoticeData,
    ThinkingData,
    ToolFinishedData,
    ToolStartedData,
    UsageData,
)

#: Tool output beyond this is cut and marked, as every adapter does.
MAX_OUTPUT = 256 * 1024
_FIELDS = ("title", "kind", "status", "content", "locations", "rawInput", "rawOutput", "_meta")
#: What a renewed call keeps of the finished one: what it is, not how it went.
_KEPT = ("title", "kind", "locations", "rawInput", "_meta")


@dataclass
class Call:
    """One tool call as the agent has described it so far."""

    call_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    started: bool = False
    finished: bool = False
    #: the agent asked the client's permission for it.
    asked: bool = False

    def patch(self, update: dict[str, Any]) -> None:
        for key in _FIELDS:
            value = update.get(key)
            if value is not None and not (key == "rawInput" and value == {} and "rawInput" in self.fields):
                self.fields[key] = value

    @property
    def name(self) -> str:
        tool = claude_code_meta(self.fields.get("_meta")).get("toolName")
        if isinstance(tool, str) and tool:
            return tool
        return str(self.fields.get("title") or self.fields.get("kind") or "tool")

    @property
    def input(self) -> Any:
        raw = self.fields.get("rawInput")
        if raw not in (None, {}):
            return raw
        title = self.fields.get("title")
        return {"title": title} if title else raw


class Translator:
    """One ACP session's updates in, its events out."""

    def __init__(self, session: str, model: str | None = None) -> None:
        self.session = session
        self.model = model
        self.calls: dict[str, Call] = {}
        #: the agent's ``toolCallId`` -> the id of the call it now means (see ``renew``).
        self.renamed: dict[str, str] = {}
        self._n = itertools.count()
        #: the chunks of the message or thought being streamed: (sessionUpdate kind, messageId, texts).
        self._chunks: tuple[str, str | None, list[str]] | None = None

    def _id(self, what: str) -> str:
        return f"acp:{self.session}:{next(self._n)}:{what}"

    def update(self, update: dict[str, Any]) -> list[Event]:
        kind = update.get("sessionUpdate")
        if kind in ("agent_message_chunk", "agent_thought_chunk"):
            return self._chunk(str(kind), update)
        out = self.flush()
        if kind in ("tool_call", "tool_call_update"):
            out += self._tool(update)
        elif kind == "plan":
            out += self._plan(update.get("entries"))
        elif kind == "usage_update":
            out += self._context(update)
        elif kind == "user_message_chunk":
            text = _text(update.get("content"))
            if text:
                out.append(make_event(self._id("user"), self.session, Kind.MESSAGE_USER,
                                      {"text": text, "origin": "replayed"}))
        return out

    def _chunk(self, kind: str, update: dict[str, Any]) -> list[Event]:
        text = _text(update.get("content"))
        mid = update.get("messageId") if isinstance(update.get("messageId"), str) else None
        out: list[Event] = []
        if self._chunks is not None and (self._chunks[0] != kind or (mid and self._chunks[1] != mid)):
            out = self.flush()
        if self._chunks is None:
            self._chunks = (kind, mid, [])
        if text:
            self._chunks[2].append(text)
        return out

    def flush(self) -> list[Event]:
        """The message or thought streamed so far, as one event (nothing if there is none)."""
        chunks, self._chunks = self._chunks, None
        if chunks is None or not "".join(chunks[2]).strip():
            return []
        kind, mid, texts = chunks
        if kind == "agent_thought_chunk":
            thought: ThinkingData = {"text": "".join(texts), "hidden": False}
            return [make_event(self._id("thinking"), self.session, Kind.THINKING, thought)]
        message: MessageAssistantData = {"text": "".join(texts), "message_id": mid, "model": self.model}
        return [make_event(self._id("assistant"), self.session, Kind.MESSAGE_ASSISTANT, message)]

    @property
    def streaming(self) -> bool:
        return self._chunks is not None

    # --- tool calls -------------------------------------------------------------------------

    def call(self, update: dict[str, Any]) -> Call | None:
        cid = update.get("toolCallId")
        if not isinstance(cid, str) or not cid:
            return None
        cid = self.renamed.get(cid, cid)
        c = self.calls.get(cid)
        if c is None:
            c = self.calls[cid] = Call(cid)
        c.patch(update)
        return c

    def get(self, cid: Any) -> Call | None:
        """The call the agent's ``toolCallId`` now means."""
        return self.calls.get(self.renamed.get(cid, cid)) if isinstance(cid, str) else None

    def renew(self, cid: str) -> Call:
        """A new call, ``cid#2`` (``#3``…), for the agent's ``cid``, whose call has finished and is asked
        about again: it keeps what the call is (its title, its input), not how it went, and the agent's
        later updates of ``cid`` go to it."""
        old = self.get(cid)
        n = 2
        while f"{cid}#{n}" in self.calls:
            n += 1
        new = self.calls[f"{cid}#{n}"] = Call(f"{cid}#{n}")
        if old is not None:
            new.fields = {k: v for k, v in old.fields.items() if k in _KEPT}
        self.renamed[cid] = new.call_id
        return new

    def _tool(self, update: dict[str, Any]) -> list[Event]:
        c = self.call(update)
        if c is None:
            return []
        status = c.fields.get("status")
        out: list[Event] = []
        if not c.started and (update.get("rawInput") not in (None, {}) or status not in (None, "pending")):
            out += self.start(c)
        if status in ("completed", "failed") and not c.finished:
            out += self.start(c) + self._finish(c, status)
        return out

    def start(self, c: Call) -> list[Event]:
        """``tool.started`` for ``c``, once."""
        if c.started:
            return []
        c.started = True
        data: ToolStartedData = {"call_id": c.call_id, "name": c.name, "input": c.input}
        return [make_event(f"tool:{c.call_id}:started", self.session, Kind.TOOL_STARTED, data)]

    def _finish(self, c: Call, status: str) -> list[Event]:
        c.finished = True
        output = _output(c.fields)
        failed = status == "failed"
        data: ToolFinishedData = {"call_id": c.call_id, "output": output, "is_error": failed,
                                  "status": "error" if failed else "ok"}
        if isinstance(output, str) and len(output) > MAX_OUTPUT:
            data["output"] = output[:MAX_OUTPUT]
            data["truncated"] = len(output) - MAX_OUTPUT
        return [make_event(f"tool:{c.call_id}:finished", self.session, Kind.TOOL_FINISHED, data)]

    def deny_unreported(self, denied: dict[str, str]) -> list[Event]:
        """``tool.finished`` (denied, the person's reason as output) for each denied call the agent left open."""
        out: list[Event] = []
        for c in self.unfinished():
            if c.call_id in denied:
                c.finished = True
                data: ToolFinishedData = {"call_id": c.call_id, "status": "denied", "is_error": True,
                                          "output": denied[c.call_id] or None}
                out.append(make_event(f"tool:{c.call_id}:finished", self.session, Kind.TOOL_FINISHED, data))
        return out

    def unfinished(self) -> list[Call]:
        return [c for c in self.calls.values() if c.started and not c.finished]

    # --- the rest -------------------------------------------------------------------------

    def _plan(self, entries: Any) -> list[Event]:
        if not isinstance(entries, list):
            return []
        marks = {"completed": "[x]", "in_progress": "[~]"}
        lines = [f"{marks.get(str(e.get('status')), '[ ]')} {e.get('content', '')}"
                 for e in entries if isinstance(e, dict)]
        data: NoticeData = {"level": "info", "text": "plan:\n" + "\n".join(lines), "code": "plan"}
        return [make_event(self._id("plan"), self.session, Kind.NOTICE, data)]

    def _context(self, update: dict[str, Any]) -> list[Event]:
        used, size = update.get("used"), update.get("size")
        cost = update.get("cost")
        amount = cost.get("amount") if isinstance(cost, dict) and cost.get("currency") == "USD" else None
        text = f"context {used}/{size} tokens" + (f", ${amount:.4f} so far" if isinstance(amount, float) else "")
        data: NoticeData = {"level": "info", "text": text, "code": "context"}
        return [make_event(self._id("context"), self.session, Kind.NOTICE, data)]

    def turn_usage(self, usage: dict[str, Any] | None, turn: int) -> list[Event]:
        """The usage a ``session/prompt`` result reports for its turn (once per turn)."""
        if not isinstance(usage, dict):
            return []
        data: UsageData = {"model": self.model, "input_tokens": _tokens(usage.get("inputTokens")),
                           "output_tokens": _tokens(usage.get("outputTokens")),
                           "cache_read_tokens": _tokens(usage.get("cachedReadTokens")),
                           "cache_creation_tokens": _tokens(usage.get("cachedWriteTokens")),
                           "reasoning_tokens": _tokens(usage.get("thoughtTokens"))}
        return [make_event(f"acp:{self.session}:turn{turn}:usage", self.session, Kind.USAGE, data)]


def _tokens(value: Any) -> int:
    """A token count as the agent wrote it; 0 for anything that is not a finite, positive number."""
    n = finite(value)
    return int(n) if n is not None and n > 0 else 0


def claude_code_meta(meta: Any) -> dict[str, Any]:
    """``_meta.claudeCode`` (the Claude Code adapter's extras), or {} when it is missing or not an object."""
    found = meta.get("claudeCode") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def quota_usage(meta: Any) -> dict[str, Any] | None:
    """A turn's usage from ``_meta.quota.token_count``, where an agent without ``usage`` reports it (Gemini CLI)."""
    quota = meta.get("quota") if isinstance(meta, dict) else None
    count = quota.get("token_count") if isinstance(quota, dict) else None
    if not isinstance(count, dict):
        return None
    return {"inputTokens": count.get("input_tokens"), "outputTokens": count.get("output_tokens")}


def _text(block: Any) -> str:
    if isinstance(block, dict):
        if block.get("type") == "text":
            return str(block.get("text") or "")
        if block.get("type") == "resource_link":
            return f"[{block.get('name') or block.get('uri')}]"
    return ""


def _output(fields: dict[str, Any]) -> Any:
    """What the call gave: its content's text and diffs, else its ``rawOutput``."""
    parts: list[str] = []
    for item in fields.get("content") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "diff":
            parts.append(_diff(item))
        elif item.get("type") == "content":
            parts.append(_text(item.get("content")))
        elif item.get("type") == "terminal":
            parts.append(f"[terminal {item.get('terminalId')}]")
    raw = fields.get("rawOutput")
    text = "\n".join(p for p in parts if p)
    if raw is None:
        return text or None
    if isinstance(raw, str) and (not text or raw in text):
        return raw
    return raw if not text else f"{text}\n{raw}" if isinstance(raw, str) else raw


def _diff(item: dict[str, Any]) -> str:
    import difflib

    path = str(item.get("path") or "")
    old = str(item.get("oldText") or "").splitlines()
    new = str(item.get("newText") or "").splitlines()
    return "\n".join(difflib.unified_diff(old, new, f"a/{path}", f"b/{path}", lineterm=""))
