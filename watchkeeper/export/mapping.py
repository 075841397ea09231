"""Protocol events folded into OTel GenAI spans: one trace per session, spans handed out as they end.

Per session: an ``invoke_agent`` span for the main agent and one for each
subagent (under the ``execute_tool`` span of the Task/Agent call that started
it); a ``chat`` span per model call (its ``usage``, ended by the agent's next
step); an ``execute_tool {name}`` span per tool call; holds and steering
controls as span events. A sub-agent's own session (a Codex child thread) goes
into its parent's trace. Ids come from ``ids`` (the session id, call ids,
message ids), never from chance. Records are plain data (``records``): ``otlp``
turns them into the SDK's spans, so this module needs no OpenTelemetry.

Content (arguments, results, deny reasons, injected text, prompts) is left out
unless a ``Content`` limit is given; then it is cut to that many characters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..protocol import Event
from ..protocol.envelope import parse_ts
from ..protocol.kinds import MAIN_AGENT, Kind
from .ids import agent_span_id, chat_span_id, tool_span_id, trace_id
from .records import CLIENT, INTERNAL, LATEST_NS, Content, SpanRecord, otlp_time
from .spans import CallTellers, OpenChat, OpenSpan, SessionSpans

__all__ = ["CLIENT", "INTERNAL", "Content", "SpanMapper", "SpanRecord"]

#: ``gen_ai.provider.name`` by agent kind; the others (``acp``, ``sdk``) do not say whose model they run: none.
PROVIDERS = {"claude-code": "anthropic", "codex": "openai"}
#: ``error.type`` of a tool call by its final status.
ERROR_TYPES = {"error": "tool_error", "denied": "denied", "interrupted": "interrupted"}
def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


#: Out-of-range times a session span names (``watchkeeper.times_out_of_range``); ``….count`` counts the events.
OUT_OF_RANGE_SHOWN = 16


def ns(ts: str | None, fallback: int) -> int:
    """Nanoseconds since 1970, within OTLP's range: 0 (no time: the mapping places the event at the one
    before) for a time not after 1970, ``LATEST_NS`` for one past it."""
    t = parse_ts(ts)
    return fallback if t is None else otlp_time(int(t * 1e9))


def _out_of_range(s: SessionSpans, ts: str | None, at: int) -> None:
    """Say a time OTLP cannot carry on the session's span: year 1 or 9999 in a transcript is shown, and the
    session's other spans are sent at the times they can have."""
    if (at == 0 or at == LATEST_NS) and (t := parse_ts(ts)) is not None and not 0 < t * 1e9 < LATEST_NS:
        attrs = s.root.record.attributes
        shown = attrs.setdefault("watchkeeper.times_out_of_range", [])
        if len(shown) < OUT_OF_RANGE_SHOWN and ts not in shown:
            shown.append(str(ts))
        attrs["watchkeeper.times_out_of_range.count"] = attrs.get("watchkeeper.times_out_of_range.count", 0) + 1


class SpanMapper:
    """Feed it events (any sessions, in each session's order); it returns the spans that ended.

    ``close_session`` / ``close_all`` end what is still open: at a session's end,
    at the end of a one-shot export, or at shutdown (``incomplete``: those spans
    carry ``watchkeeper.incomplete = true``).
    """

    def __init__(self, content: Content | None = None) -> None:
        self.content = content
        self.sessions: dict[str, SessionSpans] = {}
        self._settled: set[str] = set()
        #: sub-agent session -> its parent's, kept should the session be closed and open again.
        self._parents: dict[str, str] = {}
        self._tellers = CallTellers()

    def feed(self, events: Iterable[Event]) -> list[SpanRecord]:
        out: list[SpanRecord] = []
        for ev in events:
            sid = ev.get("session")
            if not isinstance(sid, str) or not sid:
                continue
            s = self.sessions.get(sid)
            at = ns(ev.get("ts"), 0)
            if s is None:
                if ev.get("kind") in (Kind.NOTICE, Kind.RAW):
                    continue
                s = self.sessions[sid] = SessionSpans(sid, at)
                if sid in self._parents:
                    self._nest(s, self._parents[sid])
            _out_of_range(s, ev.get("ts"), at)
            if not at:
                at = s.last_ns
            elif s.root.record.start_ns == 0 or at < s.root.record.start_ns:
                s.root.record.start_ns = at
            s.last_ns = max(s.last_ns, at)
            data = ev.get("data")
            self._one(s, ev, at, data if isinstance(data, dict) else {}, out)
        return out

    # --- one event ---------------------------------------------------------

    def _one(self, s: SessionSpans, ev: Event, at: int, data: dict[str, Any], out: list[SpanRecord]) -> None:
        kind = ev.get("kind")
        agent = ev.get("agent") or MAIN_AGENT
        if agent != MAIN_AGENT:
            if kind not in (Kind.AGENT_STARTED, Kind.AGENT_FINISHED):
                s.agents_seen.add(agent)
            if agent not in s.agents_sent:
                self._agent(s, agent, at)
        if kind == Kind.SESSION_STARTED:
            s.agent_kind = str(data.get("agent_kind") or s.agent_kind)
            s.model = data.get("model") or s.model
            s.title = data.get("title") or s.title
            parent = data.get("parent_session")
            if isinstance(parent, str) and parent and parent != s.id:
                self._nest(s, parent)
        elif kind == Kind.USAGE:
            self._usage(s, ev, agent, at, data, out)
        elif kind == Kind.MESSAGE_ASSISTANT:
            s.model = s.model or data.get("model")
        elif kind == Kind.MESSAGE_USER:
            self._end_chats(s, agent, out)
            s.input_ns[agent] = at
            if self.content is not None and data.get("origin") == "injected":
                self._on_agent_span(s, agent).event("watchkeeper.injected", at,
                                                    {"watchkeeper.text": self.content.text(data.get("text", ""))})
        elif kind == Kind.TOOL_STARTED:
            self._tool_started(s, agent, at, data)
        elif kind == Kind.TOOL_WAITING:
            self._tool_waiting(s, agent, at, data)
        elif kind == Kind.TOOL_FINISHED:
            self._end_chats(s, agent, out)
            self._tool_finished(s, agent, at, data, out)
            s.input_ns[agent] = at
        elif kind == Kind.AGENT_STARTED:
            self._agent_started(s, at, data)
        elif kind == Kind.AGENT_FINISHED:
            self._agent_finished(s, str(data.get("agent_id") or agent), at, data, out)
        elif kind in (Kind.CONTROL_APPLIED, Kind.CONTROL_REJECTED):
            self._control(s, agent, at, kind, data)
        elif kind == Kind.STATE and data.get("state") in ("idle", "finished"):
            self._end_chats(s, agent, out)
        elif kind == Kind.SESSION_ENDED:
            out += self.close_session(s.id, incomplete=False)

    def _provider(self, s: SessionSpans) -> dict[str, str]:
        provider = PROVIDERS.get(s.agent_kind)
        return {"gen_ai.provider.name": provider} if provider else {}

    # --- chat spans --------------------------------------------------------

    def _usage(self, s: SessionSpans, ev: Event, agent: str, at: int, data: dict[str, Any],
               out: list[SpanRecord]) -> None:
        s.usage.fold(data)  # type: ignore[arg-type]
        if data.get("cumulative"):
            return
        key = str(data.get("message_id") or ev.get("id"))
        if key in s.chats_sent:
            return
        counts = [_count(data.get(k)) for k in
                  ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens")]
        if agent in s.finished:
            self._settled.add(s.id)
        chat = s.chats.get(key)
        if chat is None:
            self._end_chats(s, agent, out)
            start = min(s.input_ns.get(agent, at), at)
            s.chats[key] = OpenChat(key, agent, start, at, data.get("model"), data.get("message_id"), counts)
            return
        chat.end_ns = max(chat.end_ns, at)
        chat.model = chat.model or data.get("model")
        chat.counts = [a + b for a, b in zip(chat.counts, counts, strict=True)]

    def _end_chats(self, s: SessionSpans, agent: str | None, out: list[SpanRecord]) -> None:
        """Send the model calls of ``agent`` (None: of every agent) whose usage is complete."""
        for key in [k for k, c in s.chats.items() if agent is None or c.agent == agent]:
            chat = s.chats.pop(key)
            s.chats_sent.add(key)
            s.input_ns[chat.agent] = chat.end_ns
            inp, outp, cread, ccreate, reasoning = chat.counts
            model = chat.model or s.model
            attrs: dict[str, Any] = {
                "gen_ai.operation.name": "chat",
                **self._provider(s),
                "gen_ai.conversation.id": s.id,
                # The protocol counts input without the cache (as Anthropic does); OTel's includes it.
                "gen_ai.usage.input_tokens": inp + cread + ccreate,
                "gen_ai.usage.output_tokens": outp,
                "gen_ai.usage.cache_read.input_tokens": cread,
                "gen_ai.usage.cache_creation.input_tokens": ccreate,
            }
            if reasoning:
                attrs["gen_ai.usage.reasoning.output_tokens"] = reasoning
            if model:
                attrs["gen_ai.request.model"] = model
            if chat.response_id:
                attrs["gen_ai.response.id"] = chat.response_id
            out.append(SpanRecord(s.trace, chat_span_id(s.id, key), self._agent_id(s, chat.agent),
                                  f"chat {model}" if model else "chat", CLIENT, chat.start_ns, chat.end_ns, attrs))

    # --- tool spans --------------------------------------------------------

    def _tool_started(self, s: SessionSpans, agent: str, at: int, data: dict[str, Any]) -> None:
        call_id = data.get("call_id")
        if (not isinstance(call_id, str) or call_id in s.tools
                or not self._tellers.has_span(s, s.id in self._parents, agent, call_id)):
            return
        name = str(data.get("name") or "tool")
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "extension" if data.get("server") else "function",
        }
        if self.content is not None and "input" in data:
            attrs["gen_ai.tool.call.arguments"] = self.content.json(data.get("input"))
        s.tools[call_id] = OpenSpan(SpanRecord(s.trace, tool_span_id(s.id, call_id), self._agent_id(s, agent),
                                            f"execute_tool {name}", INTERNAL, at, at, attrs))

    def _tool_waiting(self, s: SessionSpans, agent: str, at: int, data: dict[str, Any]) -> None:
        call_id = data.get("call_id")
        if isinstance(call_id, str) and call_id not in s.tools:
            self._tool_started(s, agent, at, data)
        span = self._tool_span(s, call_id)
        if span is not None:
            attrs = {"watchkeeper.why": str(data.get("why") or data.get("reason") or "")}
            if data.get("rule"):
                attrs["watchkeeper.rule"] = str(data["rule"])
            span.event("watchkeeper.hold", at, attrs)

    def _tool_finished(self, s: SessionSpans, agent: str, at: int, data: dict[str, Any], out: list[SpanRecord]) -> None:
        call_id = data.get("call_id")
        if not isinstance(call_id, str):
            return
        span = s.tools.pop(call_id, None)
        if span is None:
            # Its start was not seen (dropped, or before what was read): it began duration_ms earlier.
            duration = data.get("duration_ms")
            start = at - int(duration * 1e6) if isinstance(duration, int | float) and 0 < duration < math.inf else at
            self._tool_started(s, agent, start, {"call_id": call_id, "name": data.get("name")})
            span = s.tools.pop(call_id, None)
            if span is None:
                return  # another session of the trace has its span
        rec = span.record
        rec.end_ns = max(at, rec.start_ns)
        status = str(data.get("status") or ("error" if data.get("is_error") else "ok"))
        rec.attributes["watchkeeper.tool.status"] = status
        error_type = ERROR_TYPES.get(status)
        if error_type is None and data.get("is_error"):
            error_type = "tool_error"
        if error_type is not None:
            rec.attributes["error.type"] = error_type
            rec.error = ""
        if isinstance(data.get("exit_code"), int):
            rec.attributes["watchkeeper.tool.exit_code"] = data["exit_code"]
        if self.content is not None and data.get("output") is not None:
            rec.attributes["gen_ai.tool.call.result"] = self.content.text(data.get("output"))
            if error_type is not None:
                rec.error = self.content.text(data.get("output"))[:256]
        out.append(self._finish(span))

    def _tool_span(self, s: SessionSpans, call_id: Any) -> OpenSpan | None:
        """The call's open span: this session's, or that of the session of the trace that tells it."""
        if not isinstance(call_id, str):
            return None
        span = s.tools.get(call_id)
        if span is None and (teller := self.sessions.get(self._tellers.teller(s.trace, call_id) or "")):
            span = teller.tools.get(call_id)
        return span

    # --- agents ------------------------------------------------------------

    def _agent_id(self, s: SessionSpans, agent: str) -> int:
        return s.root.record.span_id if agent == MAIN_AGENT else agent_span_id(s.id, agent)

    def _on_agent_span(self, s: SessionSpans, agent: str) -> OpenSpan:
        """Where an event about ``agent`` goes: its own span while open, else the session's."""
        return s.agents.get(agent, s.root) if agent != MAIN_AGENT else s.root

    def _agent(self, s: SessionSpans, agent: str, at: int, parent_call: str | None = None) -> OpenSpan:
        span = s.agents.get(agent)
        if span is None:
            parent = s.root.record.span_id
            attrs: dict[str, Any] = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": agent,
                                     "gen_ai.conversation.id": s.id}
            span = s.agents[agent] = OpenSpan(SpanRecord(s.trace, agent_span_id(s.id, agent), parent,
                                                      "invoke_agent", INTERNAL, at, at, attrs))
        rec = span.record
        rec.start_ns = min(rec.start_ns, at)
        rec.end_ns = max(rec.end_ns, at)
        if parent_call:
            rec.parent_id = tool_span_id(s.id, parent_call)
            rec.attributes["watchkeeper.parent_call_id"] = parent_call
        return span

    def _agent_started(self, s: SessionSpans, at: int, data: dict[str, Any]) -> None:
        agent = data.get("agent_id")
        if not isinstance(agent, str) or agent == MAIN_AGENT:
            return
        parent_call = data.get("parent_call_id")
        span = self._agent(s, agent, at, parent_call if isinstance(parent_call, str) else None)
        kind = data.get("agent_type")
        if kind:
            span.record.attributes["gen_ai.agent.name"] = str(kind)
            span.record.name = f"invoke_agent {kind}"
        if self.content is not None and data.get("description"):
            span.record.attributes["gen_ai.agent.description"] = self.content.text(data["description"])

    def _agent_finished(self, s: SessionSpans, agent: str, at: int, data: dict[str, Any],
                        out: list[SpanRecord]) -> None:
        if agent == MAIN_AGENT or agent in s.agents_sent:
            return
        span = self._agent(s, agent, at)
        if data.get("status"):
            span.record.attributes["watchkeeper.agent.status"] = str(data["status"])
        # A transcript read whole lists a subagent's records after its finish (another file): its span
        # waits for the session's end then. Live, its work came first and it ends here.
        if agent in s.agents_seen:
            self._end_chats(s, agent, out)
            out.append(self._send_agent(s, agent))
        else:
            s.finished.add(agent)

    def _send_agent(self, s: SessionSpans, agent: str) -> SpanRecord:
        s.agents_sent.add(agent)
        span = s.agents.pop(agent)
        span.record.attributes.update(self._provider(s))
        return self._finish(span)

    def _nest(self, s: SessionSpans, parent: str) -> None:
        """Into the parent's trace, under its span for this sub-agent: ids that need nothing of the parent's."""
        self._parents[s.id] = parent
        s.trace = trace_id(parent)
        for span in (s.root, *s.tools.values(), *s.agents.values()):
            span.record.trace_id = s.trace
        s.root.record.parent_id = agent_span_id(parent, s.id)
        s.root.record.attributes["watchkeeper.parent_session"] = parent

    def _control(self, s: SessionSpans, agent: str, at: int, kind: str, data: dict[str, Any]) -> None:
        attrs: dict[str, Any] = {
            "watchkeeper.control": str(data.get("control") or ""),
            "watchkeeper.decision": "applied" if kind == Kind.CONTROL_APPLIED else "rejected",
        }
        for key, name in (("by", "watchkeeper.actor"), ("control_id", "watchkeeper.control.id")):
            if data.get(key):
                attrs[name] = str(data[key])
        if self.content is not None:
            for key in ("text", "message", "reason"):
                if data.get(key):
                    attrs[f"watchkeeper.{key}"] = self.content.text(data[key])
        span = self._tool_span(s, data.get("call_id"))
        (span or self._on_agent_span(s, agent)).event(f"watchkeeper.control.{attrs['watchkeeper.decision']}", at,
                                                      attrs)

    # --- ending ------------------------------------------------------------

    def _finish(self, span: OpenSpan, incomplete: bool = False) -> SpanRecord:
        rec = span.record
        if incomplete:
            rec.attributes["watchkeeper.incomplete"] = True
        if span.dropped_events:
            rec.attributes["watchkeeper.dropped_events"] = span.dropped_events
        return rec

    def close_session(self, session: str, *, incomplete: bool) -> list[SpanRecord]:
        """End everything of one session still open; ``incomplete`` marks the session span (and open calls)."""
        s = self.sessions.pop(session, None)
        if s is None:
            return []
        if session not in self._parents:
            self._tellers.forget(s.trace)
        out: list[SpanRecord] = []
        self._end_chats(s, None, out)
        for call_id in list(s.tools):
            span = s.tools.pop(call_id)
            span.record.end_ns = max(s.last_ns, span.record.start_ns)
            out.append(self._finish(span, incomplete=True))
        for agent in list(s.agents):
            out.append(self._send_agent(s, agent))
        root = s.root.record
        root.end_ns = max(s.last_ns, root.start_ns)
        root.name = f"invoke_agent {s.agent_kind}"
        tokens = s.usage.tokens
        root.attributes.update({
            "gen_ai.operation.name": "invoke_agent",
            **self._provider(s),
            "gen_ai.agent.name": s.agent_kind,
            "gen_ai.agent.id": s.id,
            "gen_ai.conversation.id": s.id,
            "gen_ai.usage.input_tokens": tokens[0] + tokens[2] + tokens[3],
            "gen_ai.usage.output_tokens": tokens[1],
            "gen_ai.usage.cache_read.input_tokens": tokens[2],
            "gen_ai.usage.cache_creation.input_tokens": tokens[3],
        })
        if s.model:
            root.attributes["gen_ai.request.model"] = s.model
        if self.content is not None and s.title:
            root.attributes["watchkeeper.session.title"] = self.content.text(s.title)
        out.append(self._finish(s.root, incomplete=incomplete))
        return out

    def end_chats(self, session: str) -> list[SpanRecord]:
        """End the session's open model calls: live, after minutes of quiet (an agent stopped mid-call). Not
        sooner: older Claude Code versions write one call's usage over lines seconds apart; its next step ends it."""
        out: list[SpanRecord] = []
        if (s := self.sessions.get(session)) is not None:
            self._end_chats(s, None, out)
        return out

    def end_settled_chats(self) -> list[SpanRecord]:
        """Live, after each batch: a subagent that finished before its records came (its file complete) is done."""
        out: list[SpanRecord] = []
        for sid in self._settled:
            if (s := self.sessions.get(sid)) is not None:
                for agent in s.finished:
                    self._end_chats(s, agent, out)
        self._settled.clear()
        return out

    def close_all(self, *, incomplete: bool) -> list[SpanRecord]:
        out: list[SpanRecord] = []
        for session in list(self.sessions):
            out += self.close_session(session, incomplete=incomplete)
        return out

    def open_calls(self, session: str) -> int:
        s = self.sessions.get(session)
        return len(s.tools) if s else 0
