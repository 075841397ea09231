"""``watchkeeper demo`` under the pilot: the three sample sessions arrive, grow live, and open;
the scripted SDK agent asks for approval, is approved with ``y``, goes on, and stops when the app quits.

The relay, its sources, the websocket endpoint and the agent are built by
``commands/demo.py``'s own functions, sped up so the whole demo plays in a few seconds.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import SAMPLE_LOGS
from test_viewer_support import Notices, screen_text
from textual.widgets import DataTable, Static
from waiting import until_app, until_async

from watchkeeper.adapters.remote import RemoteError, request
from watchkeeper.commands.demo import STOP_WAIT, demo_app, demo_files, demo_sources, start_live_agent
from watchkeeper.credentials import AGENT_PREFIX
from watchkeeper.demo import scripted_agent as scripted
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen
from watchkeeper.viewer.widgets.controls import Controls

SPEED = 8.0
#: Seconds per step of the scripted agent.
AGENT_DELAY = 0.2
SIZE = (140, 40)  # wide enough for every demo title in full (narrower cuts the longest with …)
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

            await until_app(pilot, growing, timeout=30)
            await until_app(pilot, lambda: len(app.sessions) == 3, timeout=30)
            await until_app(pilot, lambda: all(t in screen_text(app) for t in TITLES.values()),
                            seen=lambda: screen_text(app))
            assert {i.agent_kind for i in app.sessions} == set(TITLES)
            # Sessions are listed: the "nothing found" text is gone from under the table.
            assert "No agent sessions found" not in screen_text(app)
            assert not screen.query_one("#empty", Static).display
            assert screen.query_one(DataTable).display

            # Played through, every session holds all of its file's events.
            await until_app(pilot, lambda: not any(i.live for i in app.sessions), timeout=60)
            claude = next(i for i in app.sessions if i.agent_kind == "claude-code")
            assert claude.events >= 35
            table = screen.query_one(DataTable)
            await until_app(pilot, lambda: claude.session in [str(k.value) for k in table.rows])
            table.focus()
            await pilot.press("home", *["down"] * table.get_row_index(claude.session), "enter")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            opened = app.screen
            assert isinstance(opened, SessionScreen) and opened.session_id == claude.session
            store = opened.timeline.store
            await until_app(pilot, lambda: len(store.events) == claude.events)
            await pilot.pause()
            text = screen_text(app)
            assert "Bash  echo hello from bash && pwd" in text and "Write  /home/dev/demo/notes.txt" in text
            assert "✗ error" in text  # `ls missing-dir`
            started = [h for h in store.view if store.events[h]["kind"] == "agent.started"]
            assert len(started) == 1
    finally:
        relay.stop()


async def test_the_demo_agent_waits_for_approval_goes_on_when_approved_and_stops_on_quit() -> None:
    relay = Relay().start()
    for source in demo_sources(demo_files(SAMPLE_LOGS), SPEED):
        relay.add_source(source)
    live, problem = start_live_agent(relay, AGENT_DELAY)
    assert problem is None and live is not None
    try:
        app = demo_app(relay, SAMPLE_LOGS, problem)
        bells: list[int] = []
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: live.agent.session is not None and
                        app.session_info(live.agent.session) is not None, timeout=30)
            sid = live.agent.session
            await until_app(pilot, lambda: scripted.TITLE in screen_text(app))
            info = app.session_info(sid)
            assert info is not None and info.live and info.agent_kind == "sdk"
            assert info.capabilities["approve"] and info.capabilities["pause"]

            # It asks before running the tests: the session waits for the person, the bell rings.
            await until_app(pilot, lambda: (i := app.session_info(sid)) is not None and i.needs_attention, timeout=30)
            assert bells and app.attention.count == 1 and "1 session waiting for you" in app.title
            table = app.screen.query_one(DataTable)
            await until_app(pilot, lambda: sid in [str(k.value) for k in table.rows] and table.get_row_index(sid) == 0)
            await pilot.press("w")  # the session waiting for the person, listed first
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen) and screen.session_id == sid
            await until_app(pilot, lambda: bool(screen.steer.held))
            held = screen.steer.oldest
            assert held is not None and held.name == "Bash"
            await until_app(pilot, lambda: "waiting" in str(screen.query_one(Controls).content))
            store = screen.timeline.store

            def since_held() -> list[tuple[str, str | None]]:
                """(kind, tool name or the call's status) of the events from the held call's start on."""
                first = next(i for i, e in enumerate(store.events) if e["data"].get("call_id") == held.call_id)
                return [(e["kind"], e["data"].get("name") or e["data"].get("status")) for e in store.events[first:]]

            assert [k for k, _ in since_held()] == ["tool.started", "tool.waiting"]
            await pilot.press("y")
            # Approved: the call runs (the tests fail, as scripted), then the agent edits, and asks again.
            await until_app(pilot, lambda: ("tool.started", "Edit") in since_held(), timeout=30)
            assert [k for k, _ in since_held()][2:4] == ["control.applied", "tool.finished"]
            assert ("tool.finished", "error") in since_held()
            approved = [e for e in store.events if e["kind"] == "control.applied" and
                        e["data"].get("control") == "approve"]
            assert [e["data"]["call_id"] for e in approved] == [held.call_id]
            await until_app(pilot, lambda: (h := screen.steer.oldest) is not None and h.name == "Edit", timeout=30)
        # The app has quit: the agent, held at its next approval, is stopped and its session ends.
        assert live.stop(STOP_WAIT), "the agent thread ended"
        assert not live.agent.is_alive() and live.agent.ended in ("stopped", "done", "cancelled")
        ended = [e for e in relay.read_range(sid, 0, 2**62) if e["kind"] == "session.ended"]
        assert len(ended) == 1
    finally:
        live.stop(STOP_WAIT)
        relay.stop()


async def test_the_demo_agent_holds_an_agent_credential_that_reports_but_cannot_steer() -> None:
    relay = Relay().start()
    live, problem = start_live_agent(relay, AGENT_DELAY)
    assert problem is None and live is not None
    store = Path(live.store.name)
    try:
        await until_async(lambda: live.agent.session is not None and relay.session(live.agent.session) is not None,
                          what="the demo agent reports")
        secret = live.agent._token
        assert secret.startswith(AGENT_PREFIX) and secret not in "".join(p.read_text() for p in store.iterdir())
        with pytest.raises(RemoteError):
            await request(live.server.url, secret, {"t": "sessions", "id": "q"}, timeout=10)
    finally:
        live.stop(STOP_WAIT)
        relay.stop()
    assert not store.exists(), "the demo's credential store goes with it"


async def test_without_its_endpoint_the_demo_still_plays_the_recordings_and_says_why() -> None:
    relay = Relay().start()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        live, problem = start_live_agent(relay, AGENT_DELAY, port=taken.getsockname()[1])
    assert live is None and problem is not None and "could not listen" in problem
    for source in demo_sources(demo_files(SAMPLE_LOGS), SPEED):
        relay.add_source(source)
    try:
        app = demo_app(relay, SAMPLE_LOGS, problem)
        notices = Notices(app)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: problem in notices.messages(), seen=notices.messages)
            await until_app(pilot, lambda: len(app.sessions) == 3, timeout=30)
            assert {i.agent_kind for i in app.sessions} == set(TITLES)
    finally:
        relay.stop()
