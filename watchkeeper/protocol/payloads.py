"""The ``data`` of each event kind as TypedDicts, so mypy checks the field names where payloads are read and built.

The pydantic models (``models.py``) validate at trust boundaries and give
the JSON Schema; these describe the same fields for the hot path, where
events stay plain dicts (``tests/test_payloads.py`` holds the two to the same
names). Every field is optional here (``total=False``): on the hot path a
payload is read as it came, so a reader uses ``.get`` and checks the type.
"""

from __future__ import annotations

from typing import Any, TypedDict

from .envelope import Event
from .kinds import Kind


class SessionStartedData(TypedDict, total=False):
    agent_kind: str
    title: str | None
    cwd: str | None
    model: str | None
    version: str | None
    source: str | None
    capabilities: dict[str, Any]
    profile: dict[str, Any]


class SessionEndedData(TypedDict, total=False):
    reason: str | None


#: ``message.user`` origin prefix for a prompt another agent sent (``agent /root``: a sub-agent's task).
AGENT_ORIGIN = "agent "


class MessageUserData(TypedDict, total=False):
    text: str
    origin: str | None
    #: how many images came with the text (Claude Code).
    images: int
    #: an injected message: the ``inject`` control that delivered it (the SDK).
    control_id: str
    #: a queued prompt (origin ``queued``) and the later message that delivers or removes it.
    queue_id: str


class MessageAssistantData(TypedDict, total=False):
    text: str
    message_id: str | None
    model: str | None


class ThinkingData(TypedDict, total=False):
    text: str
    hidden: bool


class ToolStartedData(TypedDict, total=False):
    call_id: str
    #: None when the source did not name the tool (a hook payload without ``tool_name``).
    name: str | None
    input: Any
    message_id: str | None
    #: a tool the model's provider ran (Claude Code's ``server_tool_use``/``mcp_tool_use``), not the agent.
    server: bool


class ToolWaitingData(TypedDict, total=False):
    call_id: str
    reason: str
    why: str
    rule: str | None
    name: str | None
    input: Any
    since: str
    expires_at: str | None
    on_expiry: str | None
    always_rule: str | None
    attached: bool
    #: ACP: the agent's own answers to its permission request, each ``id``, ``name`` and ``kind``.
    options: list[dict[str, str]] | None


class ToolFinishedData(TypedDict, total=False):
    call_id: str
    status: str
    is_error: bool
    output: Any
    duration_ms: float | None
    truncated: int | None
    #: the tool's structured result beside its text output (Claude Code's ``toolUseResult``, trimmed).
    result: dict[str, Any]
    #: the command's exit code (Codex).
    exit_code: int


class UsageData(TypedDict, total=False):
    model: str | None
    message_id: str | None
    #: Claude Code's API request id: with ``message_id``, what a retried call is deduplicated by.
    request_id: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    cumulative: bool
    #: the n-th further count of one message's usage (Claude Code writes a message's usage as it grows).
    revision: int


class AgentStartedData(TypedDict, total=False):
    agent_id: str
    parent_call_id: str | None
    agent_type: str | None
    description: str | None
    #: a subagent found by its sidechain records (Claude Code), with the prompt it was started with.
    sidechain: bool
    prompt: str | None


class AgentFinishedData(TypedDict, total=False):
    agent_id: str
    status: str | None


class StateData(TypedDict, total=False):
    state: str
    reason: str | None


class ControlOutcomeData(TypedDict, total=False):
    """``control.applied`` / ``control.rejected``: a person's control, or a hold its policy ended."""

    control_id: str
    control: str
    by: str | None
    reason: str | None
    call_id: str | None
    #: further calls one control let go (a resume of several held calls).
    call_ids: list[str]
    #: when the control was sent.
    sent_ts: str | None
    #: inject: the message.
    text: str
    #: deny: the reason the agent reads.
    message: str


class NoticeData(TypedDict, total=False):
    level: str
    text: str
    code: str | None


class RawData(TypedDict, total=False):
    record: Any
    error: str | None
    source: str | None


#: kind -> the TypedDict of its ``data``.
PAYLOADS: dict[str, type] = {
    Kind.SESSION_STARTED: SessionStartedData,
    Kind.SESSION_ENDED: SessionEndedData,
    Kind.MESSAGE_USER: MessageUserData,
    Kind.MESSAGE_ASSISTANT: MessageAssistantData,
    Kind.THINKING: ThinkingData,
    Kind.TOOL_STARTED: ToolStartedData,
    Kind.TOOL_WAITING: ToolWaitingData,
    Kind.TOOL_FINISHED: ToolFinishedData,
    Kind.USAGE: UsageData,
    Kind.AGENT_STARTED: AgentStartedData,
    Kind.AGENT_FINISHED: AgentFinishedData,
    Kind.STATE: StateData,
    Kind.CONTROL_APPLIED: ControlOutcomeData,
    Kind.CONTROL_REJECTED: ControlOutcomeData,
    Kind.NOTICE: NoticeData,
    Kind.RAW: RawData,
}


def data_of(event: Event) -> dict[str, Any]:
    """An event's ``data`` as the dict it should be; an empty one if it is not (a hostile or broken event).

    A reader then names the kind's payload: ``cast(ToolWaitingData, data_of(ev))``.
    """
    data = event.get("data")
    return data if isinstance(data, dict) else {}

