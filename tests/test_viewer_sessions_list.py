"""The sessions list under the pilot: columns as wide as what they hold; cut, with an ellipsis, only when too narrow.

A row that changes in place (a session's state) grows its column; a narrow
terminal shortens the title and cwd, each cut cell ending in "…", and every
other column stays whole. What is checked is the screen a person sees.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_viewer_support import Events, screen_text
from waiting import until_app

from watchkeeper.relay import IterSource, Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.sessions import COLUMNS, fit

TITLE = "Clean the build directory, then rebuild every package from scratch"
CWD = "/home/dev/projects/watchkeeper-release-candidate"
STATE = "waiting for the second approval"


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay().start()
    e = Events()
    started = e.started(TITLE)
    started[0]["data"]["cwd"] = CWD
    relay.add_source(IterSource("first", [*started, e.ev("state", {"state": "idle"})]))
    yield relay
    relay.stop()


def longer_state(relay: Relay) -> None:
    relay.add_source(IterSource("later", [Events().ev("state", {"state": STATE}, id="state:later")]))


def row(app: WatchkeeperApp) -> str:
    """The session's row on screen (the one line with its agent kind)."""
    return next((line for line in screen_text(app).splitlines() if "claude-code" in line), "")


async def test_a_wide_terminal_shows_every_cell_whole_even_after_it_grew(relay: Relay) -> None:
    app = WatchkeeperApp(relay)
    async with app.run_test(size=(200, 20)) as pilot:
        await until_app(pilot, lambda: TITLE in row(app) and " idle " in row(app), seen=lambda: screen_text(app))
        longer_state(relay)
        # The same row, updated in place with a longer state: its column widens to hold it.
        shown = await until_app(pilot, lambda: line if STATE in (line := row(app)) else None,
                                what="the longer state in full", seen=lambda: screen_text(app))
        assert TITLE in shown and CWD in shown and "…" not in shown
        assert shown.rstrip().endswith(" 4"), "the events column is on screen"


async def test_a_narrow_terminal_cuts_title_and_cwd_with_an_ellipsis(relay: Relay) -> None:
    app = WatchkeeperApp(relay)
    async with app.run_test(size=(100, 20)) as pilot:
        shown = await until_app(pilot, lambda: line if " idle " in (line := row(app)) else None,
                                seen=lambda: screen_text(app))
        assert TITLE not in shown and CWD not in shown
        assert shown.count("…") == 2, "the title and the cwd, each cut with an ellipsis"
        cells = [c.strip() for c in shown.split("  ") if c.strip()]
        title = next(c for c in cells if c.startswith("Clean the build"))
        cwd = next(c for c in cells if c.startswith("/home/"))
        assert title.endswith("…") and TITLE.startswith(title[:-1])
        assert cwd.endswith("…") and CWD.startswith(cwd[:-1])
        assert shown.rstrip().endswith(" 3") and len(shown) <= 100, "every other column stays whole, on screen"

        await pilot.resize_terminal(200, 20)
        await until_app(pilot, lambda: TITLE in row(app) and CWD in row(app), what="the whole title once there is room",
                        seen=lambda: screen_text(app))
        await pilot.resize_terminal(100, 20)
        await until_app(pilot, lambda: "…" in row(app), what="the cut again once the room is gone",
                        seen=lambda: screen_text(app))


def test_the_cwd_then_the_title_give_way_and_only_as_much_as_needed() -> None:
    natural = [1, 11, 66, 48, 7, 13, 6, 6]
    assert len(natural) == len(COLUMNS)
    assert fit(natural, 300) == natural, "room for all: every column as wide as its content"
    assert fit(natural, 140) == [1, 11, 66, 14, 7, 13, 6, 6], "the cwd gives way first"
    narrow = fit(natural, 100)
    assert narrow == [1, 11, 32, 8, 7, 13, 6, 6], "then the title, only as much as needed"
    assert sum(narrow) + 2 * len(narrow) == 100
    assert fit([1, 11, 20, 8, 7, 13, 6, 6], 30) == [1, 11, 12, 8, 7, 13, 6, 6], "no narrower than their minimum"


async def test_a_title_is_shown_as_written_never_as_markup() -> None:
    relay = Relay().start()
    try:
        relay.add_source(IterSource("markup", Events().started("[bold red]rm -rf[/] and [link=x]y[/link]")))
        app = WatchkeeperApp(relay)
        async with app.run_test(size=(160, 20)) as pilot:
            await until_app(pilot, lambda: "[bold red]rm -rf[/] and [link=x]y[/link]" in row(app),
                            seen=lambda: screen_text(app))
    finally:
        relay.stop()
