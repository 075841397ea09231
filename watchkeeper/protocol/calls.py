"""Tool calls as one record each: events with the same (session, call_id) update one call.

A hooked session reports a call through the hook (waiting) and the transcript
(started, finished); whichever source knows a fact first fills it in, and a
later, less final event never moves a finished call back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from .controls import released
from .kinds import FINAL_TOOL_STATUSES, Kind, ToolStatus
from .payloads import ControlOutcomeData, ToolFinishedData, ToolStartedData, ToolWaitingData

TOOL_KINDS = frozenset({Kind.TOOL_STARTED, Kind.TOOL_WAITING, Kind.TOOL_FINISHED})


@dataclass(slots=True)
class ToolCall:
    session: str
    call_id: str
    agent: str = "main"
    name: str | None = None
    input: Any = None
    status: str = ToolStatus.RUNNING
    started_ts: str | None = None
    finished_ts: str | None = None
    output: Any = None
    is_error: bool = False
    duration_ms: float | None = None
    wait_reason: str | None = None
    #: while held: when the hold ends by itself (None: never).
    wait_expires_at: str | None = None
    event_ids: list[str] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.status in FINAL_TOOL_STATUSES


def apply(call: ToolCall | None, event: dict[str, Any]) -> ToolCall:
    """Fold one tool event into its call; pure apart from updating ``call`` in place."""
    data: ToolStartedData = event["data"]
    if call is None:
        call = ToolCall(event["session"], data["call_id"], event.get("agent", "main"))
    if event["id"] not in call.event_ids:
        call.event_ids.append(event["id"])
    if call.name is None and data.get("name"):
        call.name = data["name"]
    if call.input is None and data.get("input") is not None:
        call.input = data["input"]
    kind = event["kind"]
    if kind == Kind.TOOL_STARTED:
        call.started_ts = call.started_ts or event["ts"]
    elif kind == Kind.TOOL_WAITING:
        call.started_ts = call.started_ts or event["ts"]
        if not call.final:
            call.status = ToolStatus.WAITING
            call.wait_reason = cast(ToolWaitingData, data).get("reason")
            call.wait_expires_at = cast(ToolWaitingData, data).get("expires_at")
    elif kind == Kind.TOOL_FINISHED:
        done = cast(ToolFinishedData, data)
        call.status = done.get("status") or (ToolStatus.ERROR if done.get("is_error") else ToolStatus.OK)
        call.is_error = bool(done.get("is_error"))
        call.output = done.get("output")
        call.duration_ms = done.get("duration_ms")
        call.finished_ts = event["ts"]
        call.wait_reason = call.wait_expires_at = None
    return call


def running(call: ToolCall) -> ToolCall:
    """A held call that was let go: waiting turns back into running."""
    if call.status == ToolStatus.WAITING:
        call.status = ToolStatus.RUNNING
        call.wait_reason = call.wait_expires_at = None
    return call


class CallTable:
    """All calls seen, by (session, call_id)."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], ToolCall] = {}

    def update(self, event: dict[str, Any]) -> ToolCall | None:
        if event.get("kind") not in TOOL_KINDS:
            return None
        call_id = event["data"].get("call_id")
        if not call_id or not isinstance(call_id, str):
            return None
        key = (event["session"], call_id)
        call = apply(self._calls.get(key), event)
        self._calls[key] = call
        return call

    def get(self, session: str, call_id: str) -> ToolCall | None:
        return self._calls.get((session, call_id))

    def release(self, event: dict[str, Any]) -> list[ToolCall]:
        """A ``control.applied`` event: the held calls it let go are running again; those calls."""
        session, data = event["session"], event.get("data")
        ids = released(cast(ControlOutcomeData, data)) if isinstance(data, dict) else []
        return [running(call) for cid in ids if (call := self._calls.get((session, cid))) is not None]

    def forget_final(self, keep: int) -> None:
        """Forget the oldest finished calls until at most ``keep`` remain (running and held ones stay)."""
        calls = self._calls
        drop = len(calls) - keep
        if drop <= 0:
            return
        old = [k for k, c in calls.items() if c.final][:drop]
        for k in old:
            del calls[k]

    def __len__(self) -> int:
        return len(self._calls)
