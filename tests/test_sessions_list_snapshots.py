"""Snapshots of the sessions list at 80×24 and 160×45 (pytest-textual-snapshot).

Three sessions (live, followed since days ago, finished) on a relay and an app
whose clock is fixed, so only a change in what is drawn changes a snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sessions_list_support import NOW, all_in, three_sessions
from test_viewer_support import screen_text
from waiting import until_app

from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = three_sessions()
    yield relay
    relay.stop()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_sessions_list(relay: Relay, snap_compare: Any, size: tuple[int, int]) -> None:
    async def settle(pilot: Any) -> None:
        app = pilot.app
        shown = ("8d ago", "3m ago")
        await until_app(pilot, lambda: all_in(app.sessions) and all(t in screen_text(app) for t in shown),
                        seen=lambda: screen_text(app))
        await pilot.pause()

    app = WatchkeeperApp(relay, clock=lambda: NOW)
    assert snap_compare(app, terminal_size=size, run_before=settle)
