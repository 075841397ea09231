"""A session's state, folded from its events one at a time: the one fold every reader uses.

The relay's session list (``SessionInfo``), the viewer's status bar and its
controls all read this, so they agree on a session's title, model, tokens,
cost, state and the calls held for the person. Pure: an event in, the state
updated in place. Kinds that say nothing about the session as a whole cost a
count and a timestamp compare, because this runs once per event on the relay's
hot path.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .controls import released
from .envelope import Event
from .kinds import MAIN_AGENT, WHY_OF_REASON, ControlKind, HoldWhy, Kind, OnExpiry, State
from .payloads import (
    ControlOutcomeData,
    MessageAssistantData,
    MessageUserData,
    RawData,
    SessionEndedData,
    SessionStartedData,
    StateData,
    ToolFinishedData,
    ToolWaitingData,
    UsageData,
)
from .usage import UsageTally

TITLE_MAX = 200


#: Finished call ids a session's state remembers (``SessionState.finished``).
FINISHED_KEPT = 10_000

@dataclass(frozen=True, slots=True)
class Held:
    """A tool call held for the person."""

    call_id: str
    name: str | None
    input: Any
    reason: str | None
    rule: str | None
    agent: str = MAIN_AGENT
    #: pause, step, breakpoint, approval or permission (``HoldWhy``); from ``reason`` for older peers.
    why: str = HoldWhy.PAUSE
    #: when the hold began (ISO-8601).
    since: str | None = None
    #: when the hold ends by itself (ISO-8601); None: it waits for the person.
    expires_at: str | None = None
    #: what happens then: ``continue`` (the agent's own rules apply) or ``deny``.
    on_expiry: str | None = None
    #: what "always allow" would add to the agent's rules, verbatim; None: no such choice.
    always_rule: str | None = None
    #: an ACP agent's own answers (``id``, ``name``, ``kind``); None: not an ACP permission request.
    options: tuple[dict[str, str], ...] | None = None

    def option_of(self, kind: str) -> dict[str, str] | None:
        """The agent's option of ``kind``; None when it offers none (or is not asked by options)."""
        return next((o for o in self.options or () if o["kind"] == kind), None)

    def describe(self) -> str:
        """The reason for the person: ``breakpoint «rule»``, ``permission``, ``paused``…"""
        if self.why == HoldWhy.BREAKPOINT and self.rule:
            return f"breakpoint «{self.rule}»"
        if self.why == HoldWhy.PERMISSION:
            return "needs permission"
        return self.reason or str(self.why)

    def expiry_text(self) -> str | None:
        """What happens at expiry, for a countdown: "goes on under the agent's own rules"."""
        if self.expires_at is None:
            return None
        return "is denied" if self.on_expiry == OnExpiry.DENY else "goes on under the agent's own rules"


@dataclass(slots=True)
class SessionState:
    """What a session's stream has said about the session so far."""

    events: int = 0
    raw: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    agent_kind: str | None = None
    title: str | None = None
    #: the title came with ``session.started``: a prompt does not replace it.
    title_from_start: bool = False
    cwd: str | None = None
    model: str | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    usage: UsageTally = field(default_factory=UsageTally)
    #: the last state reported (None: none yet), ``waiting`` while a call is held.
    state: str | None = None
    paused: bool = False
    step: bool = False
    #: call id -> the held call, oldest first.
    held: dict[str, Held] = field(default_factory=dict)
    #: queue id -> a prompt queued for the agent and not yet delivered, oldest first.
    queued: dict[str, str] = field(default_factory=dict)
    #: the newest ``FINISHED_KEPT`` calls that finished (oldest first): a late ``tool.waiting`` (another
    #: source's copy, seconds late at most) does not hold them again; bounded for sessions that run for days.
    #: An ``OrderedDict``: dropping a plain dict's oldest key (``next(iter(d))``) scans the deleted slots
    #: before it, ~3 µs a call once thousands were dropped.
    finished: OrderedDict[str, None] = field(default_factory=OrderedDict, repr=False)

    def fold(self, ev: Event) -> bool:
        """Fold one event in; True if what the controls show (pause, step, held calls) changed."""
        self.events += 1
        ts = ev.get("ts")
        if isinstance(ts, str):
            last = self.last_ts
            if last is None:
                self.first_ts = self.last_ts = ts
            elif ts > last:
                self.last_ts = ts
        handler = _HANDLERS.get(ev.get("kind", ""))
        if handler is None:
            return False
        data = ev.get("data")
        return handler(self, ev, data if isinstance(data, dict) else {})

    def fold_all(self, events: list[Event]) -> bool:
        """:meth:`fold` each, in order, in one pass (a history of a million events); True if any changed."""
        changed = False
        last, handlers = self.last_ts, _HANDLERS
        for ev in events:
            ts = ev.get("ts")
            if isinstance(ts, str) and (last is None or ts > last):
                if last is None:
                    self.first_ts = ts
                last = self.last_ts = ts
            handler = handlers.get(ev.get("kind", ""))
            if handler is not None:
                data = ev.get("data")
                changed |= handler(self, ev, data if isinstance(data, dict) else {})
                last = self.last_ts
        self.events += len(events)
        return changed

    def copy(self) -> SessionState:
        """A copy to fold on apart from this one (what a fold changes in place is copied)."""
        return replace(self, capabilities=dict(self.capabilities), usage=self.usage.copy(), held=dict(self.held),
                       queued=dict(self.queued), finished=OrderedDict(self.finished))

    @property
    def oldest(self) -> Held | None:
        return next(iter(self.held.values()), None)

    @property
    def tokens(self) -> tuple[int, int, int, int]:
        """(input, output, cache read, cache creation)."""
        return self.usage.tokens

    @property
    def cost_usd(self) -> float | None:
        return self.usage.cost_usd

    def _hold(self, held: Held) -> None:
        self.held[held.call_id] = held
        if self.state in (None, State.RUNNING, State.IDLE):
            self.state = State.WAITING

    def _let_go(self, call_id: str) -> bool:
        if self.held.pop(call_id, None) is None:
            return False
        if not self.held and self.state == State.WAITING:
            self.state = State.RUNNING
        return True


def _session_started(s: SessionState, ev: Event, data: SessionStartedData) -> bool:
    if isinstance(data.get("agent_kind"), str):
        s.agent_kind = data["agent_kind"]
    if data.get("title"):
        s.title = str(data["title"])
        s.title_from_start = True
    s.cwd = data.get("cwd") or s.cwd
    s.model = data.get("model") or s.model
    caps = data.get("capabilities")
    if isinstance(caps, dict):
        s.capabilities = merge_capabilities(s.capabilities, caps)
    return False


def _session_ended(s: SessionState, ev: Event, data: SessionEndedData) -> bool:
    s.state = State.FINISHED
    changed = bool(s.held or s.queued)
    for cid in s.held:
        _mark_finished(s, cid)
    s.held.clear()
    s.queued.clear()
    return changed


def _message_user(s: SessionState, ev: Event, data: MessageUserData) -> bool:
    qid = data.get("queue_id")
    if data.get("origin") == "queued":
        if isinstance(qid, str):
            s.queued[qid] = str(data.get("text") or "")
            return True
        return False
    if s.title is None and not s.title_from_start:
        s.title = title_from_text(data.get("text"))
    return isinstance(qid, str) and s.queued.pop(qid, None) is not None


def _message_assistant(s: SessionState, ev: Event, data: MessageAssistantData) -> bool:
    if isinstance(data.get("model"), str):
        s.model = data["model"]
    return False


def _usage(s: SessionState, ev: Event, data: UsageData) -> bool:
    s.usage.fold(data)
    if s.model is None and isinstance(data.get("model"), str):
        s.model = data["model"]
    return False


def _state(s: SessionState, ev: Event, data: StateData) -> bool:
    if isinstance(data.get("state"), str):
        s.state = data["state"]
    return False


def _raw(s: SessionState, ev: Event, data: RawData) -> bool:
    s.raw += 1
    return False


def held_from(ev: Event, data: ToolWaitingData) -> Held | None:
    """The call a ``tool.waiting`` event holds (None without a call id); the relay's alerts read it too."""
    cid = data.get("call_id")
    if not isinstance(cid, str):
        return None
    reason = data.get("reason") if isinstance(data.get("reason"), str) else None
    why = data.get("why")
    if not isinstance(why, str) or not why:
        why = WHY_OF_REASON.get(reason or "", HoldWhy.PAUSE)
    expires = data.get("expires_at")
    always = data.get("always_rule")
    return Held(cid, data.get("name"), data.get("input"), reason, data.get("rule"),
                str(ev.get("agent") or MAIN_AGENT), str(why), data.get("since") or ev.get("ts"),
                expires if isinstance(expires, str) else None, data.get("on_expiry"),
                always if isinstance(always, str) else None, _options(data.get("options")))


def _options(given: Any) -> tuple[dict[str, str], ...] | None:
    """A peer's option list, kept only as well-formed string fields (it is shown and sent back by id)."""
    if not isinstance(given, list):
        return None
    return tuple({"id": o["id"], "name": o.get("name") if isinstance(o.get("name"), str) else o["id"],
                  "kind": o["kind"]} for o in given
                 if isinstance(o, dict) and isinstance(o.get("id"), str) and isinstance(o.get("kind"), str))


def _waiting(s: SessionState, ev: Event, data: ToolWaitingData) -> bool:
    held = held_from(ev, data)
    if held is None or held.call_id in s.finished:
        return False
    s._hold(held)
    return True


def _finished(s: SessionState, ev: Event, data: ToolFinishedData) -> bool:
    cid = data.get("call_id")
    if not isinstance(cid, str):
        return False
    _mark_finished(s, cid)
    return s._let_go(cid)


def _mark_finished(s: SessionState, cid: str) -> None:
    finished = s.finished
    finished[cid] = None
    if len(finished) > FINISHED_KEPT:
        finished.popitem(last=False)


def _applied(s: SessionState, ev: Event, data: ControlOutcomeData) -> bool:
    control = data.get("control")
    changed = False
    if control == ControlKind.PAUSE:
        changed, s.paused = not s.paused, True
    elif control == ControlKind.RESUME:
        changed, s.paused, s.step = s.paused or s.step, False, False
    elif control == ControlKind.STEP:
        changed, s.step = not s.step, True
    for cid in released(data):
        changed |= s._let_go(cid)
    return changed


#: kind -> its handler, which reads ``data`` as the kind's payload (``payloads.py``).
_HANDLERS: dict[str, Callable[[SessionState, Event, Any], bool]] = {
    Kind.SESSION_STARTED: _session_started,
    Kind.SESSION_ENDED: _session_ended,
    Kind.MESSAGE_USER: _message_user,
    Kind.MESSAGE_ASSISTANT: _message_assistant,
    Kind.USAGE: _usage,
    Kind.STATE: _state,
    Kind.RAW: _raw,
    Kind.TOOL_WAITING: _waiting,
    Kind.TOOL_FINISHED: _finished,
    Kind.CONTROL_APPLIED: _applied,
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


def merge_capabilities(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Two sources of one session: a control is available if either source honours it."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, bool):
            merged[key] = bool(merged.get(key)) or value
        elif value is not None or key not in merged:
            merged[key] = value
    return merged
