"""The viewer over a huge transcript opened tail-first: the newest rows first, then the whole history.

Real relay, real transcript source, the app under its pilot. ``HeldIndexer``
keeps the background conversion waiting until the tail is on screen; once
released, the timeline must adopt the whole history with the cursor where the
person left it (or still following the newest row).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from huge_support import SESSION, WAIT, HeldIndexer, copies, grow, sample_session
from test_viewer_support import screen_text, status_text
from textual.message import Message
from waiting import until, until_app

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.feed import EventFeed, EventsArrived, HistoryRebuilt
from watchkeeper.viewer.model.history_reload import HistoryReload
from watchkeeper.viewer.screens.session import SessionScreen

SIZE = (120, 40)
TAIL_FIRST = 1 << 20


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    grow(path, sample_session(), 3 * TAIL_FIRST)
    return path


def source(path: Path, tail: int = 256 << 10) -> TranscriptSource:
    return TranscriptSource(path, follow=True, poll_interval=0.1, tail_first=TAIL_FIRST, tail_bytes=tail)


def newest(path: Path) -> str:
    return [e["id"] for e in convert_file(path) if e["kind"].startswith("message.")][-1]


def append_copy(path: Path, copy: int) -> None:
    with path.open("ab") as f:
        f.write(copies(sample_session(), 1, first=copy))


def selected_id(screen: SessionScreen) -> str | None:
    head = screen.timeline.selected_head
    return screen.timeline.store.events[head]["id"] if head is not None else None


def cursor_on_screen(timeline) -> bool:  # type: ignore[no-untyped-def]
    return bool(timeline.scroll_offset.y <= timeline.cursor < timeline.scroll_offset.y + timeline.size.height)


def row_text(screen: SessionScreen, event_id: str) -> str:
    timeline = screen.timeline
    head = next(i for i, e in enumerate(timeline.store.events) if e["id"] == event_id)
    return timeline.render_row(head, timeline.scrollable_content_region.width).text.rstrip()[:60]


async def open_tail(app: WatchkeeperApp, pilot, big: Path) -> SessionScreen:  # type: ignore[no-untyped-def]
    """The session screen once the newest message is in its timeline, and on screen."""
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    last = newest(big)
    await until_app(pilot, lambda: any(e["id"] == last for e in screen.timeline.store.events))
    timeline = screen.timeline
    assert timeline.follow and timeline.cursor == len(timeline.store.view) - 1
    row = row_text(screen, last)
    await until_app(pilot, lambda: row in screen_text(app))
    await until_app(pilot, lambda: cursor_on_screen(timeline))
    return screen


async def test_newest_rows_first_then_the_whole_history_with_the_cursor_kept(big: Path) -> None:
    relay = Relay().start()
    try:
        with HeldIndexer() as held:
            relay.add_source(source(big))
            app = WatchkeeperApp(relay, open_session=SESSION)
            async with app.run_test(size=SIZE) as pilot:
                screen = await open_tail(app, pilot, big)
                timeline = screen.timeline
                whole = len(list(convert_file(big)))
                assert len(timeline.store.events) < whole / 4
                await until_app(pilot, lambda: "indexing earlier history" in status_text(app))

                append_copy(big, 1000)
                last = newest(big)
                await until_app(pilot, lambda: any(e["id"] == last for e in timeline.store.events))
                await pilot.press("up", "up", "up")
                assert not timeline.follow
                chosen = selected_id(screen)
                assert chosen is not None
                held.release()

                expected = [e["id"] for e in convert_file(big)]
                await until_app(pilot, lambda: len(timeline.store.events) == len(expected), timeout=WAIT)
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert [e["id"] for e in timeline.store.events] == expected
                assert selected_id(screen) == chosen and not timeline.follow
                assert timeline.cursor < len(timeline.store.view) - 3
                assert cursor_on_screen(timeline)
                await until_app(pilot, lambda: "earlier history" not in status_text(app))
                assert f"{len(expected):,} events" in status_text(app)
    finally:
        relay.stop()


async def test_following_the_newest_row_survives_the_reload(big: Path) -> None:
    """The screen is open and idle first, so the whole tail lands in its first, single batch."""
    relay = Relay().start()
    try:
        with HeldIndexer() as held:
            app = WatchkeeperApp(relay, open_session=SESSION)
            async with app.run_test(size=SIZE) as pilot:
                await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
                await pilot.pause()
                relay.add_source(source(big, tail=2 << 20))  # more than two screens of rows shown
                screen = await open_tail(app, pilot, big)
                timeline = screen.timeline
                tail_rows = len(timeline.store.view)
                assert tail_rows > 2 * timeline.size.height
                held.release()
                whole = len(list(convert_file(big)))
                await until_app(pilot, lambda: len(timeline.store.events) == whole, timeout=WAIT)
                await pilot.pause()
                assert len(timeline.store.view) > tail_rows
                assert timeline.follow and timeline.cursor == len(timeline.store.view) - 1
                assert timeline.selected_head == timeline.store.view[-1]
                assert timeline.store.events[-1]["id"] == [e["id"] for e in convert_file(big)][-1]
    finally:
        relay.stop()


class Inbox:
    """Where a feed posts its messages (the screen, in the app)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.cond = threading.Condition()

    def post_message(self, message: Message) -> bool:
        with self.cond:
            self.messages.append(message)
            self.cond.notify_all()
        return True

    def wait(self, pred, timeout: float = WAIT) -> bool:  # type: ignore[no-untyped-def]
        return until(pred, timeout=timeout, condition=self.cond)


def test_the_feed_splits_history_from_live_events(big: Path) -> None:
    """History of the new generation goes to the reload, live events to the screen, none twice."""
    relay = Relay().start()
    inbox = Inbox()
    feed = EventFeed(relay, inbox, SESSION, reloads=True)  # type: ignore[arg-type]
    shown: list = []
    try:
        with HeldIndexer() as held:
            feed.start()
            relay.add_source(source(big))
            last = newest(big)
            assert inbox.wait(lambda: any(isinstance(m, EventsArrived) for m in inbox.messages))
            assert _drain_until(feed, inbox, shown, lambda: last in [e["id"] for e in shown])
            held.release()
        assert inbox.wait(lambda: any(isinstance(m, HistoryRebuilt) for m in inbox.messages))
        reload = next(m.reload for m in inbox.messages if isinstance(m, HistoryRebuilt))
        history: list = []
        while (batch := reload.take(timeout=WAIT)) is not None:
            history += batch
        assert [e["id"] for e in history] == [e["id"] for e in convert_file(big)]
        assert reload.fraction == 1.0

        before = len(shown)
        append_copy(big, 2000)
        last = newest(big)
        assert _drain_until(feed, inbox, shown, lambda: last in [e["id"] for e in shown])
        live = shown[before:]
        assert all(e["seq"] >= reload.end for e in live)
        assert [e["id"] for e in history + live] == [e["id"] for e in convert_file(big)]
    finally:
        feed.close()
        relay.stop()


def _drain_until(feed: EventFeed, inbox: Inbox, shown: list, pred) -> bool:  # type: ignore[no-untyped-def]
    def ready() -> bool:
        shown.extend(feed.drain())
        return pred()

    return inbox.wait(ready)


async def test_a_filter_carries_over_to_the_whole_history(big: Path) -> None:
    relay = Relay().start()
    try:
        with HeldIndexer() as held:
            relay.add_source(source(big))
            app = WatchkeeperApp(relay, open_session=SESSION)
            async with app.run_test(size=SIZE) as pilot:
                screen = await open_tail(app, pilot, big)
                timeline = screen.timeline
                screen.apply_filter(screen.filter.with_(tool="Bash"))
                await until_app(pilot, lambda: timeline.store.filter.tool == "Bash")
                tail_rows = len(timeline.store.view)
                held.release()
                whole = list(convert_file(big))
                await until_app(pilot, lambda: len(timeline.store.events) == len(whole), timeout=WAIT)
                await app.workers.wait_for_complete()
                await until_app(pilot, lambda: timeline.store.filter.tool == "Bash")
                started = [e["data"] for e in whole if e["kind"] == "tool.started"]
                bash = {d["call_id"] for d in started if d["name"] == "Bash"}
                store = timeline.store
                assert len(store.view) == len(bash) > tail_rows
                assert all(store.call_of(h).name == "Bash" for h in store.view)  # type: ignore[union-attr]
    finally:
        relay.stop()


async def test_live_events_shown_while_the_history_loads_are_kept(big: Path) -> None:
    """The screen's side alone: a rebuilt history handed over by hand, live events from the real relay."""
    relay = Relay().start()
    try:
        relay.add_source(TranscriptSource(big, follow=True, poll_interval=0.1, tail_first=None))
        app = WatchkeeperApp(relay, open_session=SESSION)
        async with app.run_test(size=SIZE) as pilot:
            history = list(convert_file(big))
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen) and screen.feed is not None
            timeline = screen.timeline
            await until_app(pilot, lambda: len(timeline.store.events) == len(history))
            reload = HistoryReload(0, len(history))
            screen.post_message(HistoryRebuilt(screen.feed, reload))
            await until_app(pilot, lambda: "loading earlier history… 0%" in status_text(app))

            append_copy(big, 3000)
            last = newest(big)
            await until_app(pilot, lambda: any(e["id"] == last for e in timeline.store.events))
            live = [e["id"] for e in timeline.store.events[len(history):]]
            assert live
            reload.put([dict(e) for e in history])
            await until_app(pilot, lambda: "earlier history" not in status_text(app))
            assert [e["id"] for e in timeline.store.events] == [e["id"] for e in history] + live
    finally:
        relay.stop()
