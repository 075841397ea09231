"""What keeps the session screen within its frame budget, checked by behaviour rather than by timing.

A batch grows the timeline's scroll range without a layout of the screen; rows
kept for scrolling are no reference cycles (a cycle frozen by ``gc.freeze()``
is never freed); the detail pane changes with the cursor in the same turn
(one frame per key, not two); a session that ends while followed shows its
last events; the sessions list, not redrawn while hidden, is current again on
return (a session screen let go frees its rows: ``test_viewer_kept_screens.py``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from rich.console import Console
from test_viewer_support import SESSION, Events, relay_with, screen_text
from textual.geometry import Region
from textual.strip import Strip
from waiting import until_app

from watchkeeper.relay import IterSource, Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen
from watchkeeper.viewer.widgets.detail_pane import DetailPane
from watchkeeper.viewer.widgets.timeline import Timeline
from watchkeeper.viewer.widgets.timeline_lines import ROW_CACHE

SIZE = (120, 40)


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def relay(events: Events) -> Iterator[Relay]:
    relay = relay_with([*events.started(), *events.bash_calls(0, 100)])
    yield relay
    relay.stop()


async def opened(app: WatchkeeperApp, pilot: object) -> SessionScreen:
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    await until_app(pilot, lambda: len(screen.timeline.store.heads) == 102)
    return screen


def detail_text(app: WatchkeeperApp) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(app.screen.query_one(DetailPane).renderable())
    return console.export_text()


async def test_a_batch_grows_the_scroll_range_at_once(relay: Relay, events: Events) -> None:
    """Before the next frame: the scroll range, the position at the newest row; then the screen shows it."""
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        timeline = (await opened(app, pilot)).timeline
        timeline.set_live(True)
        await pilot.pause()
        assert timeline.follow and timeline.show_vertical_scrollbar
        timeline.add_events(events.bash_calls(100, 20))
        assert timeline.virtual_size.height == len(timeline.store.view) == 122
        assert timeline.scroll_offset.y == timeline.max_scroll_y > 0
        await pilot.pause()
        assert "echo 119" in screen_text(app)
        assert timeline.cursor == len(timeline.store.view) - 1


async def test_rows_kept_for_scrolling_are_not_reference_cycles(events: Events) -> None:
    relay = relay_with([*events.started(), *events.bash_calls(0, ROW_CACHE * 2)])
    try:
        app = WatchkeeperApp(relay, open_session=SESSION)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            timeline = app.screen.query_one(Timeline)
            await until_app(pilot, lambda: len(timeline.store.view) == ROW_CACHE * 2 + 2)
            height = timeline.size.height
            gc.disable()
            timeline.scroll_to(y=1, animate=False, immediate=True)  # drops the last frame's strips...
            gc.collect()  # ...which Textual's compositor made cyclic: not ours to count
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                for top in range(0, len(timeline.store.view) - height, height):
                    timeline.scroll_to(y=top, animate=False, immediate=True)
                    for y in range(height):
                        timeline.render_line(y)
                gc.collect()
                strips = [o for o in gc.garbage if isinstance(o, Strip)]
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
                gc.enable()
            assert len(timeline.lines.cache) == ROW_CACHE  # rows were evicted from the cache...
            assert strips == []  # ...and freed by reference counting, not left for a full collection
    finally:
        relay.stop()


async def test_a_click_selects_the_row_under_it_when_scrolled(relay: Relay) -> None:
    """Rows carry no meta (applying it rebuilt every row drawn): a click finds its row by where it is."""
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        timeline = (await opened(app, pilot)).timeline
        timeline.cursor = 90
        await pilot.pause()
        top = timeline.scroll_offset.y
        assert top > 0
        assert await pilot.click(Timeline, offset=(20, 5))
        assert timeline.cursor == top + 5
        call = timeline.store.call_of(timeline.store.view[timeline.cursor])
        assert call is not None and f"echo {call.call_id.removeprefix('toolu_')}" in timeline.render_line(5).text


async def test_the_detail_pane_changes_with_the_cursor_in_the_same_turn(relay: Relay) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        timeline = (await opened(app, pilot)).timeline
        for row in (10, 57, 3):
            timeline.cursor = row
            call = timeline.store.call_of(timeline.store.view[row])
            assert call is not None and f"echo {call.call_id.removeprefix('toolu_')}" in detail_text(app)


async def test_following_a_flood_ends_with_the_newest_row_in_detail(relay: Relay, events: Events) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        timeline = (await opened(app, pilot)).timeline
        timeline.set_live(True)
        for first in range(100, 400, 30):
            timeline.add_events(events.bash_calls(first, 30))
        assert timeline.follow and timeline.cursor == len(timeline.store.view) - 1
        await until_app(pilot, lambda: "echo 399" in detail_text(app))
        await pilot.press("up")
        assert "echo 398" in detail_text(app)


async def test_a_session_that_ends_while_followed_shows_its_last_events(relay: Relay, events: Events) -> None:
    """The relay may announce the end before it flushes the last events: they are still followed."""
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(app, pilot)
        timeline, feed, info = screen.timeline, screen.feed, app.session_info(SESSION)
        assert feed is not None and info is not None
        timeline.set_live(True)
        newest = timeline.store.events[-1]["seq"]
        last = events.bash_calls(100, 1)
        for i, event in enumerate(last, 1):
            event["seq"] = newest + i
        screen.session_changed(replace(info, live=False, last_seq=newest + len(last)))
        assert timeline.live and timeline.follow  # its last events are still on their way
        feed._on_batch(last)  # as the relay's thread delivers them
        await until_app(pilot, lambda: not timeline.live)
        assert timeline.cursor == len(timeline.store.view) - 1 and "echo 100" in screen_text(app)

        timeline.set_live(True)
        screen.session_changed(replace(info, live=False, last_seq=newest + 99))  # never to come
        assert timeline.live
        await until_app(pilot, lambda: not timeline.live)  # not for longer than ENDED_GRACE


async def test_the_sessions_list_is_current_again_after_a_session() -> None:
    events = Events()
    relay = relay_with([*events.started("First task"), *events.bash_calls(0, 3)])
    try:
        app = WatchkeeperApp(relay)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: "First task" in screen_text(app))
            await pilot.press("enter")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            other = Events("44444444-2222-4333-8444-555555555555")
            relay.add_source(IterSource("second", other.started("Second task")))
            # Its source read to the end: no later summary will redraw the list, only the return to it.
            await until_app(pilot, lambda: any(i.session == other.session and not i.live for i in app.sessions))
            await pilot.press("escape")
            assert isinstance(app.screen, SessionsScreen)
            await pilot.pause()
            assert "Second task" in screen_text(app)
    finally:
        relay.stop()



@pytest.mark.parametrize("size", [SIZE, (70, 40), (220, 50)], ids=["normal", "narrow", "wide"])
async def test_the_containers_are_never_drawn_and_what_they_hold_always_is(relay: Relay, size: tuple[int, int]) -> None:
    """``#body`` and ``#left`` only place their children, which cover them: drawn, they were two more
    strips cut on every line of every frame. Hidden, everything inside them must still show and be used."""
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=size) as pilot:
        screen = await opened(app, pilot)
        drawn: dict[str, int] = {}
        for name in ("#body", "#left", "#timeline", "#detail", "#search", "#conversation"):
            widget = screen.query_one(name)
            draw = widget.render_lines

            def counted(crop: Region, name: str = name, draw: Callable[[Region], list[Strip]] = draw) -> list[Strip]:
                drawn[name] = drawn.get(name, 0) + 1
                return draw(crop)

            widget.render_lines = counted  # type: ignore[method-assign]
        screen.timeline.cursor = 40
        await pilot.press("slash")
        await pilot.press("e", "c", "h", "o")
        await pilot.pause()
        assert drawn.get("#body", 0) == drawn.get("#left", 0) == 0
        assert drawn["#timeline"] and drawn["#detail"] and drawn["#search"]
        assert "echo" in screen_text(app)
        await pilot.press("enter")
        await until_app(pilot, lambda: screen.timeline.has_focus)
        await pilot.press("v")
        await until_app(pilot, lambda: drawn.get("#conversation", 0) > 0)
        assert drawn.get("#body", 0) == drawn.get("#left", 0) == 0
        # Clicks reach what the hidden containers hold.
        await pilot.press("v")
        await pilot.pause()
        timeline = screen.timeline
        assert await pilot.click("#timeline", offset=(20, 3))
        assert timeline.cursor == timeline.scroll_offset.y + 3
        assert await pilot.click("#detail", offset=(5, 2))
        assert screen.query_one("#detail").has_focus
