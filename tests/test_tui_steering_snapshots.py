"""Snapshots of a steerable session waiting for the person, and paused (``--snapshot-update`` rewrites them).

The session is live (its source keeps running) with a fixed clock and time zone, so only a change in
what is drawn changes a snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_tui_steering_unit import LiveHooked, held_session
from test_viewer_support import SESSION, Events
from waiting import until_app

from watchkeeper.adapters.claude_code.hooks import STEERABLE
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.model.rows import parse_ts
from watchkeeper.viewer.screens.session import SessionScreen

SIZE = (120, 30)
NOW = parse_ts("2026-11-27T18:05:00.000Z") or 0.0


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def paused_session() -> list[Any]:
    e = Events()
    out = e.started("Tidy the repository")
    out[0]["data"]["capabilities"] = dict(STEERABLE)
    out += [e.ev("message.assistant", {"text": "I'll list what is there first."}),
            *e.call("toolu_ls", "Bash", {"command": "git status --short"}, " M app.py"),
            e.ev("control.applied", {"control_id": "p1", "control": "pause", "by": "ann@box (tui)",
                                     "reason": "paused: the next tool call waits"}, id="control:p1"),
            e.ev("state", {"state": "paused", "reason": "paused by the user"}, id="control:p1:state")]
    return out


def snapshot_app(events: list[Any], steps: int) -> tuple[WatchkeeperApp, Relay, Any]:
    relay = Relay().start()
    relay.add_source(LiveHooked(events))
    app = WatchkeeperApp(relay, open_session=SESSION, clock=lambda: NOW, steer=SteerSetup(hooks_port=47717))

    async def settle(pilot: Any) -> None:
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and len(app.screen.timeline.store.events)
                        >= steps and app.attention.count == sum(i.needs_attention for i in app.sessions))
        await app.workers.wait_for_complete()
        app.screen.refresh_status()  # what its half-second timer would show next
        await pilot.pause()

    return app, relay, settle


def test_a_call_held_by_a_breakpoint(utc: None, snap_compare: Any) -> None:
    events = held_session(Events(), "Clean the build")
    app, relay, settle = snapshot_app(events, len(events))
    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=settle)
    finally:
        relay.stop()


def test_a_paused_session(utc: None, snap_compare: Any) -> None:
    events = paused_session()
    app, relay, settle = snapshot_app(events, len(events))
    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=settle)
    finally:
        relay.stop()
