"""The sessions list fits the terminal: state and last activity always shown, the rest as room allows.

Under the pilot at 80, 120 and 200 columns, what a person sees: at 80 the
events and tokens go, the title ends in "…" and the path keeps the project
(``…/work/myproject``); at 200 every cell is whole. A resize lays the columns
out again. The layout itself is pure (``model/session_columns.py``) and
checked at any width.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sessions_list_support import LONG_TITLE, NOW, all_in, three_sessions
from test_viewer_support import Events, screen_text
from textual.pilot import Pilot
from textual.widgets import DataTable
from waiting import until_app

from watchkeeper.relay import IterSource, Relay
from watchkeeper.relay.api import SessionInfo
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.session_columns import cells, cut_end, cut_path, layout
from watchkeeper.viewer.screens.sessions import SessionsScreen

LONG_CWD = "/srv/projects/clients/acme/services/parser-service"


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = three_sessions()
    yield relay
    relay.stop()


def line_of(app: WatchkeeperApp, word: str) -> str:
    return next((line for line in screen_text(app).splitlines() if word in line), "")


def headings(app: WatchkeeperApp) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(c.label) for c in table.columns.values()]


async def shown(app: WatchkeeperApp, pilot: Pilot[Any]) -> None:
    await until_app(pilot, lambda: all_in(app.sessions) and len(app.screen.query_one(DataTable).rows) == 3,
                    what="the three sessions listed", seen=lambda: screen_text(app))
    await until_app(pilot, lambda: "8d ago" in screen_text(app), seen=lambda: screen_text(app))


async def test_at_80_columns_state_and_last_activity_stay_and_counts_go(relay: Relay) -> None:
    app = WatchkeeperApp(relay, clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await shown(app, pilot)
        assert headings(app) == ["", "agent", "title", "cwd", "state", "active"]
        live, old, done = line_of(app, "claude-code"), line_of(app, "codex"), line_of(app, "sdk ")
        assert max(len(line.rstrip()) for line in (live, old, done)) <= 80
        assert "● " in live and " running " in live and "3m ago" in live
        title = LONG_TITLE[:10]
        assert title in live and "…" in live.split(title)[1].split("…/")[0], "the cut title ends in …"
        assert "…/work/myproject" in live, "the path cut from the left keeps the project"
        assert "…/parser-service" in old
        # Followed since days ago, last said "running": idle, and not live.
        assert "○ " in old and " idle " in old and "8d ago" in old and "running" not in old
        assert "○ " in done and " finished " in done and "2h ago" in done
        assert "12.3k" not in screen_text(app) and "1,203" not in screen_text(app)


async def test_at_120_columns_tokens_and_events_come_back(relay: Relay) -> None:
    app = WatchkeeperApp(relay, clock=lambda: NOW)
    async with app.run_test(size=(120, 24)) as pilot:
        await shown(app, pilot)
        assert headings(app) == ["", "agent", "title", "cwd", "state", "active", "tokens", "events"]
        await until_app(pilot, lambda: "1,203" in line_of(app, "claude-code"), seen=lambda: screen_text(app))
        live, old = line_of(app, "claude-code"), line_of(app, "codex")
        assert live.split()[-2:] == ["12.3k", "1,203"] and old.split()[-2:] == ["2.3M", "43"]
        assert "/home/dev/work/myproject" in live, "room for the whole short path"
        assert LONG_TITLE not in live and "…" in live


async def test_at_200_columns_every_cell_is_whole_and_a_resize_lays_out_again(relay: Relay) -> None:
    app = WatchkeeperApp(relay, clock=lambda: NOW)
    async with app.run_test(size=(200, 24)) as pilot:
        await shown(app, pilot)
        live, old = line_of(app, "claude-code"), line_of(app, "codex")
        assert LONG_TITLE in live and "/home/dev/work/myproject" in live and "…" not in live
        assert LONG_CWD in old and "…" not in old
        await pilot.resize_terminal(80, 24)
        await until_app(pilot, lambda: "events" not in headings(app), what="the columns laid out for 80",
                        seen=lambda: screen_text(app))
        assert "…/work/myproject" in line_of(app, "claude-code")
        await pilot.resize_terminal(200, 24)
        await until_app(pilot, lambda: LONG_TITLE in line_of(app, "claude-code"), what="whole again",
                        seen=lambda: screen_text(app))


async def test_the_cursor_stays_on_its_session_when_the_columns_change(relay: Relay) -> None:
    app = WatchkeeperApp(relay, clock=lambda: NOW)
    async with app.run_test(size=(200, 24)) as pilot:
        await shown(app, pilot)
        table = app.screen.query_one(DataTable)
        await pilot.press("down", "down")
        chosen = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        await pilot.resize_terminal(80, 24)
        await until_app(pilot, lambda: "events" not in headings(app))
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value == chosen


async def test_a_session_list_that_finds_its_table_gone_keeps_the_list_and_draws_nothing(relay: Relay) -> None:
    """As the app closes, Textual removes a screen's widgets while the relay's summaries still come."""
    app = WatchkeeperApp(relay, clock=lambda: NOW)
    async with app.run_test(size=(120, 24)) as pilot:
        await shown(app, pilot)
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        await screen.query_one(DataTable).remove()
        screen.sessions_changed(list(app.sessions))
        assert len(screen.infos) == 3


def info(**fields: object) -> SessionInfo:
    return SessionInfo(**{"session": "s", "agent_kind": "claude-code", **fields})  # type: ignore[arg-type]


def test_events_then_tokens_then_the_cwd_give_way() -> None:
    rows = [cells(info(title="t" * 40, cwd="/a/b/project", state="running", events=12345,
                       tokens_in=5000, last_ts="2026-11-27T18:00:00Z"), NOW)]
    order = ["mark", "agent", "title", "cwd", "state", "activity", "tokens", "events"]
    assert list(layout(rows, 300)) == order
    widths = [layout(rows, room) for room in range(120, 30, -1)]
    seen = [list(w) for w in widths]
    assert order[:-1] in seen and order[:-2] in seen and ["mark", "agent", "title", "state", "activity"] in seen
    assert seen.index(order[:-1]) < seen.index(order[:-2]) < seen.index(["mark", "agent", "title", "state",
                                                                             "activity"])
    for room, w in zip(range(120, 30, -1), widths, strict=True):
        assert "state" in w and "activity" in w
        if w["title"] > 20:
            assert sum(w.values()) + 2 * len(w) <= room, f"fits in {room}"


def test_cuts_keep_what_tells_things_apart() -> None:
    assert cut_path("/home/dev/work/myproject", 16) == "…/work/myproject"
    assert cut_path("/home/dev/work/myproject", 14) == "…/myproject"
    assert cut_path("/home/dev/work/myproject", 24) == "/home/dev/work/myproject"
    assert cut_path("/a/an-extremely-long-project-name", 10) == "…ject-name"
    assert cut_path("e:\\Workspace\\src\\github\\claude-code-log", 24) == "…\\github\\claude-code-log"
    assert cut_end("Clean the build directory", 10) == "Clean the…"
    assert cut_end("short", 10) == "short"
    assert cut_end("日本語のタイトル", 7) == "日本語…"


async def test_a_title_is_shown_as_written_never_as_markup() -> None:
    relay = Relay().start()
    try:
        relay.add_source(IterSource("markup", Events().started("[bold red]rm -rf[/] and [link=x]y[/link]")))
        app = WatchkeeperApp(relay)
        async with app.run_test(size=(160, 20)) as pilot:
            await until_app(pilot, lambda: "[bold red]rm -rf[/] and [link=x]y[/link]" in line_of(app, "claude"),
                            seen=lambda: screen_text(app))
    finally:
        relay.stop()


