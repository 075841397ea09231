"""The sessions listing scripts read (``watchkeeper sessions --json``): one object per session.

Built from a session's summary and its folded held calls (``session.Held``),
so a script sees the same calls the viewer shows as waiting, with the ids
``ctl approve|deny SESSION CALL_ID`` takes. The models are the listing's JSON
Schema (``watchkeeper schema --sessions``); like the events, it grows by
addition only, so ``why`` and ``state`` are strings whose known values are
documented, not closed enums.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .session import Held

#: ``tool.waiting`` ``why`` values this version knows (``kinds.HoldWhy``).
WHY_VALUES = "pause, step, breakpoint, approval (an SDK agent asked), permission (the agent's own prompt)"


class HeldCall(BaseModel):
    """A tool call held for the person: decide it with ``watchkeeper ctl approve|deny SESSION CALL_ID``."""

    model_config = ConfigDict(extra="allow")

    call_id: str
    tool: str | None = Field(description="The tool's name")
    input: Any = Field(description="The call's input, as the agent gave it")
    agent: str = Field(description="The agent that made the call: 'main', or a subagent's id")
    why: str = Field(description=f"Why it is held: {WHY_VALUES}")
    rule: str | None = Field(description="The breakpoint rule that fired (why = breakpoint)")
    since: str | None = Field(description="When the hold began (ISO-8601)")
    expires_at: str | None = Field(description="When the hold ends by itself (ISO-8601); null: it "
                                   "waits for the person")
    on_expiry: str | None = Field(description="What happens at expires_at: 'continue' (the agent's "
                                  "own rules apply) or 'deny'")
    always_rule: str | None = Field(None, description="What `ctl approve --always` would add to the agent's "
                                    "own rules, verbatim; null: no such choice")
    options: list[dict[str, str]] | None = Field(None, description="An ACP agent's own answers, each id, name "
                                                 "and kind: `ctl approve|deny --option ID` picks one; null: not "
                                                 "an ACP permission request")


class SessionRow(BaseModel):
    """One session of a running watchkeeper or a served relay."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(description="The session id (ctl takes it, or a unique prefix)")
    agent: str = Field(description="The agent kind: claude-code, codex, sdk, …")
    title: str | None
    cwd: str | None
    state: str = Field(description="As the relay's summary says: running, waiting, paused, idle, finished, …")
    live: bool = Field(description="A source is still following it")
    last_activity: str | None = Field(description="The newest event's time (ISO-8601)")
    steerable: bool = Field(description="Some control can act on it now")
    reason: str | None = Field(description="Why it cannot be steered (null when steerable)")
    held: list[HeldCall] = Field(description="The calls waiting for the person, oldest first")
    origin: dict[str, Any] | None = Field(None, description="A hub's session pushed by an edge (`serve "
                                          "--upstream`): the edge's `edge` name, `host`, and whether it is "
                                          "`connected` now; null or absent: this relay's own")


def held_call(held: Held) -> dict[str, Any]:
    return {"call_id": held.call_id, "tool": held.name, "input": held.input, "agent": held.agent,
            "why": str(held.why), "rule": held.rule, "since": held.since, "expires_at": held.expires_at,
            "on_expiry": held.on_expiry, "always_rule": held.always_rule,
            "options": list(held.options) if held.options is not None else None}


def session_row(*, id: str, agent: str, title: str | None, cwd: str | None, state: str, live: bool,
                last_activity: str | None, why_not: str | None, held: Iterable[Held]) -> dict[str, Any]:
    """One listing object; ``why_not`` is None for a session some control can act on."""
    return {"id": id, "agent": agent, "title": title, "cwd": cwd, "state": state, "live": live,
            "last_activity": last_activity, "steerable": why_not is None, "reason": why_not,
            "held": [held_call(h) for h in held]}


def held_of(row: Mapping[str, Any]) -> list[str]:
    """The held call ids of one listing object, oldest first."""
    held = row.get("held")
    return [str(h.get("call_id")) for h in held if isinstance(h, Mapping)] if isinstance(held, list) else []
