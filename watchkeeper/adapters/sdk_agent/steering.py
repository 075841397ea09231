"""Steering SDK agents (``watchkeeper.sdk`` over websocket): the per-session control state, pure.

Events and controls in; outcome events and messages for the agent (pushes)
out. The websocket server owns the connections and sends the pushes.

An SDK agent honours controls itself: a pause blocks its next
``checkpoint()``, an injected message is returned by it, a cancel is raised
in it, and a tool call it asks approval for waits for the person's decision.
As with hooks, steering never widens what the agent may do, a held call
waits only while someone watches (else it goes on with no decision), a pause
nobody watches is rejected, and a control acts once per id.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...protocol import ControlModel, Event, Kind, make_event, wire
from ...protocol.controls import (
    DEFAULT_DENY_REASON,
    ENDED_REASON,
    OUTCOMES_KEPT,
    ControlResult,
    Outcomes,
    hold_ended,
    outcome_event,
)

#: Why a pause is refused: nobody could resume it, and the agent's own unwatched rule would end it.
UNWATCHED = ("nobody watches this session, so a pause would stop the agent with no one to resume it: "
             "attach a viewer first")
#: (the agent's connection, a message for it)
Push = tuple[Any, dict[str, Any]]


@dataclass
class _Session:
    link: Any = None
    paused: bool = False
    #: call id -> how the agent asked (name, input) while it waits for a decision.
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)
    decided: dict[str, str] = field(default_factory=dict)
    #: the agent reported ``session.ended``: nothing it could still do answers a control.
    ended: bool = False


@dataclass(slots=True)
class SdkResult(ControlResult):
    """A control's result plus what to push to the agent; ``pushes`` are empty for a repeated control."""

    pushes: list[Push] = field(default_factory=list)


class SdkSteering:
    """Every SDK-steered session of one server; call it from one thread (the relay's loop)."""

    def __init__(self, viewers: Callable[[str], int] | None = None) -> None:
        self.viewers: Callable[[str], int] = viewers or (lambda session: 0)
        self._sessions: dict[str, _Session] = {}
        self._outcomes = Outcomes()
        self._n = itertools.count()

    def connected(self, session: str) -> bool:
        s = self._sessions.get(session)
        return s is not None and s.link is not None

    def sessions_of(self, link: Any) -> list[str]:
        return [sid for sid, s in self._sessions.items() if s.link is link]

    # --- the agent's side ----------------------------------------------------------

    def attach(self, link: Any, session: str, state: dict[str, Any] | None = None) -> None:
        """``link`` speaks for ``session`` (its first event, or a reconnect's hello restoring its state)."""
        s = self._sessions.setdefault(session, _Session())
        s.link = link
        if state is not None:
            s.paused = bool(state.get("paused"))
            asking = state.get("asking")
            if isinstance(asking, list):
                s.holds = {str(c): s.holds.get(str(c), {}) for c in asking}

    def detach(self, link: Any) -> list[str]:
        """The agent's connection closed; its sessions stay known, and controls for them are rejected."""
        gone = self.sessions_of(link)
        for sid in gone:
            self._sessions[sid].link = None
        return gone

    def on_events(self, link: Any, events: list[Event]) -> tuple[list[Event], list[Push]]:
        """Note what the agent's events say: its sessions, and the calls it asks approval for."""
        out: list[Event] = []
        pushes: list[Push] = []
        for ev in events:
            sid = ev["session"]
            s = self._sessions.get(sid)
            if s is None or s.link is not link:
                self.attach(link, sid)
                s = self._sessions[sid]
            kind = ev["kind"]
            if kind == Kind.TOOL_WAITING and ev["data"].get("reason") == "approval":
                cid = ev["data"].get("call_id")
                if isinstance(cid, str) and cid not in s.decided:
                    s.holds[cid] = ev["data"]
                    if self.viewers(sid) <= 0:
                        more, push = self._let_go(sid, s, cid, "unwatched",
                                                  "nobody is watching this session: it goes on with no decision")
                        out += more
                        pushes += push
            elif kind == Kind.TOOL_FINISHED:
                cid = ev["data"].get("call_id")
                if isinstance(cid, str):
                    s.holds.pop(cid, None)
            elif kind == Kind.SESSION_ENDED:
                s.ended = True
                s.holds.clear()
        return out, pushes

    def unwatched(self, session: str) -> tuple[list[Event], list[Push]]:
        """Nobody watches ``session`` any more: held calls go on with no decision, a pause ends (fail-open)."""
        s = self._sessions.get(session)
        if s is None:
            return [], []
        events: list[Event] = []
        pushes: list[Push] = []
        for cid in list(s.holds):
            more, push = self._let_go(session, s, cid, "unwatched",
                                      "nobody is watching this session any more: it goes on with no decision")
            events += more
            pushes += push
        if s.paused:
            s.paused = False
            n = next(self._n)
            data = {"control_id": f"unwatched:{session}:{n}", "control": "unwatched", "by": "watchkeeper",
                    "reason": "nobody is watching this session any more: the pause ends (fail-open)"}
            events.append(make_event(f"sdk-pause:{session}:{n}:unwatched", session, Kind.CONTROL_APPLIED, data))
            if s.link is not None:
                pushes.append((s.link, wire.control_push({"id": data["control_id"], "session": session,
                                                          "control": "resume", "by": "watchkeeper"})))
        return events, pushes

    def grace(self, session: str, seconds: float) -> list[Event]:
        """The last viewer left: a notice if ``session`` holds a call or a pause, saying how long they wait."""
        s = self._sessions.get(session)
        if s is None or not (s.holds or s.paused):
            return []
        what = f"{len(s.holds)} call(s) waiting for approval" if s.holds else "the pause"
        text = (f"the last viewer left: {what} wait {seconds:g} s for one to come back, then the agent goes on "
                "with no decision (fail-open)")
        n = next(self._n)
        return [make_event(f"sdk-grace:{session}:{n}", session, Kind.NOTICE,
                           {"level": "warning", "text": text, "code": "reconnect-grace"})]

    def _let_go(self, sid: str, s: _Session, cid: str, what: str, why: str) -> tuple[list[Event], list[Push]]:
        s.holds.pop(cid, None)
        s.decided[cid] = what
        events = [hold_ended(sid, cid, what, why)]
        pushes = [(s.link, wire.decision(sid, cid, "none", why, "watchkeeper"))] if s.link is not None else []
        return events, pushes

    # --- controls ------------------------------------------------------------------

    def control(self, c: ControlModel) -> SdkResult:
        """Apply one control; a control id seen before acts no more and gets its first outcome back."""
        seen = self._outcomes.seen(c)
        if seen is not None:
            return SdkResult(seen, [])
        s = self._sessions.get(c.session)
        pushes: list[Push] = []
        ok, reason, call = False, "this session's agent is not connected", c.call_id
        if s is not None and s.ended:
            reason = ENDED_REASON
        elif s is not None and s.link is not None:
            ok, reason, call, pushes = self._apply(s, c)
        outcome = outcome_event(c, ok, reason, call)
        self._outcomes.keep(c, outcome)
        return SdkResult(outcome, [outcome], pushes)

    def _apply(self, s: _Session, c: ControlModel) -> tuple[bool, str, str | None, list[Push]]:
        push = [(s.link, wire.control_push(c.model_dump(exclude_none=True)))]
        kind = c.control
        if kind == "pause":
            if self.viewers(c.session) <= 0:
                return False, UNWATCHED, None, []
            s.paused = True
            return True, "paused: the agent stops at its next checkpoint", None, push
        if kind == "resume":
            s.paused = False
            return True, "resumed: the agent goes on from its checkpoint", None, push
        if kind == "inject":
            if not c.text or not c.text.strip():
                return False, "nothing to inject: the text is empty", None, []
            return True, "queued: the agent gets it at its next checkpoint", None, push
        if kind == "cancel":
            return True, "cancel sent: raised in the agent at its next checkpoint or pending approval", None, push
        if kind in ("approve", "deny"):
            cid = c.call_id or next(iter(s.holds), None)
            if c.always:
                return False, "an SDK agent has no rules to add: approve the call once", cid, []
            if cid is None or cid not in s.holds:
                if cid is not None and cid in s.decided:
                    return False, f"call {cid} was already decided ({s.decided[cid]}): the first decision wins", \
                        cid, []
                return False, (f"call {cid} is not waiting for approval" if cid else "no call is waiting"), cid, []
            del s.holds[cid]
            s.decided[cid] = c.id
            if len(s.decided) > OUTCOMES_KEPT:
                s.decided.pop(next(iter(s.decided)))
            verdict = "approve" if kind == "approve" else "deny"
            reason = (c.reason or DEFAULT_DENY_REASON) if kind == "deny" else None
            done = "approved: the call runs" if kind == "approve" else "denied: the agent is told why"
            return True, done, cid, [(s.link, wire.decision(c.session, cid, verdict, reason, c.by))]
        return False, f"an SDK agent cannot {kind}", None, []
