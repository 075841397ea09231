"""A session at a glance: state, time span, tokens, cost, counts, capabilities.

Folded from the events the viewer receives, one event at a time, so the
status bar never rescans a session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...protocol import Event, Kind
from ...protocol.usage import UsageTally


@dataclass(slots=True)
class Totals:
    """The session at a glance, kept by folding every event once."""

    events: int = 0
    rows: int = 0
    raw: int = 0
    errors: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    cost_usd: float | None = None
    state: str | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    agent_kind: str | None = None
    title: str | None = None
    cwd: str | None = None
    model: str | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    usage: UsageTally = field(default_factory=UsageTally)
    #: calls held right now (waiting for the person): the session is waiting, whatever its last state said.
    held: set[str] = field(default_factory=set)

    def fold(self, event: Event) -> None:
        self.events += 1
        ts = event.get("ts")
        if ts:
            self.first_ts = self.first_ts or ts
            self.last_ts = ts if self.last_ts is None or ts > self.last_ts else self.last_ts
        kind, data = event.get("kind"), event.get("data") or {}
        if kind == Kind.USAGE:
            self._usage(data)
        elif kind == Kind.STATE:
            self.state = data.get("state", self.state)
        elif kind == Kind.SESSION_STARTED:
            for name in ("agent_kind", "title", "cwd", "model"):
                if data.get(name):
                    setattr(self, name, data[name])
            if isinstance(data.get("capabilities"), dict):
                self.capabilities = data["capabilities"]
        elif kind == Kind.SESSION_ENDED:
            self.state = "finished"
        elif kind == Kind.RAW:
            self.raw += 1
        elif kind == Kind.TOOL_WAITING and isinstance(data.get("call_id"), str):
            self.held.add(data["call_id"])
        elif kind in (Kind.TOOL_FINISHED, Kind.CONTROL_APPLIED) and self.held:
            self.held.discard(data.get("call_id"))
            self.held.difference_update(data.get("call_ids") or ())

    @property
    def shown_state(self) -> str | None:
        return "waiting" if self.held and self.state != "finished" else self.state

    def _usage(self, data: dict[str, Any]) -> None:
        self.usage.fold(data)
        self.tokens_in, self.tokens_out, self.cache_read, self.cache_creation = self.usage.tokens
        self.cost_usd = self.usage.cost_usd
