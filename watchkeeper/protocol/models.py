"""Pydantic models of protocol v1: the schema, and validation at trust boundaries.

Every model allows extra fields, so a newer peer's additions pass through a
validating hop intact. ``EVENT_DATA`` maps each known kind to the model of its
``data``; an unknown kind is accepted with any ``data`` object.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .kinds import PROTOCOL_VERSION, ControlKind, HoldWhy, Kind, OnExpiry, State, ToolStatus


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- capabilities and the session profile ---------------------------------


class Capabilities(Open):
    """Which controls a source can honour; ``why`` says why the others are missing."""

    pause: bool = False
    resume: bool = False
    approve: bool = False
    deny: bool = False
    inject: bool = False
    cancel: bool = False
    step: bool = False
    permission: bool = Field(False, description="Answers the agent's own permission prompts (approve/deny a "
                             "call held with why=permission)")
    end: bool = Field(False, description="Can end the session: its pending requests answered cancelled, its "
                      "agent stopped (an agent watchkeeper started and drives, e.g. over ACP)")
    why: str | None = Field(None, description="Why some controls are unavailable, for the person")


class Isolation(Open):
    cwd: str | None = None
    permission_mode: str | None = None
    sandbox: str | None = None


class Profile(Open):
    """The questions 'async agent' leaves open, answered per session."""

    interaction: Literal["prompt", "event"] = "prompt"
    autonomy: Literal["run-to-done", "pauses"] = "run-to-done"
    coordination: Literal["single", "orchestrated", "choreographed"] = "single"
    observability: Capabilities = Field(default_factory=Capabilities)
    isolation: Isolation = Field(default_factory=Isolation)


# --- event data by kind -----------------------------------------------------


class SessionStarted(Open):
    agent_kind: str = Field(description="claude-code, codex, sdk, …")
    title: str | None = None
    cwd: str | None = None
    model: str | None = None
    version: str | None = Field(None, description="Version of the agent that wrote the source")
    source: str | None = Field(None, description="Where the events come from (a path, a URL)")
    capabilities: Capabilities = Field(default_factory=Capabilities)
    profile: Profile = Field(default_factory=Profile)


class SessionEnded(Open):
    reason: str | None = None


class MessageUser(Open):
    text: str
    origin: str | None = Field(None, description="prompt, queued, injected, tool-feedback, queue-removed, …")
    queue_id: str | None = Field(None, description="A queued prompt: origin=queued while it waits for the "
                                 "agent; a later message.user with the same queue_id delivers or removes it")


class MessageAssistant(Open):
    text: str
    message_id: str | None = None
    model: str | None = None


class Thinking(Open):
    text: str = ""
    hidden: bool = Field(False, description="The agent stored the block without its text")


class ToolStarted(Open):
    call_id: str
    name: str
    input: Any = None
    message_id: str | None = None


class ToolWaiting(Open):
    call_id: str
    reason: Literal["paused", "approval", "step", "breakpoint", "permission"] | str
    why: HoldWhy | str | None = Field(None, description="Why the call waits: pause, step, breakpoint, approval "
                                      "(an SDK agent asked), permission (the agent's own prompt). Older peers "
                                      "send only reason.")
    rule: str | None = Field(None, description="The breakpoint rule that fired")
    name: str | None = None
    input: Any = None
    since: str | None = Field(None, description="When the hold began (ISO-8601); the event's ts when absent")
    expires_at: str | None = Field(None, description="When the hold ends by itself (ISO-8601); null: never")
    on_expiry: OnExpiry | str | None = Field(None, description="What happens at expires_at: continue (the agent "
                                             "goes on under its own rules) or deny")
    always_rule: str | None = Field(None, description="What approving with always=true would add to the "
                                    "agent's own rules, verbatim; null: the call offers no such choice")
    attached: bool | None = Field(None, description="why=permission: the prompt was matched to its call; false: "
                                  "the agent named no call and more than one fit, so call_id names the prompt alone")
    options: list[dict[str, str]] | None = Field(None, description="An ACP agent's own answers to its permission "
                                                 "request, each with id, name and kind (allow_once, "
                                                 "allow_always, reject_once, reject_always); a control's "
                                                 "option picks one by kind or id")


class ToolFinished(Open):
    call_id: str
    status: ToolStatus = ToolStatus.OK
    is_error: bool = False
    output: Any = None
    duration_ms: float | None = None
    truncated: int | None = Field(None, description="Bytes of output cut away, if any")


class Usage(Open):
    model: str | None = None
    message_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    cumulative: bool = Field(False, description="Totals so far for the session, not one call's usage")


class AgentStarted(Open):
    agent_id: str
    parent_call_id: str | None = None
    agent_type: str | None = None
    description: str | None = None


class AgentFinished(Open):
    agent_id: str
    status: str | None = None


class StateData(Open):
    state: State
    reason: str | None = None


class ControlOutcome(Open):
    control_id: str
    control: ControlKind | str
    by: str | None = None
    reason: str | None = Field(None, description="Why it was rejected, or what it did")
    call_id: str | None = None


class Notice(Open):
    level: Literal["info", "warning", "error"] = "info"
    text: str
    code: str | None = None


class Raw(Open):
    record: Any = Field(description="The record as read: parsed JSON, or the text if it did not parse")
    error: str | None = None
    source: str | None = None


EVENT_DATA: dict[str, type[Open]] = {
    Kind.SESSION_STARTED: SessionStarted,
    Kind.SESSION_ENDED: SessionEnded,
    Kind.MESSAGE_USER: MessageUser,
    Kind.MESSAGE_ASSISTANT: MessageAssistant,
    Kind.THINKING: Thinking,
    Kind.TOOL_STARTED: ToolStarted,
    Kind.TOOL_WAITING: ToolWaiting,
    Kind.TOOL_FINISHED: ToolFinished,
    Kind.USAGE: Usage,
    Kind.AGENT_STARTED: AgentStarted,
    Kind.AGENT_FINISHED: AgentFinished,
    Kind.STATE: StateData,
    Kind.CONTROL_APPLIED: ControlOutcome,
    Kind.CONTROL_REJECTED: ControlOutcome,
    Kind.NOTICE: Notice,
    Kind.RAW: Raw,
}


# --- envelopes ----------------------------------------------------------------


class EventModel(Open):
    """One event. ``seq`` and ``epoch`` are set by the relay that numbered it."""

    v: int = PROTOCOL_VERSION
    id: str = Field(min_length=1, description="Stable: derived from the source record")
    seq: int | None = Field(None, ge=0, description="Per session, within one relay run")
    epoch: str | None = Field(None, description="Names the relay run that assigned seq")
    ts: str
    session: str = Field(min_length=1)
    agent: str = "main"
    kind: str = Field(min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)


class ControlModel(Open):
    """Something the person asks of a session. Idempotent by ``id``."""

    v: int = PROTOCOL_VERSION
    id: str = Field(min_length=1, max_length=200)
    session: str = Field(min_length=1)
    control: ControlKind
    call_id: str | None = Field(None, description="approve/deny/step: the held call")
    reason: str | None = Field(None, max_length=10_000, description="deny: what the agent is told")
    always: bool = Field(False, description="approve: also add the rule the held call's always_rule shows, so "
                         "the agent stops asking (never implied: the person picks it)")
    text: str | None = Field(None, max_length=100_000, description="inject: the message")
    by: str | None = Field(None, description="Who sent it")
    ts: str | None = None
