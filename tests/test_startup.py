"""What the first screen of a session costs: nothing it does not need is imported or built before it.

``bench/bench_huge.py`` measures the time (the first screen against an import floor); these
check the two things that time depends on and a change could silently undo: the modules left
to be imported when used (the hook server's aiohttp, the inbox and help screens), and the
sessions list built only when the person first goes back to it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from test_viewer_support import SESSION, Events, relay_with, screen_text
from waiting import until_app

from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen

SIZE = (120, 30)
LATER = ("aiohttp", "watchkeeper.relay.servers.hookserver", "watchkeeper.viewer.screens.inbox",
         "watchkeeper.viewer.screens.help")


def test_the_first_screen_imports_nothing_it_does_not_use() -> None:
    """What ``watchkeeper watch --no-hooks`` imports before its app runs (``commands/watch.py``'s ``run``)."""
    code = ("import sys, argparse\n"
            "from watchkeeper.commands import watch\n"
            "from watchkeeper.viewer import WatchkeeperApp\n"
            "from watchkeeper.adapters.files.source import TranscriptSource\n"
            "from watchkeeper.relay import Relay\n"
            "watch.start_steering(Relay(), hooks=False)\n"
            f"print([m for m in {LATER!r} if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def relay() -> Iterator[Relay]:
    r = relay_with(Events().whole_session())
    yield r
    r.stop()


async def test_opened_on_a_session_the_sessions_list_is_built_on_the_way_back(relay: Relay) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION)
    async with app.run_test(size=SIZE) as pilot:
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
        assert not any(isinstance(s, SessionsScreen) for s in app.screen_stack)
        await pilot.press("escape")
        await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen) and "claude-code" in screen_text(app))
        await pilot.press("enter")
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
        assert app.screen.session_id == SESSION  # type: ignore[attr-defined]
        await pilot.press("escape")
        await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))
        assert sum(isinstance(s, SessionsScreen) for s in app.screen_stack) == 1
