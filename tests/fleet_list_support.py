"""Sessions from several origins for the grouped sessions-list tests: a hub's own, two edges, one unreachable.

The sources are what a hub's relay (or ``attach`` to it) runs, reduced to
their word on where each session comes from (``OriginSource``) and, for an
edge that left, on its liveness (``StatusSource``); the relay, its feed and
the app are the real ones, with the clock fixed at ``NOW`` so a snapshot
changes only when what is drawn does. Also what the fleet tests do as a
person would: read the list's rows, take a choice in the origin picker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sessions_list_support import NOW, session
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList

from watchkeeper.protocol import Emit, Event
from watchkeeper.protocol.origin import Origin
from watchkeeper.relay import Relay
from watchkeeper.relay.api import SessionInfo
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.picker import Picker

HUB = Origin(None, "hub-1")
ALPHA = Origin("alpha", "build-7")
BETA = Origin("beta", "ci-runner-12.eu-west-1.compute.internal", connected=False)
#: session id -> (origin, events)
SESSIONS: dict[str, tuple[Origin, list[Event]]] = {
    "a1": (ALPHA, session("a1", "claude-code", "Fix the flaky upload test", "/work/uploads",
                          "2026-11-27T18:03:00.000Z", "running", tokens=48_000, extra=20)),
    "a2": (ALPHA, session("a2", "codex", "Bump the lockfile and run the suite", "/work/deps",
                          "2026-11-27T17:10:00.000Z", "idle", tokens=9_000, extra=5)),
    "b1": (BETA, session("b1", "claude-code", "Nightly migration dry run", "/srv/ci/migrations",
                         "2026-11-27T18:01:00.000Z", "running", tokens=120_000, extra=40)),
    "h1": (HUB, session("h1", "sdk", "Hub housekeeping", "/opt/hub", "2026-11-27T16:00:00.000Z", "idle",
                        extra=2)),
}


class FromOrigin:
    """A source whose sessions come from ``origin``; not connected: they are unreachable, not live."""

    def __init__(self, origin: Origin, events: list[Event]) -> None:
        self.name = f"from {origin.edge or origin.host}"
        self.origin = origin
        self.events = events
        self.sessions = {str(e["session"]) for e in events}
        self.changed: Callable[[], None] = lambda: None

    async def run(self, emit: Emit) -> None:
        emit(self.events)
        await asyncio.Event().wait()

    def session_origin(self, session: str) -> Origin | None:
        return self.origin if session in self.sessions else None

    def session_status(self, session: str) -> tuple[bool, str | None] | None:
        if session not in self.sessions or self.origin.connected:
            return None
        return False, "unreachable"

    def on_status_change(self, changed: Callable[[], None]) -> None:
        self.changed = changed


def fleet_relay() -> Relay:
    """A started relay (clock at ``NOW``) with the four sessions in, each from its origin."""
    relay = Relay(clock=lambda: NOW).start()
    for origin, events in SESSIONS.values():
        relay.add_source(FromOrigin(origin, events))
    return relay


def all_in(sessions: list[SessionInfo]) -> bool:
    """Every session is in, with all its events and its origin."""
    infos = {i.session: i for i in sessions}
    return set(infos) == set(SESSIONS) and all(
        infos[sid].events == len(events) and infos[sid].origin == origin
        for sid, (origin, events) in SESSIONS.items())


def row_keys(app: WatchkeeperApp) -> list[str]:
    return [str(k.value) for k in app.screen.query_one(DataTable).rows]


async def choose(pilot: Pilot[Any], picker: Picker, value: str) -> None:
    """Move down the picker's list to ``value`` and take it, as a person does."""
    options = picker.query_one(OptionList)
    for _ in range(options.option_count + 1):
        highlighted = options.highlighted
        if highlighted is not None and options.get_option_at_index(highlighted).id == value:
            await pilot.press("enter")
            return
        await pilot.press("down")
    raise AssertionError(f"{value!r} is not among the choices")
