"""Steering hooked Codex sessions: Claude Code's state machine with Codex's replies and its permission prompts.

Everything Claude Code's :class:`Steering` does holds here (pause, step,
breakpoints, deny, inject, fail-open/closed, first decision wins), with two
differences the CLI imposes: approve cannot allow a call at PreToolUse (Codex
honours only deny there), so it answers no decision and remembers the call,
and the PermissionRequest Codex then sends for it is allowed without asking
again; cancel denies the call (the turn goes on).

A PermissionRequest is where Codex would show the person its own dialog. It
is held (``why=permission``) only where "answer prompts here" is on for the
session (``run`` turns it on) and someone watches; elsewhere it is answered
with no decision at once, so the dialog shows in the agent's terminal, and a
notice says so. It carries no call id: it is matched to the PreToolUse of the
same turn, tool and input, and shown unattached when that is ambiguous.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Any

from ...protocol import ControlModel, Event, Kind, make_event
from ...protocol.controls import DEFAULT_DENY_REASON
from ..claude_code import hooks as CH
from ..claude_code.steering import Hold, HookResult, Steering, _Handled, _Session
from . import hooks as X

PERMISSION = "permission"
ELSEWHERE = "needs permission — answer in the agent's terminal"
#: Calls remembered per session for matching a PermissionRequest (oldest forgotten first).
PENDING_KEPT = 256


class CodexSteering(Steering):
    """Every steered Codex session of one hook endpoint."""

    replies: Any = X

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: session -> call id -> (turn, tool, input) of calls whose PreToolUse came and PostToolUse not yet.
        self._pending: dict[str, OrderedDict[str, tuple[Any, Any, str]]] = {}
        #: session -> calls the person approved at PreToolUse (their permission prompt is allowed at once).
        self._approved: dict[str, set[str]] = {}
        self._unattached = itertools.count(1)

    def on_hook(self, payload: dict[str, Any], fail_closed: bool | None = None,
                prompts_here: bool = False) -> HookResult:
        session = CH.session_of(payload)
        name = payload.get("hook_event_name")
        cid = CH.call_id_of(payload)
        if name == "PreToolUse" and cid is not None:
            pending = self._pending.setdefault(session, OrderedDict())
            pending[cid] = (payload.get("turn_id"), payload.get("tool_name"), X.input_key(payload))
            while len(pending) > PENDING_KEPT:
                pending.popitem(last=False)
        elif name == "PostToolUse" and cid is not None:
            self._forget(session, cid)
        if name == "PermissionRequest":
            return self._permission(session, self._sessions.setdefault(session, _Session()), payload, prompts_here)
        return super().on_hook(payload, fail_closed)

    # --- permission prompts ----------------------------------------------------------

    def _permission(self, session: str, s: _Session, payload: dict[str, Any], prompts_here: bool) -> HookResult:
        cid = self._match(session, payload)
        approved = self._approved.get(session, set())
        if cid is not None and cid in approved:
            approved.discard(cid)
            return HookResult(X.permission(True))
        if not prompts_here or self.viewers(session) <= 0:
            why = "answer prompts here is off for this session" if not prompts_here else "nobody watches it here"
            call = X.command_of(payload) or X.input_key(payload)[:200]
            text = f"{ELSEWHERE} ({why}): {payload.get('tool_name')} {call}"
            notice = make_event(f"hook:{session}:permission-{next(self._unattached)}", session, Kind.NOTICE,
                                {"level": "warning", "text": text, "code": "permission-elsewhere"},
                                agent=CH.agent_of(payload))
            return HookResult({}, [notice])
        label = cid or f"permission-{next(self._unattached)}"
        old = s.holds.get(label)
        if old is not None:
            self._decide(s, old, {}, "a repeated permission request for the same call")
        hold = Hold(session, CH.agent_of(payload), label, PERMISSION, None, False)
        s.holds[label] = hold
        waiting = CH.waiting_event({**payload, "tool_use_id": label}, PERMISSION, None, self.policy.hold_timeout)
        waiting["id"] = f"tool:{label}:permission"
        waiting["data"]["attached"] = cid is not None
        return HookResult(None, [waiting], hold)

    def _match(self, session: str, payload: dict[str, Any]) -> str | None:
        """The one pending call of the same turn, tool and input; None when there is none or several."""
        key = (payload.get("turn_id"), payload.get("tool_name"), X.input_key(payload))
        found = [cid for cid, seen in self._pending.get(session, {}).items() if seen == key]
        return found[0] if len(found) == 1 else None

    def _forget(self, session: str, cid: str) -> None:
        self._pending.get(session, OrderedDict()).pop(cid, None)
        self._approved.get(session, set()).discard(cid)

    # --- decisions -----------------------------------------------------------------

    def _release(self, s: _Session, c: ControlModel, verdict: str, done: str) -> _Handled:
        hold = s.holds.get(c.call_id) if c.call_id else next(iter(s.holds.values()), None)
        if hold is None or hold.reason != PERMISSION:
            if verdict == "allow" and done.startswith("approved"):
                done = "approved: the call goes on under Codex's own approval and sandbox policy"
            handled = super()._release(s, c, verdict, done)
            if handled[0] and verdict == "allow":
                self._approved.setdefault(c.session, set()).update(handled[2])
            return handled
        events: list[Event] = []
        if verdict == "allow":
            reply = X.permission(True)
            done = "approved: the agent's permission prompt is answered yes"
        else:
            reason = c.reason or DEFAULT_DENY_REASON
            reply = X.permission(False, reason)
            if hold.call_id in self._pending.get(c.session, {}):
                events.append(CH.denied_event(c.session, hold.agent, hold.call_id, reason))
        self._decide(s, hold, reply, c.id)
        return True, done, [hold.call_id], events

    def _decide(self, s: _Session, hold: Hold, reply: dict[str, Any], by: str) -> None:
        """A permission hold ended by resume, cancel or the policy gets a PermissionRequest-shaped reply."""
        out = reply.get("hookSpecificOutput") if isinstance(reply, dict) else None
        denied = isinstance(out, dict) and out.get("permissionDecision") == "deny"
        if hold.reason == PERMISSION and not (isinstance(out, dict) and "decision" in out):
            reply = X.permission(False, out.get("permissionDecisionReason")) if denied and out else {}
        if denied:
            self._forget(hold.session, hold.call_id)
        super()._decide(s, hold, reply, by)
