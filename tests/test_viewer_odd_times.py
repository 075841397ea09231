"""Timestamps at the ends of what a clock can show: year 1 and year 9999, in zones either side of UTC.

A transcript may carry ``0001-01-01T00:00:00Z`` (a zero value written by a tool) or the last second of
year 9999; in local time either can fall outside the years Python represents. The real replay and watch
apps open such a session, show every row with the raw time, and keep running.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_viewer_support import ClaudeTranscript, screen_text
from waiting import until_app

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.replay import first_session
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.replay_app import ReplayApp
from watchkeeper.viewer.screens.replay import ReplayScreen
from watchkeeper.viewer.screens.session import SessionScreen

SIZE = (120, 30)
EARLIEST, LATEST = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"


@pytest.fixture(params=["UTC0", "JST-9", "HST10"])
def zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time in UTC, nine hours ahead of it and ten behind (POSIX zone strings: no tz database needed)."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def odd_times(path: Path) -> None:
    t = ClaudeTranscript(path)
    first, call, result, last = (t.prompt("year one prompt"), t.tool_use("toolu_1", "Bash", {"command": "ls"}),
                                 t.tool_result("toolu_1", "listed"), t.prompt("year 9999 prompt"))
    first["timestamp"], last["timestamp"] = EARLIEST, LATEST
    t.write(first, call, result, last)


async def test_replay_plays_a_recording_from_year_1_to_year_9999(tmp_path: Path, zone: None) -> None:
    path = tmp_path / "odd.jsonl"
    odd_times(path)
    relay = Relay().start()
    relay.add_source(TranscriptSource(path, follow=False))
    try:
        app = ReplayApp(relay, open_session=first_session(path), speed=0.0, looked_in=[str(path)])
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, ReplayScreen))
            screen = app.screen
            assert isinstance(screen, ReplayScreen)
            await until_app(pilot, lambda: screen.playhead.ended and "year 9999 prompt" in screen_text(app),
                            seen=lambda: screen_text(app))
            text = screen_text(app)
            assert "year one prompt" in text and "Bash" in text
            assert "0001-01-" in text
            assert "■ ended" in screen.player.text
            assert app.is_running
    finally:
        relay.stop()


async def test_watch_opens_a_session_from_year_1_to_year_9999(tmp_path: Path, zone: None) -> None:
    path = tmp_path / "odd.jsonl"
    odd_times(path)
    relay = Relay().start()
    relay.add_source(TranscriptSource(path, follow=False))
    try:
        assert relay.drain(30)
        app = WatchkeeperApp(relay)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: "year one prompt" in screen_text(app), seen=lambda: screen_text(app))
            await pilot.press("enter")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            await until_app(pilot, lambda: "year 9999 prompt" in screen_text(app), seen=lambda: screen_text(app))
            assert "0001-01-" in screen_text(app)
            await pilot.press("v")
            await until_app(pilot, lambda: "year one prompt" in screen_text(app) and "0001-01-" in screen_text(app),
                            seen=lambda: screen_text(app))
            assert app.is_running
    finally:
        relay.stop()
