"""What steering keeps per hooked session: the policy, each held hook reply, and the session's record.

Plain records; the state machine that changes them is ``steering.Steering``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...protocol import Event
from . import permission as P


@dataclass(frozen=True)
class Policy:
    """How a hold ends when nobody decides: at ``hold_timeout`` seconds, or when the last viewer leaves.

    Fail-open (the default) answers no decision, so the agent goes on under its
    own rules; fail-closed denies the call.
    """

    hold_timeout: float = 600.0
    fail_closed: bool = False


@dataclass(eq=False)
class Hold:
    """One PreToolUse reply held back; ``reply`` is set once, by the first decision."""

    session: str
    agent: str
    call_id: str
    reason: str
    rule: str | None
    fail_closed: bool
    reply: dict[str, Any] | None = None
    decided_by: str | None = None
    #: Set by the server, one per request waiting on the hold: each called once with the reply.
    wakers: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    #: Requests waiting on it now: the same call asked twice (two hook entries for it) waits on one hold,
    #: and it is abandoned only once none waits.
    waiting: int = 0
    #: The hook whose reply is held: PreToolUse, or PermissionRequest (the CLI's own prompt).
    event: str = "PreToolUse"
    #: A prompt's "always allow" rules, as the CLI offered them.
    rules: list[Any] = field(default_factory=list)
    #: The call's tool and input (``permission.call_key``): a request joins the hold only with the same.
    key: bytes | None = None

    @property
    def prompt(self) -> bool:
        return self.event == P.EVENT

    @property
    def decided(self) -> bool:
        return self.reply is not None


@dataclass
class HookResult:
    """What to answer a hook request: ``reply`` now, or (``reply`` None) wait for ``hold``."""

    reply: dict[str, Any] | None
    events: list[Event] = field(default_factory=list)
    hold: Hold | None = None


@dataclass
class SteeredSession:
    paused: bool = False
    step: bool = False
    holds: dict[str, Hold] = field(default_factory=dict)
    #: (control id, text) queued for the next hook reply that can carry them.
    injections: list[tuple[str, str]] = field(default_factory=list)
    #: (control id, reason) of a cancel waiting for the agent's next hook call.
    cancel: tuple[str, str] | None = None
    #: call id -> what decided it, so a late decision is told why it lost.
    decided: dict[str, str] = field(default_factory=dict)
    #: calls a permission prompt may be about.
    recent: P.Recent = field(default_factory=P.Recent)
    #: calls the person approved at PreToolUse: their prompt is not asked twice.
    approved: set[str] = field(default_factory=set)
    #: Its last hook was SessionEnd: no control can reach it once no call is held (a request still waiting on
    #: a hold says it has not ended), until a hook says it is back.
    ended: bool = False
