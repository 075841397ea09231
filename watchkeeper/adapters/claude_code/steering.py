"""Steering hooked Claude Code sessions: the per-session control state machine.

Pure and synchronous: hook payloads and controls in, replies and events out.
The hook server owns sockets and timers; it awaits a :class:`Hold` until a
control, the timeout or the last viewer leaving decides it.

Steering never widens what the agent may do: ``allow`` only for an explicit
approve or a step; ``deny`` with the person's reason; otherwise no decision
(``{}``), so Claude Code's own permission rules still apply. A call is held
only while someone watches its session, so a pause or step that would hold
nothing is rejected, never applied. Controls act once per id; on a held call
the first decision wins.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

from ...protocol import ControlModel, Event, Kind, make_event
from ...protocol.controls import (
    DEFAULT_DENY_REASON,
    OUTCOMES_KEPT,
    ControlResult,
    Outcomes,
    hold_ended,
    outcome_event,
)
from . import hooks as H
from . import permission as P
from .holds import Hold, HookResult, Policy, SteeredSession

__all__ = ["CANCEL_REASON", "INJECT_HEADING", "Breakpoint", "Hold", "HookResult", "Policy", "Steering"]

#: Texts injected by the person reach the model with this heading.
INJECT_HEADING = "Message from the user, sent through watchkeeper while you work:\n"
CANCEL_REASON = "Stopped by the user in watchkeeper"
#: Why a pause or step is refused: it would hold nothing (a call is held only while someone watches).
UNWATCHED = ("nobody watches this session, so no call would be held: open it in watchkeeper, or attach to "
             "this relay, and send it again")

#: A breakpoint rule set: a PreToolUse payload in, the name of the rule that fires (or None) out.
Breakpoint = Callable[[dict[str, Any]], str | None]


class Steering:
    """Every steered session of one hook endpoint. Call it from one thread (the relay's loop)."""

    #: The agent's reply shapes for approve and cancel (Codex's differ from Claude Code's).
    replies: Any = H
    #: Its permission prompts: ``call_key`` (matching a prompt to its call), ``allow``, ``deny``.
    prompts: Any = P
    #: A hook reply can end the agent's turn (Codex's cannot: a cancel there denies its next call, no more).
    ends_turn = True

    def __init__(self, policy: Policy | None = None, *, viewers: Callable[[str], int] | None = None,
                 breakpoint: Breakpoint | None = None) -> None:
        self.policy = policy or Policy()
        self.viewers: Callable[[str], int] = viewers or (lambda session: 0)
        self.breakpoint = breakpoint
        self._sessions: dict[str, SteeredSession] = {}
        self._outcomes = Outcomes()
        self._grace_notices = itertools.count()

    def knows(self, session: str) -> bool:
        return session in self._sessions

    def steerable(self, session: str) -> bool:
        """Its hooks reach here and it has not ended: a control can act on it."""
        s = self._sessions.get(session)
        return s is not None and not (s.ended and not s.holds)

    def state(self, session: str) -> dict[str, Any] | None:
        """The session's steering state, for ``/sessions`` and ``hooks status``."""
        s = self._sessions.get(session)
        if s is None:
            return None
        return {"paused": s.paused, "step": s.step, "held": [h.call_id for h in s.holds.values()],
                "queued_injections": len(s.injections), "cancel_pending": s.cancel is not None,
                "viewers": self.viewers(session)}

    # --- hooks -------------------------------------------------------------------

    def on_hook(self, payload: dict[str, Any], fail_closed: bool | None = None,
                prompts_here: bool = False) -> HookResult:
        """Decide a hook request: a reply at once, or a hold (PreToolUse, and PermissionRequest where
        ``prompts_here`` says the person answers the agent's prompts in watchkeeper)."""
        session = H.session_of(payload)
        s = self._sessions.setdefault(session, SteeredSession())
        name = payload.get("hook_event_name")
        s.ended = name == "SessionEnd"
        cid = H.call_id_of(payload)
        if name == "PreToolUse":
            key = self.prompts.call_key(payload)
            if cid is not None:
                s.recent.started(cid, key)
            return self._pre_tool_use(session, s, payload, key, self.policy.fail_closed if fail_closed is None
                                      else fail_closed)
        if name == P.EVENT:
            return self._permission(session, s, payload, prompts_here)
        if name == "PostToolUse":
            answered: list[Event] = []
            if cid is not None:
                s.recent.finished(cid)
                answered = self._answered_elsewhere(s, cid)
            if s.cancel is not None and self.ends_turn:
                result = self._cancel_now(session, s, name)
                result.events[:0] = answered
                return result
            context, events = self._take_injections(session, s)
            return HookResult(H.no_decision(name, context), answered + events)
        if name == "UserPromptSubmit":
            s.cancel = None
            context, events = self._take_injections(session, s)
            return HookResult(H.no_decision(name, context), events)
        if name == "Stop":
            if s.cancel is not None:
                s.cancel = None
                return HookResult({})
            if s.injections and payload.get("stop_hook_active") is not True:
                text, events = self._take_injections(session, s)
                assert text is not None
                going = {"state": "running", "reason": "an injected message keeps it going"}
                events.append(make_event(f"{events[0]['id']}:state", session, Kind.STATE, going))
                return HookResult(H.stop_block(text), events)
        return HookResult({})

    def _pre_tool_use(self, session: str, s: SteeredSession, payload: dict[str, Any], key: bytes | None,
                      fail_closed: bool) -> HookResult:
        if s.cancel is not None:
            return self._cancel_now(session, s, "PreToolUse", payload)
        reason, rule = self._hold_reason(session, s, payload)
        if reason is not None:
            # A call the CLI sent without an id of its own is held all the same, under one made here: a pause
            # or a breakpoint that let it run would say "held" while it ran.
            cid = H.call_id_of(payload) or f"hook-{uuid.uuid4().hex[:12]}"
            old = s.holds.get(cid)
            if old is not None and not old.prompt and key is not None and old.key == key:
                return self._again(session, old, fail_closed)
            told: list[Event] = []
            if old is not None:  # held apart: a PreToolUse never follows its own prompt, nor changes its input
                cid = f"hook-{uuid.uuid4().hex[:12]}"
                if not old.prompt:
                    told.append(_asked_twice(session, old, cid))
            hold = Hold(session, H.agent_of(payload), cid, reason, rule, fail_closed, key=key)
            s.holds[cid] = hold
            return HookResult(None, [*told, H.waiting_event(payload, reason, rule, self.policy.hold_timeout,
                                                            fail_closed, cid)], hold)
        context, events = self._take_injections(session, s)
        return HookResult(H.no_decision("PreToolUse", context), events)

    def _permission(self, session: str, s: SteeredSession, payload: dict[str, Any], here: bool) -> HookResult:
        """The CLI would ask the person: hold the prompt here, or leave it to the agent's terminal."""
        agent = H.agent_of(payload)
        cid = s.recent.match(self.prompts.call_key(payload))
        if cid is not None and cid in s.approved:
            return HookResult(self.prompts.allow())
        if not here or self.viewers(session) <= 0:
            why = "nobody watches it here" if here else "answering prompts here is off for this session"
            return HookResult({}, [P.elsewhere(session, agent, f"p-{uuid.uuid4().hex[:12]}", payload, why)])
        old = s.holds.get(cid) if cid is not None else None
        if old is not None and old.prompt:
            return self._again(session, old, False)
        if old is not None:  # its PreToolUse is still held: the CLI cannot be asking about it yet
            cid = None
        hold_id = cid or f"permission-{uuid.uuid4().hex[:12]}"
        offered = P.suggestions(payload) if self.prompts.adds_rules else []
        shown = P.rule_text(offered)
        hold = Hold(session, agent, hold_id, "permission", None, False, event=P.EVENT,
                    rules=offered if shown else [])
        s.holds[hold_id] = hold
        return HookResult(None, [P.waiting(session, agent, hold_id, payload, self.policy.hold_timeout,
                                           attached=cid is not None, always_rule=shown)], hold)

    def _again(self, session: str, hold: Hold, fail_closed: bool) -> HookResult:
        """The same call asked again while held (an installed hook and ``run``'s, or a replay): it waits on the
        one hold for its decision, the stricter timeout policy kept. A request never decides another's hold."""
        if not fail_closed or hold.fail_closed:
            return HookResult(None, [], hold)
        hold.fail_closed = True
        text = (f"call {hold.call_id} was asked again by a fail-closed hook: if nobody decides it, it is now "
                "denied at the hold timeout")
        notice = make_event(f"tool:{hold.call_id}:fail-closed", session, Kind.NOTICE,
                            {"level": "warning", "text": text, "code": "hold-fail-closed"}, agent=hold.agent)
        return HookResult(None, [notice], hold)

    def _answered_elsewhere(self, s: SteeredSession, call_id: str) -> list[Event]:
        """The call went on while its prompt was held here: the person answered in the agent's terminal."""
        hold = s.holds.get(call_id)
        if hold is None or not hold.prompt or hold.decided:
            return []
        self._decide(s, hold, {}, f"elsewhere:{call_id}")
        return [hold_ended(hold.session, call_id, "answered", "answered in the agent's terminal")]

    def would_hold(self, session: str, payload: dict[str, Any]) -> tuple[str | None, str | None]:
        """(why, rule) a call with this PreToolUse ``payload`` would be held now; (None, None) if it would not."""
        s = self._sessions.get(session)
        if s is None or not self.steerable(session):
            return None, None
        return self._hold_reason(session, s, payload)

    def _hold_reason(self, session: str, s: SteeredSession,
                     payload: dict[str, Any]) -> tuple[str | None, str | None]:
        if self.viewers(session) <= 0:
            return None, None
        if s.paused:
            return "paused", None
        if s.step:
            return "step", None
        if self.breakpoint is not None:
            try:
                rule = self.breakpoint(payload)
            except Exception as e:
                rule = f"a breakpoint rule failed ({e!r}): held for the person to decide"
            if rule:
                return "breakpoint", rule
        return None, None

    def _cancel_now(self, session: str, s: SteeredSession, name: str,
                    payload: dict[str, Any] | None = None) -> HookResult:
        assert s.cancel is not None
        control_id, reason = s.cancel
        s.cancel = None
        events = [make_event(f"control:{control_id}:delivered", session, Kind.STATE,
                             {"state": "idle", "reason": reason})] if self.ends_turn else []
        cid = H.call_id_of(payload) if payload is not None else None
        if cid is not None and payload is not None:
            events.append(H.denied_event(session, H.agent_of(payload), cid, reason))
        return HookResult(self.replies.cancel(reason, name), events)

    # --- holds ending without a person ------------------------------------------------

    def expire(self, hold: Hold) -> list[Event]:
        """The hold timeout passed: end it by the policy (nothing if already decided)."""
        return self._by_policy(hold, "timeout", f"held past the {self.policy.hold_timeout:g} s hold timeout")

    def unwatched(self, session: str) -> list[Event]:
        """The last viewer of ``session`` left: end its holds by the policy (nothing while another watches)."""
        s = self._sessions.get(session)
        if s is None or self.viewers(session) > 0:
            return []
        events: list[Event] = []
        for hold in list(s.holds.values()):
            events += self._by_policy(hold, "unwatched", "nobody is watching this session any more")
        return events

    def nobody_watching(self) -> list[Event]:
        """Nobody watches any more (a reconnect grace ran out): every unwatched session's holds end by the policy."""
        events: list[Event] = []
        for session in list(self._sessions):
            events += self.unwatched(session)
        return events

    def grace(self, seconds: float) -> list[Event]:
        """The last remote viewer left: a notice in each session with held calls, saying how long they wait."""
        events: list[Event] = []
        for session, s in self._sessions.items():
            if not s.holds:
                continue
            n = len(s.holds)
            policy = "denied (fail-closed)" if any(h.fail_closed for h in s.holds.values()) else \
                "let go with no decision (fail-open)"
            text = (f"the last viewer left: {n} held call{'s' if n != 1 else ''} wait {seconds:g} s for one to "
                    f"come back, then {'are' if n != 1 else 'is'} {policy}")
            key = next(self._grace_notices)
            events.append(make_event(f"hold:grace:{key}", session, Kind.NOTICE,
                                     {"level": "warning", "text": text, "code": "reconnect-grace"}))
        return events

    def abandoned(self, hold: Hold) -> list[Event]:
        """The agent stopped waiting (its hook timed out, or it exited): the hold ends, no reply goes out."""
        s = self._sessions.get(hold.session)
        if s is None or hold.decided:
            return []
        self._decide(s, hold, H.no_decision(), f"abandoned:{hold.call_id}")
        if hold.prompt:
            return [hold_ended(hold.session, hold.call_id, "answered",
                               "answered in the agent's terminal: the CLI stopped waiting for this prompt")]
        return [hold_ended(hold.session, hold.call_id, "abandoned", "the agent stopped waiting for this call")]

    def _by_policy(self, hold: Hold, what: str, why: str) -> list[Event]:
        s = self._sessions.get(hold.session)
        if s is None or hold.decided:
            return []
        reply = H.deny(f"{why} (fail-closed)") if hold.fail_closed else {}
        self._decide(s, hold, reply, f"{what}:{hold.call_id}")
        result = "denied (fail-closed)" if hold.fail_closed else "let go with no decision (fail-open)"
        events = [hold_ended(hold.session, hold.call_id, what, f"{why}: {result}")]
        if hold.fail_closed:
            events.append(H.denied_event(hold.session, hold.agent, hold.call_id, reply["hookSpecificOutput"]
                                         ["permissionDecisionReason"]))
        return events

    # --- controls ---------------------------------------------------------------

    def control(self, c: ControlModel) -> ControlResult:
        """Apply one control; a control id seen before acts no more and gets its first outcome back."""
        seen = self._outcomes.seen(c)
        if seen is not None:
            return ControlResult(seen, [])
        s = self._sessions.get(c.session)
        handled: _Handled = (False, "no hook call has come from this session yet", [], [])
        apply = getattr(self, f"_{c.control}", None)
        if apply is None:
            handled = (False, f"a session steered through its hooks cannot {c.control}", [], [])
        elif s is not None:
            handled = apply(s, c)
        ok, reason, calls, events = handled
        outcome = outcome_event(c, ok, reason, calls[0] if calls else c.call_id, calls)
        self._outcomes.keep(c, outcome)
        return ControlResult(outcome, [outcome, *events])

    def _pause(self, s: SteeredSession, c: ControlModel) -> _Handled:
        if self.viewers(c.session) <= 0:
            return False, UNWATCHED, [], []
        s.paused = True
        events = [_state(c, "paused", "paused by the user")]
        return True, "paused: the next tool call waits", [], events

    def _resume(self, s: SteeredSession, c: ControlModel) -> _Handled:
        s.paused = s.step = False
        calls: list[str] = []
        events = [_state(c, "running", "resumed by the user")]
        for hold in list(s.holds.values()):
            if hold.prompt:
                self._decide(s, hold, {}, c.id)
                calls.append(hold.call_id)
                continue
            context, delivered = self._take_injections(c.session, s)
            self._decide(s, hold, H.no_decision("PreToolUse", context), c.id)
            calls.append(hold.call_id)
            events += delivered
        let_go = f"; {len(calls)} held call(s) go on under the agent's own permission rules" if calls else ""
        return True, f"resumed{let_go}", calls, events

    def _step(self, s: SteeredSession, c: ControlModel) -> _Handled:
        if c.call_id is None and not s.holds:
            if self.viewers(c.session) <= 0:
                return False, UNWATCHED, [], []
            s.step = True
            return True, "step mode: the next tool call waits", [], []
        handled = self._release(s, c, "allow", "stepped: the call runs, the next one waits")
        s.step = s.step or handled[0]
        return handled

    def _approve(self, s: SteeredSession, c: ControlModel) -> _Handled:
        return self._release(s, c, "allow", "approved, and the rule added: the agent will not ask again"
                             if c.always else "approved: the call runs")

    def _deny(self, s: SteeredSession, c: ControlModel) -> _Handled:
        return self._release(s, c, "deny", "denied: the agent is told why")

    def _cancel(self, s: SteeredSession, c: ControlModel) -> _Handled:
        reason = c.reason or CANCEL_REASON
        calls: list[str] = []
        events: list[Event] = []
        for hold in list(s.holds.values()):
            self._decide(s, hold, self.prompts.deny(reason, interrupt=True) if hold.prompt
                         else self.replies.cancel(reason), c.id)
            calls.append(hold.call_id)
            if not hold.call_id.startswith("permission-"):
                events.append(H.denied_event(c.session, hold.agent, hold.call_id, reason))
        denied = "the held call is denied" if len(calls) == 1 else f"the {len(calls)} held calls are denied"
        if calls and not self.ends_turn:
            return True, f"cancelled: {denied} (the agent's turn goes on)", calls, events
        if calls:
            events.insert(0, _state(c, "idle", reason))
            return True, f"cancelled: {denied} and the turn ends", calls, events
        s.cancel = (c.id, reason)
        if not self.ends_turn:
            return True, "cancel pending: the agent's next tool call is denied (its turn goes on)", [], []
        return True, "cancel pending: the turn ends at the agent's next tool call", [], []

    def _inject(self, s: SteeredSession, c: ControlModel) -> _Handled:
        if not c.text or not c.text.strip():
            return False, "nothing to inject: the text is empty", [], []
        s.injections.append((c.id, c.text))
        return True, "queued: the agent gets it with its next hook reply", [], []

    def _release(self, s: SteeredSession, c: ControlModel, verdict: str, done: str) -> _Handled:
        if not c.call_id and len(s.holds) > 1:
            held = ", ".join(s.holds)
            return False, f"{len(s.holds)} calls are held ({held}): name the one to {c.control}", [], []
        hold = s.holds.get(c.call_id) if c.call_id else next(iter(s.holds.values()), None)
        if hold is None:
            if c.call_id and c.call_id in s.decided:
                return False, f"call {c.call_id} was already decided ({s.decided[c.call_id]}): the first " \
                              "decision wins", [], []
            return False, (f"call {c.call_id} is not held" if c.call_id else "no call is held"), [], []
        if c.always and not (verdict == "allow" and hold.prompt and hold.rules):
            return False, ("only an approve of a permission prompt that offers a rule can add one: this call "
                           "offers none; approve it once"), [], []
        context, events = (None, []) if hold.prompt else self._take_injections(c.session, s)
        if verdict == "allow":
            reply = self.prompts.allow(hold.rules if c.always else None) if hold.prompt \
                else self.replies.allow(context)
            if not hold.prompt:
                s.approved.add(hold.call_id)
                if len(s.approved) > OUTCOMES_KEPT:
                    s.approved.pop()
        else:
            reason = c.reason or DEFAULT_DENY_REASON
            reply = self.prompts.deny(reason) if hold.prompt else H.deny(reason, context)
            if not hold.call_id.startswith("permission-"):
                events.append(H.denied_event(c.session, hold.agent, hold.call_id, reason))
                s.recent.finished(hold.call_id)  # a denied call never reaches PostToolUse
        self._decide(s, hold, reply, c.id)
        return True, done, [hold.call_id], events

    # --- plumbing ---------------------------------------------------------------

    def _decide(self, s: SteeredSession, hold: Hold, reply: dict[str, Any], by: str) -> None:
        if hold.decided:
            return
        hold.reply, hold.decided_by = reply, by
        if s.holds.get(hold.call_id) is hold:
            del s.holds[hold.call_id]
        s.decided[hold.call_id] = by
        if len(s.decided) > OUTCOMES_KEPT:
            s.decided.pop(next(iter(s.decided)))
        for wake in hold.wakers:
            wake(reply)

    def _take_injections(self, session: str, s: SteeredSession) -> tuple[str | None, list[Event]]:
        """All queued texts as one context string, and a ``message.user`` per text delivered."""
        if not s.injections:
            return None, []
        queued, s.injections = s.injections, []
        events = [make_event(f"control:{cid}:delivered", session, Kind.MESSAGE_USER,
                             {"text": text, "origin": "injected", "control_id": cid}) for cid, text in queued]
        return INJECT_HEADING + "\n\n".join(text for _, text in queued), events


_Handled = tuple[bool, str, list[str], list[Event]]


def _asked_twice(session: str, first: Hold, second: str) -> Event:
    """The same call id asked with another input while held: one of the two is not the call the agent runs."""
    text = (f"call {first.call_id} was asked again with another tool or input while held: held apart as "
            f"{second}; one of the two is not what the agent runs, decide each by what it shows")
    return make_event(f"tool:{second}:asked-twice", session, Kind.NOTICE,
                      {"level": "warning", "text": text, "code": "call-asked-twice"}, agent=first.agent)


def _state(c: ControlModel, state: str, reason: str) -> Event:
    return make_event(f"control:{c.id}:state", c.session, Kind.STATE, {"state": state, "reason": reason})
