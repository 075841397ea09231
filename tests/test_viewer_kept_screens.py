"""A session screen left is kept: coming back finds it where it was, current, without reading its history again.

Reading a huge session's history into a screen takes seconds (12-20 s for a 1 GB
transcript, converted again from its start), so leaving a session for the list and
coming back used to cost that each time, and lost the place. The app keeps the
screens shown last (``kept_screens.KEEP``); one let go past that frees its rows.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from test_viewer_support import SESSION, Events, relay_with
from waiting import until_app

from watchkeeper.relay import IterSource, Relay
from watchkeeper.viewer import WatchkeeperApp, kept_screens
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen

SIZE = (120, 40)
OTHER = "44444444-2222-4333-8444-555555555555"


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def relay(events: Events) -> Iterator[Relay]:
    other = Events(OTHER)
    relay = relay_with([*events.started(), *events.bash_calls(0, 100), *other.started("Second task")])
    yield relay
    relay.stop()


async def opened(app: WatchkeeperApp, pilot: object, heads: int) -> SessionScreen:
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    await until_app(pilot, lambda: len(screen.timeline.store.heads) == heads)
    return screen


async def to_the_other_session(app: WatchkeeperApp, pilot: object) -> None:
    """Back to the list, then the other session opened: the first screen is left."""
    await pilot.press("escape")  # type: ignore[attr-defined]
    await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))
    app.open_session(OTHER)
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.session_id == OTHER)


async def test_coming_back_to_a_session_finds_it_where_it_was_with_what_came_meanwhile(
        relay: Relay, events: Events) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot, 102)
        await pilot.press("up", "up", "up")
        cursor, head = screen.timeline.cursor, screen.timeline.selected_head
        await pilot.press("escape")
        await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))
        relay.add_source(IterSource("later", events.bash_calls(100, 5)))
        await until_app(pilot, lambda: len(screen.timeline.store.heads) == 107, what="events while not shown")
        assert app.open_session(SESSION) is screen
        await until_app(pilot, lambda: app.screen is screen)
        assert (screen.timeline.cursor, screen.timeline.selected_head) == (cursor, head), "the place was lost"
        assert sum(s is screen for s in app.screen_stack) == 1


async def test_a_session_opened_from_the_inbox_over_its_own_screen_goes_back_to_it(relay: Relay) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot, 102)
        await pilot.press("h")
        await until_app(pilot, lambda: app.screen is not screen)
        depth = len(app.screen_stack)
        assert app.open_session(SESSION) is screen
        await until_app(pilot, lambda: app.screen is screen)
        assert len(app.screen_stack) == depth - 1, "the session's screen is not shown twice"


@pytest.mark.parametrize(("bound", "value"), [("KEEP", 1), ("KEEP_EVENTS", 150)])
async def test_a_session_screen_let_go_past_the_bounds_frees_its_rows_and_subscription(
        relay: Relay, monkeypatch: pytest.MonkeyPatch, bound: str, value: int) -> None:
    """Past ``KEEP`` screens, or ``KEEP_EVENTS`` events between them (three 1 GB transcripts would hold
    ~450 MB): the least recently shown goes, by reference counting alone (a cycle frozen by ``gc.freeze()``
    would never be freed); the screen shown last stays, whatever it holds."""
    monkeypatch.setattr(kept_screens, bound, value)
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        first = await opened(app, pilot, 102)
        store = weakref.ref(first.timeline.store)
        feed = first.feed
        del first
        gc.collect()
        gc.disable()  # as if frozen: only reference counting may free the rows
        try:
            await to_the_other_session(app, pilot)
            assert app.kept.get(SESSION) is None and app.kept.get(OTHER) is app.screen
            await until_app(pilot, lambda: store() is None, what="the rows of the screen let go")
            await until_app(pilot, lambda: feed is None or feed._sub is None, what="its subscription closed")
        finally:
            gc.enable()
