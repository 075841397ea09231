"""The sessions list grouped by origin: snapshots at 80×24 and 160×45, the filter, and the grouping model.

Four sessions on a real relay, each from an origin (the hub's own, edge
alpha, edge beta that is not connected) as ``attach`` to a hub reports them;
the app's clock is fixed, so a snapshot changes only when what is drawn does.
The real processes (a hub, two edges, ``attach``) are in ``test_fleet_view.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fleet_list_support import ALPHA, BETA, HUB, FromOrigin, all_in, choose, fleet_relay, row_keys
from rich.cells import cell_len
from sessions_list_support import NOW, session, three_sessions
from test_viewer_support import screen_text
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList
from waiting import until, until_app

from watchkeeper.protocol import Kind, make_event
from watchkeeper.protocol.origin import Origin, origin_from
from watchkeeper.relay import Relay
from watchkeeper.relay.api import SessionInfo
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.origins import EVERY, choices, group_key, grouped, header_cells, header_title
from watchkeeper.viewer.screens.picker import Picker
from watchkeeper.viewer.screens.sessions import SessionsScreen


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = fleet_relay()
    yield relay
    relay.stop()


def line_of(app: WatchkeeperApp, word: str) -> str:
    return next((line for line in screen_text(app).splitlines() if word in line), "")


async def grouped_on_screen(app: WatchkeeperApp, pilot: Pilot[Any]) -> None:
    def drawn() -> bool:
        text = screen_text(app)
        return all(f"{name} ·" in text for name in ("hub-1", "alpha", "beta")) and "Nightly" in text

    # The rows are in the table before they are painted: wait for the screen, not the model.
    await until_app(pilot, lambda: all_in(app.sessions) and len(row_keys(app)) == 7 and drawn(),
                    what="four sessions under three headers", seen=lambda: screen_text(app))


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_grouped_sessions_list(relay: Relay, snap_compare: Any, size: tuple[int, int]) -> None:
    async def settle(pilot: Any) -> None:
        await grouped_on_screen(pilot.app, pilot)
        await until_app(pilot, lambda: "2h ago" in screen_text(pilot.app), seen=lambda: screen_text(pilot.app))
        await pilot.pause()

    app = WatchkeeperApp(relay, clock=lambda: NOW)
    assert snap_compare(app, terminal_size=size, run_before=settle)


async def test_a_header_per_origin_names_it_counts_it_and_says_when_it_is_unreachable(relay: Relay) -> None:
    app = WatchkeeperApp(relay, clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await grouped_on_screen(app, pilot)
        lines = screen_text(app).splitlines()
        assert all(len(line.rstrip()) <= 80 for line in lines)
        hub, alpha, beta = line_of(app, "hub-1 ·"), line_of(app, "alpha ·"), line_of(app, "beta ·")
        assert "relay" in hub and "1 session" in hub and "unreachable" not in hub
        assert "edge" in alpha and "build-7" in alpha and "2 sessions" in alpha and "unreachable" not in alpha
        assert "edge" in beta and "1 session" in beta and "unreachable" in beta
        assert "ci-runner-12.eu…" in beta and "compute.internal" not in beta, "a long host is cut"
        order = [i for i, line in enumerate(lines) if line in (hub, alpha, beta)]
        assert [lines[i] for i in order] == [hub, alpha, beta], "this relay's own first, then edges by name"
        titles = [line_of(app, t) for t in ("Hub housekeeping", "Fix the flaky", "Bump the lockfile", "Nightly")]
        at = [lines.index(t) for t in titles]
        assert lines.index(hub) < at[0] < lines.index(alpha) < at[1] < at[2] < lines.index(beta) < at[3]
        assert "unreachable" in titles[3], "the edge's session itself says so too"


async def test_origin_narrows_the_list_to_one_edge_and_again_shows_every_origin(relay: Relay) -> None:
    app = WatchkeeperApp(relay, clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await grouped_on_screen(app, pilot)
        await pilot.press("O")
        picker = await until_app(pilot, lambda: isinstance(app.screen, Picker) and app.screen)
        assert isinstance(picker, Picker)
        labels = [str(o.prompt) for o in picker.query_one(OptionList).options]
        assert labels[0].startswith(EVERY) and "(4)" in labels[0]
        assert any("edge beta on ci-runner-12" in label and "(unreachable)" in label for label in labels)
        await choose(pilot, picker, group_key(ALPHA))
        await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen) and len(row_keys(app)) == 3,
                        what="alpha's header and its two sessions", seen=lambda: screen_text(app))
        assert row_keys(app)[1:] == ["a1", "a2"]
        text = screen_text(app)
        assert "Nightly" not in text and "Hub housekeeping" not in text and "from edge alpha on build-7" in text
        await pilot.press("O")
        await until_app(pilot, lambda: len(row_keys(app)) == 7, what="every origin again",
                        seen=lambda: screen_text(app))
        assert "from edge alpha" not in screen_text(app)


async def test_enter_on_a_header_shows_that_origin_only(relay: Relay) -> None:
    app = WatchkeeperApp(relay, clock=lambda: NOW)
    async with app.run_test(size=(80, 24)) as pilot:
        await grouped_on_screen(app, pilot)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=row_keys(app).index("b1") - 1)
        await pilot.press("enter")
        await until_app(pilot, lambda: row_keys(app)[1:] == ["b1"], what="beta only", seen=lambda: screen_text(app))
        assert isinstance(app.screen, SessionsScreen), "a header is not a session to open"
        await pilot.press("enter")
        await until_app(pilot, lambda: len(row_keys(app)) == 7, what="every origin", seen=lambda: screen_text(app))


async def test_with_one_origin_there_are_no_headers_and_no_origin_key() -> None:
    relay = three_sessions()
    try:
        app = WatchkeeperApp(relay, clock=lambda: NOW)
        async with app.run_test(size=(80, 24)) as pilot:
            await until_app(pilot, lambda: len(row_keys(app)) == 3, seen=lambda: screen_text(app))
            assert "Origin" not in screen_text(app) and "this machine" not in screen_text(app)
            await pilot.press("O")
            await pilot.pause()
            assert isinstance(app.screen, SessionsScreen)
    finally:
        relay.stop()


# --- the model, pure ----------------------------------------------------------------------


def info(sid: str, origin: Origin | None, **fields: Any) -> SessionInfo:
    return SessionInfo(session=sid, agent_kind="sdk", origin=origin, **fields)


def test_groups_keep_their_place_and_a_waiting_call_lifts_its_group() -> None:
    infos = [info("x", BETA), info("y", ALPHA), info("z", None), info("w", HUB)]
    assert [g.name for g in grouped(infos)] == ["this machine", "hub-1", "alpha", "beta"]
    infos[0] = info("x", BETA, needs_attention=True)
    assert [g.name for g in grouped(infos)] == ["beta", "this machine", "hub-1", "alpha"]


def test_a_header_keeps_the_count_and_cuts_the_name_first() -> None:
    named = Origin("an-edge-with-a-very-long-name-indeed", "h")
    group = grouped([info("x", named), info("y", named)])[0]
    assert header_title(group, None) == "an-edge-with-a-very-lon… · 2 sessions"
    assert header_title(group, 20) == "an-edg… · 2 sessions"
    assert header_title(group, 30).endswith("… · 2 sessions") and cell_len(header_title(group, 30)) == 30
    assert header_title(group, 8) == "an-edge…"
    assert header_cells(group, "k").cwd == "h" and header_cells(group, "k").state == ""
    beta = grouped([info("x", BETA)])[0]
    assert header_cells(beta, "k").state == "unreachable" and header_cells(beta, "k").cwd == BETA.host


def test_an_origin_key_is_unambiguous_and_the_choices_start_with_every_origin() -> None:
    assert group_key(Origin("a b", "c")) != group_key(Origin("a", "b c"))
    assert group_key(None) != group_key(Origin(None, "local"))
    values, labels = choices(grouped([info("x", ALPHA), info("y", ALPHA), info("z", BETA)]))
    assert values == [(EVERY, 3), (group_key(ALPHA), 2), (group_key(BETA), 1)]
    assert labels[group_key(BETA)].endswith("(unreachable)") and "(unreachable)" not in labels[group_key(ALPHA)]


def test_a_hubs_word_on_an_origin_is_read_defensively() -> None:
    assert origin_from({"edge": "e", "host": "h", "connected": True}, "hub", True) == Origin("e", "h")
    assert origin_from({"edge": "e", "host": "h", "connected": True}, "hub", False) == Origin("e", "h", False)
    assert origin_from({"edge": "e", "host": "h", "connected": False}, "hub", True) == Origin("e", "h", False)
    assert origin_from(None, "hub", True) == Origin(None, "hub")
    assert origin_from({"edge": 7}, "hub", True) == Origin(None, "hub")
    long = origin_from({"edge": "e" * 500, "host": "h" * 5000}, "hub", True)
    assert len(long.edge or "") == 64 and len(long.host) == 200


def test_a_held_call_on_an_unreachable_edge_is_not_counted_as_waiting_for_the_person() -> None:
    """The edge's policy settles it there; here nobody can decide it, so neither the count nor the inbox has it."""
    def held_on(origin: Origin, sid: str) -> FromOrigin:
        ts = "2026-11-27T18:03:00.000Z"
        return FromOrigin(origin, [
            *session(sid, "claude-code", "held", "/work", ts, "running"),
            make_event(f"{sid}:call", sid, Kind.TOOL_STARTED, {"call_id": "c1", "name": "Bash", "input": {}}, ts=ts),
            make_event(f"{sid}:wait", sid, Kind.TOOL_WAITING, {"call_id": "c1", "reason": "paused", "why": "pause"},
                       ts=ts)])

    relay = Relay(clock=lambda: NOW).start()
    try:
        relay.add_source(held_on(ALPHA, "reachable"))
        relay.add_source(held_on(BETA, "away"))
        until(lambda: {i.session for i in relay.sessions() if i.events == 4} == {"reachable", "away"},
              what="both sessions in")
        infos = {i.session: i for i in relay.sessions()}
        assert infos["reachable"].needs_attention and [h.call_id for h in infos["reachable"].held] == ["c1"]
        assert not infos["away"].needs_attention and infos["away"].held == ()
    finally:
        relay.stop()
