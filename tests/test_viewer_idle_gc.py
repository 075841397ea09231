"""The app's full collections run between keys (``viewer/idle_gc.py``), not in the middle of one."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from test_viewer_support import SESSION, Events, relay_with
from waiting import until_app

from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.idle_gc import OLDEST_EVERY, QUIET, RECENT, IdleCollector
from watchkeeper.viewer.screens.session import SessionScreen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    yield saved
    gc.set_threshold(*saved)


def test_a_full_collection_waits_for_quiet(thresholds: tuple[int, int, int]) -> None:
    clock = Clock()
    collector = IdleCollector(clock, settled=lambda: True)
    collector.start()
    assert gc.get_threshold() == (thresholds[0], thresholds[1], OLDEST_EVERY)
    gc.collect(1)  # the young collections moved objects into the oldest generation
    assert gc.get_count()[2] >= 1
    collector.touch()
    clock.now += QUIET / 2
    assert not collector.tick(), "a key came in just now: no full collection"
    assert gc.get_count()[2] >= 1
    clock.now += RECENT
    assert collector.tick()
    assert gc.get_count()[2] == 0, "the full collection ran"
    assert not collector.tick(), "nothing new in the oldest generation: nothing to do"
    collector.stop()
    assert gc.get_threshold() == thresholds


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = relay_with(Events().whole_session())
    yield relay
    relay.stop()


async def test_the_app_collects_once_keys_stop(relay: Relay, thresholds: tuple[int, int, int]) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen), "the session screen")
        assert gc.get_threshold()[2] == OLDEST_EVERY
        before = app.idle_gc.last_input
        await pilot.press("up")
        assert app.idle_gc.last_input > before, "a key press counts as input"
        from watchkeeper import retention

        await until_app(pilot, retention.settled, "the process settled, a second after the session screen")
        done = app.idle_gc.collections
        gc.collect(1)
        await until_app(pilot, lambda: app.idle_gc.collections > done, "a full collection once quiet")
    assert gc.get_threshold() == thresholds, "the app restores the collector's thresholds on exit"


def test_nothing_is_collected_before_the_process_settled(thresholds: tuple[int, int, int]) -> None:
    """Until ``retention.settle`` froze the modules and styles, a full collection walks them all."""
    clock = Clock()
    settled = False
    collector = IdleCollector(clock, settled=lambda: settled)
    collector.start()
    gc.collect(1)
    clock.now += 2 * QUIET
    assert not collector.tick(), "not settled yet: no full collection"
    assert gc.get_count()[2] >= 1
    settled = True
    assert collector.tick()
    collector.stop()


async def test_the_sessions_list_alone_settles_the_process(relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    """No session screen opened: the app settles the process itself, and its idle collections follow."""
    from watchkeeper import retention
    from watchkeeper.viewer import app as app_module
    from watchkeeper.viewer.screens.sessions import SessionsScreen

    monkeypatch.setattr(retention, "_settled", False)
    monkeypatch.setattr(app_module, "SETTLE_WITHOUT_SESSION", 0.05)
    app = WatchkeeperApp(relay)
    async with app.run_test(size=(120, 40)) as pilot:
        await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen), "the sessions list")
        await until_app(pilot, retention.settled, "the process settled")


def test_no_collection_of_its_own_within_a_second_of_anyone_elses(thresholds: tuple[int, int, int]) -> None:
    """A stream's own collections (``retention``'s, every few thousand events) leave the idle ones nothing to do."""
    clock = Clock()
    callbacks = list(gc.callbacks)
    collector = IdleCollector(clock, settled=lambda: True)
    collector.start()
    try:
        clock.now += 2 * QUIET
        gc.collect()
        gc.collect(1)
        assert gc.get_count()[2] >= 1
        assert not collector.tick(), "a full collection just ran"
        clock.now += RECENT
        assert collector.tick()
    finally:
        collector.stop()
    assert gc.callbacks == callbacks, "stopped, the collector leaves no callback behind"
