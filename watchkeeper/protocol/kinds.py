"""The names of protocol v1: event kinds, session states, controls, tool-call statuses.

StrEnum members compare equal to their string values, so hot-path code can keep
plain strings in event dicts and still name them here.
"""

from enum import StrEnum

PROTOCOL_VERSION = 1


class Kind(StrEnum):
    SESSION_STARTED = "session.started"
    SESSION_ENDED = "session.ended"
    MESSAGE_USER = "message.user"
    MESSAGE_ASSISTANT = "message.assistant"
    THINKING = "thinking"
    TOOL_STARTED = "tool.started"
    TOOL_WAITING = "tool.waiting"
    TOOL_FINISHED = "tool.finished"
    USAGE = "usage"
    AGENT_STARTED = "agent.started"
    AGENT_FINISHED = "agent.finished"
    STATE = "state"
    CONTROL_APPLIED = "control.applied"
    CONTROL_REJECTED = "control.rejected"
    NOTICE = "notice"
    RAW = "raw"


class State(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    IDLE = "idle"
    FINISHED = "finished"


class ControlKind(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    APPROVE = "approve"
    DENY = "deny"
    INJECT = "inject"
    CANCEL = "cancel"
    STEP = "step"
    END = "end"


class HoldWhy(StrEnum):
    """Why a call waits for the person (``tool.waiting`` ``why``)."""

    PAUSE = "pause"
    STEP = "step"
    BREAKPOINT = "breakpoint"
    #: An SDK agent asked for an approval.
    APPROVAL = "approval"
    #: The agent would ask the person itself (a permission prompt).
    PERMISSION = "permission"


class OnExpiry(StrEnum):
    """What happens to a held call at its ``expires_at``."""

    #: No decision is answered: the agent goes on under its own rules.
    CONTINUE = "continue"
    DENY = "deny"


#: ``tool.waiting`` ``reason`` (the older field) -> ``why``.
WHY_OF_REASON = {"paused": HoldWhy.PAUSE, "step": HoldWhy.STEP, "breakpoint": HoldWhy.BREAKPOINT,
                 "approval": HoldWhy.APPROVAL, "permission": HoldWhy.PERMISSION}


class ToolStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    OK = "ok"
    ERROR = "error"
    DENIED = "denied"
    INTERRUPTED = "interrupted"


#: Statuses after which nothing more happens to a call.
FINAL_TOOL_STATUSES = frozenset({ToolStatus.OK, ToolStatus.ERROR, ToolStatus.DENIED, ToolStatus.INTERRUPTED})

#: The main agent of a session; subagents use their own agent id.
MAIN_AGENT = "main"
