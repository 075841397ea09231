"""Snapshots of the calmer timeline (pytest-textual-snapshot) at 80×24 and 160×45: the 2.1.173 fixture,
usage and state rows hidden, subagents named by their description and completed after their work, the
subagent's answer selected. The clock and the time zone are fixed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CC_FIXTURES
from waiting import until_app

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.replay import first_session
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.rows import parse_ts
from watchkeeper.viewer.screens.session import SessionScreen

SHOWCASE = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"
NOW = parse_ts("2026-06-15T10:05:00.000Z") or 0.0


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    relay = Relay().start()
    relay.add_source(TranscriptSource(SHOWCASE, follow=False))
    assert relay.drain(10)
    yield relay
    relay.stop()
    monkeypatch.undo()
    time.tzset()


async def select_the_subagents_answer(pilot: Any) -> None:
    app = pilot.app
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.info is not None
                    and len(app.screen.timeline.store.events) == app.screen.info.events)
    await app.workers.wait_for_complete()
    store = app.screen.timeline.store
    row = next(i for i, h in enumerate(store.view)
               if store.events[h]["agent"] == "webagent1" and store.events[h]["kind"] == "message.assistant")
    await pilot.press("home", *["down"] * row)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_a_session_with_subagents_calmly(relay: Relay, snap_compare: Any, size: tuple[int, int]) -> None:
    app = WatchkeeperApp(relay, open_session=first_session(SHOWCASE), clock=lambda: NOW)
    assert snap_compare(app, terminal_size=size, run_before=select_the_subagents_answer)
