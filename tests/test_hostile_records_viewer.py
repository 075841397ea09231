"""The real app under its pilot on a transcript with hostile records between good ones.

Every row of the session is rendered and shown in the detail pane, and search finds text on both
sides of the bad records: deep nesting, a prompt of tens of MB, invalid UTF-8 and NUL bytes
neither crash the viewer nor hide the good events.
"""

from __future__ import annotations

from pathlib import Path

from hostile_support import BIG, FIRST, LAST, SESSION, hostile_transcript
from test_viewer_app import SIZE, detail_text
from test_viewer_support import screen_text
from waiting import until_app

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen


async def test_rows_detail_and_search_go_on_past_hostile_records(tmp_path: Path) -> None:
    hostile_transcript(tmp_path / f"{SESSION}.jsonl", big_mb=12)
    relay = Relay().start()
    relay.add_source(TranscriptSource(tmp_path / f"{SESSION}.jsonl", follow=False))
    try:
        assert relay.drain(30)
        info = relay.session(SESSION)
        assert info is not None
        app = WatchkeeperApp(relay, open_session=SESSION)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            store = screen.timeline.store
            await until_app(pilot, lambda: len(store.events) == info.events)
            await pilot.pause()

            shown: list[str] = []
            await pilot.press("home")
            for row in range(len(store.view)):
                assert screen.timeline.cursor == row
                shown.append(detail_text(app))
                await pilot.press("down")
            everything = "\n".join(shown)
            assert FIRST in everything and LAST in everything
            assert "from-the-future" in everything and "echo deep" in everything
            assert BIG * 50 in everything and "not utf-8" in everything
            assert screen_text(app)

            for needle, row_text in (("from-the-future", "from-the-future"), ("last good prompt", LAST),
                                     ("echo deep", "echo deep")):
                await pilot.press("slash", *needle)
                await app.workers.wait_for_complete()
                await until_app(pilot, lambda: 0 < len(store.view) < 10)
                assert row_text in screen_text(app)
                await pilot.press("enter", "x")
                await until_app(pilot, lambda: len(store.view) > 10)
    finally:
        relay.stop()
