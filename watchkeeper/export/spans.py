"""What the span mapping keeps between events: spans begun and not yet sent, per session, and which
session of a trace tells each call.

Plain data for ``mapping``: nothing here decides what a span is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol.kinds import MAIN_AGENT
from ..protocol.usage import UsageTally
from .ids import agent_span_id, trace_id
from .records import INTERNAL, SpanRecord

#: Span events kept on one span (holds and controls); more are counted, not kept.
MAX_SPAN_EVENTS = 128


@dataclass(slots=True)
class OpenSpan:
    """A span begun and not yet sent."""

    record: SpanRecord
    dropped_events: int = 0

    def event(self, name: str, at: int, attrs: dict[str, Any]) -> None:
        if len(self.record.events) < MAX_SPAN_EVENTS:
            self.record.events.append((name, at, attrs))
        else:
            self.dropped_events += 1


@dataclass(slots=True)
class OpenChat:
    """A model call whose usage may still grow."""

    key: str
    agent: str
    start_ns: int
    end_ns: int
    model: str | None
    response_id: str | None
    counts: list[int]


class SessionSpans:
    """What one session's spans need between events."""

    def __init__(self, session: str, now_ns: int) -> None:
        self.id = session
        self.trace = trace_id(session)
        self.agent_kind = "unknown"
        self.model: str | None = None
        self.title: str | None = None
        self.root = OpenSpan(SpanRecord(self.trace, agent_span_id(session, MAIN_AGENT), None, "invoke_agent",
                                        INTERNAL, now_ns, now_ns, {}))
        self.last_ns = now_ns
        self.usage = UsageTally()
        self.tools: dict[str, OpenSpan] = {}
        self.agents: dict[str, OpenSpan] = {}
        self.agents_seen: set[str] = set()
        self.agents_sent: set[str] = set()
        #: when each agent last received input (a prompt, a tool result): where its next model call starts.
        self.input_ns: dict[str, int] = {}
        self.chats: dict[str, OpenChat] = {}
        self.chats_sent: set[str] = set()
        #: subagents whose finish came before their own records (live, their file is read after the result).
        self.finished: set[str] = set()
        self.ended = False


class CallTellers:
    """Per trace, which session has each call's span, for calls that two sessions of one trace tell.

    Steered, a Codex sub-agent's call is told by its hooks, which come with the parent's session id (so a
    pause of the session the person sees holds it), and by the sub-agent's own rollout, a session that
    goes into its parent's trace: the first session to tell the call has its span, the other adds nothing.
    Only calls that can be told twice are kept (a sub-agent's in a top-level session, any in a nested
    one), and a trace's go when its top-level session closes.
    """

    def __init__(self) -> None:
        self._by_trace: dict[int, dict[str, str]] = {}

    def has_span(self, s: SessionSpans, nested: bool, agent: str, call_id: str) -> bool:
        """Whether ``s`` has (or now takes) the call's span."""
        if not nested and agent == MAIN_AGENT:
            return True
        return self._by_trace.setdefault(s.trace, {}).setdefault(call_id, s.id) == s.id

    def teller(self, trace: int, call_id: str) -> str | None:
        """The session that has the call's span, if another may tell it too."""
        return self._by_trace.get(trace, {}).get(call_id)

    def forget(self, trace: int) -> None:
        self._by_trace.pop(trace, None)
