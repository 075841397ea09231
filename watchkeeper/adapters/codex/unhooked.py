"""Codex calls its hooks never see, said for what they are when a pause, step or breakpoint would have held them.

Codex 0.171.0 sends no PreToolUse for ``write_stdin`` (input typed into a
command already running). A paused session says its next call waits; such a
call goes on all the same. Its rollout still shows it, so when one appears in
a hooked session that is paused or stepping, or a breakpoint rule matches it,
the session gets a notice: it ran, and could not be held.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ...protocol import Event, Kind, make_event
from ...protocol.payloads import NoticeData
from .steering import CodexSteering

#: Codex's function tools that run without a PreToolUse (measured on 0.171.0).
UNHOOKED = frozenset({"write_stdin"})
#: Calls already told of, per relay (a rebuilt history delivers its events again).
TOLD_KEPT = 10_000
WHY = {"paused": "the session is paused", "step": "the session is in step mode"}


class Unhooked:
    """A relay subscriber: ``emit`` takes the notices (the hook endpoint's own events)."""

    def __init__(self, steering: CodexSteering, emit: Callable[[list[Event]], None]) -> None:
        self.steering = steering
        self.emit = emit
        self._told: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __call__(self, batch: list[Event]) -> None:
        notices = [n for ev in batch if (n := self._notice(ev)) is not None]
        if notices:
            asyncio.get_running_loop().call_soon(self.emit, notices)

    def _notice(self, ev: Event) -> Event | None:
        data: Any = ev.get("data")
        if (ev.get("kind") != Kind.TOOL_STARTED or not isinstance(data, dict) or not isinstance(data.get("name"), str)
                or data["name"] not in UNHOOKED):
            return None
        session, call_id = ev.get("session"), data.get("call_id")
        if not isinstance(session, str) or not isinstance(call_id, str) or not self.steering.knows(session):
            return None
        payload = {"hook_event_name": "PreToolUse", "session_id": session, "tool_name": data["name"],
                   "tool_input": data.get("input"), "tool_use_id": call_id}
        reason, rule = self.steering.would_hold(session, payload)
        if reason is None or (session, call_id) in self._told:
            return None
        self._told[(session, call_id)] = None
        if len(self._told) > TOLD_KEPT:
            self._told.popitem(last=False)
        why = f"breakpoint {rule!r} matched it" if reason == "breakpoint" else WHY.get(reason, reason)
        notice: NoticeData = {"level": "warning", "code": "call-not-held",
                              "text": f"{data['name']} ({call_id}) ran without being held although {why}: Codex "
                                      "sends no hook for input typed into a command already running"}
        return make_event(f"hook:codex:{session}:{call_id}:not-held", session, Kind.NOTICE, notice)
