"""Snapshots of the main screens (pytest-textual-snapshot); ``--snapshot-update`` rewrites them.

The clock and the time zone are fixed, so only a change in what is drawn
changes a snapshot. Textual is pinned exactly: its releases change snapshots.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_viewer_support import SESSION, Events, relay_with
from waiting import until_app

from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.rows import parse_ts
from watchkeeper.viewer.screens.session import SessionScreen

SIZE = (120, 40)
NOW = parse_ts("2026-11-27T18:05:00.000Z") or 0.0


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    relay = relay_with(Events().whole_session())
    yield relay
    relay.stop()
    monkeypatch.undo()
    time.tzset()


def test_sessions_screen(relay: Relay, snap_compare: Any) -> None:
    async def settle(pilot: Any) -> None:
        await until_app(pilot, lambda: pilot.app.sessions)

    app = WatchkeeperApp(relay, clock=lambda: NOW)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_session_screen_with_an_edit_selected(relay: Relay, snap_compare: Any) -> None:
    async def settle(pilot: Any) -> None:
        app = pilot.app
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                        and len(app.screen.timeline.store.events) >= 21)
        store = app.screen.timeline.store
        edit = next(i for i, h in enumerate(store.view) if (c := store.call_of(h)) is not None and c.name == "Edit")
        await pilot.press(*["down"] * edit)
        await app.workers.wait_for_complete()
        await pilot.pause()

    app = WatchkeeperApp(relay, open_session=SESSION, clock=lambda: NOW)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
