"""Sessions for the sessions-list tests: a live one, one followed since days ago, a finished one.

Read by a real relay whose clock (and the app's) is fixed at ``NOW``, so
"3m ago", "live" and "idle" are what the rules say at that moment.
"""

from __future__ import annotations

import asyncio
from typing import Any

from watchkeeper.protocol import Emit, Event, make_event
from watchkeeper.protocol.envelope import parse_ts
from watchkeeper.relay import IterSource, Relay
from watchkeeper.relay.api import SessionInfo

NOW = parse_ts("2026-11-27T18:05:00.000Z") or 0.0
LONG_TITLE = "Clean the build directory, then rebuild every package from scratch and run the suite twice"
LIVE = "11111111-0000-4000-8000-000000000001"
OLD = "22222222-0000-4000-8000-000000000002"
DONE = "33333333-0000-4000-8000-000000000003"


class Following:
    """A source that emits its events and then keeps running, as a followed transcript does."""

    def __init__(self, name: str, events: list[Event]) -> None:
        self.name = name
        self.events = events

    async def run(self, emit: Emit) -> None:
        emit(self.events)
        await asyncio.Event().wait()


def session(sid: str, agent: str, title: str, cwd: str, ts: str, state: str, tokens: int = 0,
            extra: int = 0) -> list[Event]:
    data: dict[str, Any] = {"agent_kind": agent, "title": title, "cwd": cwd, "model": "m"}
    events = [make_event(f"{sid}:start", sid, "session.started", data, ts=ts),
              make_event(f"{sid}:state", sid, "state", {"state": state}, ts=ts)]
    if tokens:
        events.append(make_event(f"{sid}:usage", sid, "usage", {"input_tokens": tokens, "output_tokens": 0}, ts=ts))
    events += [make_event(f"{sid}:n{i}", sid, "notice", {"level": "info", "text": f"#{i}"}, ts=ts)
               for i in range(extra)]
    return events


def three_sessions() -> Relay:
    """A started relay (clock at ``NOW``) that has the three sessions in."""
    relay = Relay(clock=lambda: NOW).start()
    relay.add_source(Following("live", session(LIVE, "claude-code", LONG_TITLE, "/home/dev/work/myproject",
                                               "2026-11-27T18:02:00.000Z", "running", tokens=12_345, extra=1200)))
    relay.add_source(Following("old", session(OLD, "codex", "Refactor the parser",
                                              "/srv/projects/clients/acme/services/parser-service",
                                              "2026-11-19T17:00:00.000Z", "running", tokens=2_300_000, extra=40)))
    relay.add_source(IterSource("done", [*session(DONE, "sdk", "Nightly report", "/opt/reports",
                                                  "2026-11-27T16:00:00.000Z", "idle", extra=3),
                                         make_event(f"{DONE}:end", DONE, "session.ended", {},
                                                    ts="2026-11-27T16:01:00.000Z")]))
    return relay


def all_in(sessions: list[SessionInfo]) -> bool:
    """Every event of the three is in ``sessions`` (the relay's list, or the app's copy of it)."""
    infos = {i.session: i for i in sessions}
    return len(infos) == 3 and infos[LIVE].events == 1203 and infos[OLD].events == 43 and infos[DONE].events == 6
