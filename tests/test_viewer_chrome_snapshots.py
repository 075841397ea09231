"""Snapshots of the chrome at 80×24 and 160×45: footer, badges, player bar and help as they fit
(pytest-textual-snapshot; ``--snapshot-update`` rewrites them).

A session observe-only and one steerable with a call held, a replay at its
end, and the help over a session. The clock and the time zone are fixed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SAMPLE_LOGS
from test_tui_steering_snapshots import snapshot_app
from test_tui_steering_unit import held_session
from test_viewer_support import SESSION, Events, relay_with
from waiting import until_app

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.replay import first_session
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.rows import parse_ts
from watchkeeper.viewer.replay_app import ReplayApp
from watchkeeper.viewer.screens.help import HelpScreen
from watchkeeper.viewer.screens.replay import ReplayScreen
from watchkeeper.viewer.screens.session import SessionScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 45), id="160x45")]
NOW = parse_ts("2026-11-27T18:05:00.000Z") or 0.0
SAMPLE = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def observed() -> tuple[WatchkeeperApp, Relay]:
    relay = relay_with(Events().whole_session())
    return WatchkeeperApp(relay, open_session=SESSION, clock=lambda: NOW), relay


async def settle_session(pilot: Any) -> None:
    app = pilot.app
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                    and len(app.screen.timeline.store.events) == len(Events().whole_session()))
    await app.workers.wait_for_complete()
    app.screen.refresh_status()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_an_observe_only_session(size: tuple[int, int], snap_compare: Any) -> None:
    app, relay = observed()
    try:
        assert snap_compare(app, terminal_size=size, run_before=settle_session)
    finally:
        relay.stop()


@pytest.mark.parametrize("size", SIZES)
def test_a_steerable_session_with_a_call_held(size: tuple[int, int], snap_compare: Any) -> None:
    events = held_session(Events(), "Clean the build")
    app, relay, settle = snapshot_app(events, len(events))
    try:
        assert snap_compare(app, terminal_size=size, run_before=settle)
    finally:
        relay.stop()


@pytest.mark.parametrize("size", SIZES)
def test_a_replay_at_its_end(size: tuple[int, int], snap_compare: Any) -> None:
    relay = Relay().start()
    relay.add_source(TranscriptSource(SAMPLE, follow=False))
    app = ReplayApp(relay, open_session=first_session(SAMPLE), paused=True, looked_in=[str(SAMPLE)])

    async def settle(pilot: Any) -> None:
        await until_app(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.playhead.loaded)
        await pilot.press("G")
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        await until_app(pilot, lambda: "■ ended" in screen.player.text
                        and len(screen.timeline.store.events) == screen.playhead.total)
        await app.workers.wait_for_complete()
        screen.refresh_status()
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=size, run_before=settle)
    finally:
        relay.stop()


@pytest.mark.parametrize("size", SIZES)
def test_help_over_a_session(size: tuple[int, int], snap_compare: Any) -> None:
    app, relay = observed()

    async def settle(pilot: Any) -> None:
        await settle_session(pilot)
        await pilot.press("question_mark")
        await until_app(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=size, run_before=settle)
    finally:
        relay.stop()
