"""``watchkeeper demo`` under the pilot: the three sample sessions arrive, grow live, and open.

The relay and its sources are built by ``commands/demo.py``'s own
``demo_sources``, sped up so the whole demo plays in a few seconds.
"""

from __future__ import annotations

from test_viewer_support import screen_text, until
from textual.widgets import DataTable, Static

from watchkeeper.commands.demo import SAMPLE_LOGS, demo_files, demo_sources
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen

SPEED = 8.0
SIZE = (120, 40)
TITLES = {
    "claude-code": "Set up notes.txt for the demo, then check it.",
    "codex": "What is in this project? And is there a notes.txt?",
    "sdk": "Summarise the open issues",
}


async def test_the_demo_sessions_appear_grow_live_and_open() -> None:
    files = demo_files(SAMPLE_LOGS)
    assert len(files) == 3
    relay = Relay().start()
    for source in demo_sources(files, SPEED):
        relay.add_source(source)
    try:
        app = WatchkeeperApp(relay, looked_in=[f"{SAMPLE_LOGS} (demo)"])
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, SessionsScreen)
            # A session seen live with some events, then seen with more: it grows while we watch.
            grew: dict[str, int] = {}

            def growing() -> bool:
                for info in app.sessions:
                    if info.live and info.events:
                        if info.session in grew and info.events > grew[info.session]:
                            return True
                        grew.setdefault(info.session, info.events)
                return False

            await until(pilot, growing, timeout=30)
            await until(pilot, lambda: len(app.sessions) == 3, timeout=30)
            await until(pilot, lambda: all(t in screen_text(app) for t in TITLES.values()))
            assert {i.agent_kind for i in app.sessions} == set(TITLES)
            # Sessions are listed: the "nothing found" text is gone from under the table.
            assert "No agent sessions found" not in screen_text(app)
            assert not screen.query_one("#empty", Static).display
            assert screen.query_one(DataTable).display

            # Played through, every session holds all of its file's events.
            await until(pilot, lambda: not any(i.live for i in app.sessions), timeout=60)
            claude = next(i for i in app.sessions if i.agent_kind == "claude-code")
            assert claude.events >= 35
            table = screen.query_one(DataTable)
            await until(pilot, lambda: claude.session in [str(k.value) for k in table.rows])
            table.focus()
            await pilot.press("home", *["down"] * table.get_row_index(claude.session), "enter")
            await until(pilot, lambda: isinstance(app.screen, SessionScreen))
            opened = app.screen
            assert isinstance(opened, SessionScreen) and opened.session_id == claude.session
            store = opened.timeline.store
            await until(pilot, lambda: len(store.events) == claude.events)
            await pilot.pause()
            text = screen_text(app)
            assert "Bash  echo hello from bash && pwd" in text and "Write  /home/dev/demo/notes.txt" in text
            assert "✗ error" in text  # `ls missing-dir`
            started = [h for h in store.view if store.events[h]["kind"] == "agent.started"]
            assert len(started) == 1
    finally:
        relay.stop()
