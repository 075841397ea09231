"""Steering SDK agents (``watchkeeper.sdk`` over websocket): the per-session control state, pure.

Events and controls in; outcome events and messages for the agent (pushes)
out. The websocket server owns the connections and sends the pushes.

An SDK agent honours controls itself: a pause blocks its next
``checkpoint()``, an injected message is returned by it, a cancel is raised
in it, and a tool call it asks approval for waits for the person's decision.
As with hooks, steering never widens what the agent may do, a held call
waits only while someone watches (else it goes on with no decision), a pause
nobody watches is rejected, and a control acts once per id.

A push can be lost with the connection it went out on, so the relay keeps
its record and it wins when the agent reconnects (``attach``): its pause or
resume, its decision on a call the agent still asks about, and every
injection or cancel the agent has not reported delivered are sent again
(the SDK takes each control id once). Else a denial lost on the way let the
agent, still asking after its reconnect, run the call with no decision.
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
    #: the pause or resume that made ``paused`` so: sent again to an agent that reconnects saying otherwise.
    pausing: dict[str, Any] | None = None
    #: call id -> how the agent asked (name, input) while it waits for a decision.
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: call id -> (who decided: a control id or ``unwatched``, the decision for the agent).
    decided: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    #: control id -> an inject or cancel not known to have reached the agent: sent again on each reconnect.
    undelivered: dict[str, dict[str, Any]] = field(default_factory=dict)
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

    def attach(self, link: Any, session: str, state: dict[str, Any] | None = None) -> list[Push]:
        """``link`` speaks for ``session`` (its first event, or a reconnect's hello saying what the agent holds).

        A session this relay knows keeps the relay's record, and what the agent
        missed is pushed again; one it does not (the relay restarted) takes the agent's state.
        """
        known = session in self._sessions
        s = self._sessions.setdefault(session, _Session())
        s.link = link
        state = state or {}
        asking = state.get("asking")
        asked = [str(c) for c in asking] if isinstance(asking, list) else None
        if not known:
            s.paused = bool(state.get("paused"))
            s.holds = {c: {} for c in asked or ()}
            return []
        if s.ended:
            return []
        pushes: list[Push] = []
        said = state.get("paused")
        if (s.paused if said is None else bool(said) != s.paused):
            pushes.append((link, s.pausing or self._reconciling(session, s.paused)))
        if asked is not None:
            s.holds = {c: s.holds.get(c, {}) for c in asked if c not in s.decided}
            pushes += [(link, s.decided[c][1]) for c in asked if c in s.decided]
        pushes += [(link, msg) for msg in s.undelivered.values()]
        return pushes

    def _reconciling(self, session: str, paused: bool) -> dict[str, Any]:
        return wire.control_push({"id": f"reconcile:{session}:{next(self._n)}", "session": session,
                                  "control": "pause" if paused else "resume", "by": "watchkeeper"})

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
                pushes += self.attach(link, sid)
                s = self._sessions[sid]
            kind = ev["kind"]
            if kind == Kind.MESSAGE_USER and isinstance(ev["data"].get("control_id"), str):
                s.undelivered.pop(ev["data"]["control_id"], None)
            elif kind == Kind.TOOL_WAITING and ev["data"].get("reason") == "approval":
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
                s.undelivered.clear()
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
            s.pausing = wire.control_push({"id": data["control_id"], "session": session, "control": "resume",
                                           "by": "watchkeeper"})
            if s.link is not None:
                pushes.append((s.link, s.pausing))
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
        msg = wire.decision(sid, cid, "none", why, "watchkeeper")
        _keep(s.decided, cid, (what, msg))
        events = [hold_ended(sid, cid, what, why)]
        return events, [(s.link, msg)] if s.link is not None else []

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
        msg = wire.control_push(c.model_dump(exclude_none=True))
        push = [(s.link, msg)]
        kind = c.control
        if kind == "pause":
            if self.viewers(c.session) <= 0:
                return False, UNWATCHED, None, []
            s.paused, s.pausing = True, msg
            return True, "paused: the agent stops at its next checkpoint", None, push
        if kind == "resume":
            s.paused, s.pausing = False, msg
            return True, "resumed: the agent goes on from its checkpoint", None, push
        if kind == "inject":
            if not c.text or not c.text.strip():
                return False, "nothing to inject: the text is empty", None, []
            _keep(s.undelivered, c.id, msg)
            return True, "queued: the agent gets it at its next checkpoint", None, push
        if kind == "cancel":
            _keep(s.undelivered, c.id, msg)
            return True, "cancel sent: raised in the agent at its next checkpoint or pending approval", None, push
        if kind in ("approve", "deny"):
            if not c.call_id and len(s.holds) > 1:
                return False, f"{len(s.holds)} calls wait ({', '.join(s.holds)}): name the one to {kind}", None, []
            cid = c.call_id or next(iter(s.holds), None)
            if c.always:
                return False, "an SDK agent has no rules to add: approve the call once", cid, []
            if cid is None or cid not in s.holds:
                if cid is not None and cid in s.decided:
                    return False, f"call {cid} was already decided ({s.decided[cid][0]}): the first decision wins", \
                        cid, []
                return False, (f"call {cid} is not waiting for approval" if cid else "no call is waiting"), cid, []
            del s.holds[cid]
            verdict = "approve" if kind == "approve" else "deny"
            reason = (c.reason or DEFAULT_DENY_REASON) if kind == "deny" else None
            decision = wire.decision(c.session, cid, verdict, reason, c.by)
            _keep(s.decided, cid, (c.id, decision))
            done = "approved: the call runs" if kind == "approve" else "denied: the agent is told why"
            return True, done, cid, [(s.link, decision)]
        return False, f"an SDK agent cannot {kind}", None, []


def _keep(kept: dict[str, Any], key: str, value: Any) -> None:
    kept[key] = value
    if len(kept) > OUTCOMES_KEPT:
        kept.pop(next(iter(kept)))
