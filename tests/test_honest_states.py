"""Honest states on screen: a session followed since days ago is idle, not live; its unfinished call is
unfinished, not "running 6313h36m"; a live one's call runs on; an SDK connection keeps its session live
however quiet, and stops doing so when it drops.

Real relays (their clock and the app's fixed), the real app under the pilot, a real websocket.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sessions_list_support import NOW, Following
from test_viewer_support import screen_text, status_text
from waiting import until_app, until_async

from watchkeeper import sdk
from watchkeeper.adapters.claude_code.steering import Steering
from watchkeeper.protocol import make_event
from watchkeeper.relay import Relay
from watchkeeper.relay.servers.hookserver import HookSource
from watchkeeper.relay.servers.wsserver import serve_ws
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen

OLD, LIVE = "old-session", "live-session"
TOKEN = "t" * 32


def with_call(sid: str, first: str, last: str, started: str) -> list[Any]:
    """A session from ``first`` to ``last`` whose Bash call, started at ``started``, has no result."""
    return [
        make_event(f"{sid}:start", sid, "session.started", {"agent_kind": "claude-code", "title": f"{sid} title",
                                                            "cwd": "/home/dev/p"}, ts=first),
        make_event(f"{sid}:state", sid, "state", {"state": "running"}, ts=first),
        make_event(f"{sid}:call", sid, "tool.started", {"call_id": f"{sid}-c1", "name": "Bash",
                                                        "input": {"command": "make world"}}, ts=started),
        make_event(f"{sid}:note", sid, "notice", {"level": "info", "text": "still here"}, ts=last),
    ]


def relay_of(sid: str, events: list[Any]) -> Relay:
    relay = Relay(clock=lambda: NOW).start()
    relay.add_source(Following("tail", events))
    return relay



async def test_a_session_followed_since_days_ago_is_idle_and_its_call_unfinished() -> None:
    # Written to from nine days before NOW for three days and four hours; its call never finished.
    relay = relay_of(OLD, with_call(OLD, "2026-11-18T10:00:00.000Z", "2026-11-21T14:00:00.000Z",
                                    "2026-11-21T13:00:00.000Z"))
    try:
        app = WatchkeeperApp(relay, open_session=OLD, clock=lambda: NOW)
        async with app.run_test(size=(120, 30)) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                            and len(app.screen.timeline.store.events) == 4)
            status = await until_app(pilot, lambda: s if "4 events" in (s := status_text(app)) else None,
                                     seen=lambda: status_text(app))
            assert status is not None and status.startswith("○ idle") and "live" not in status
            assert "3d 4h" in status, "the session's span, in days past 48 hours"
            row = next(line for line in screen_text(app).splitlines() if "make world" in line)
            assert "… unfinished" in row and "running" not in row
    finally:
        relay.stop()


async def test_a_live_sessions_call_runs_on() -> None:
    relay = relay_of(LIVE, with_call(LIVE, "2026-11-27T17:00:00.000Z", "2026-11-27T18:04:00.000Z",
                                     "2026-11-27T18:03:00.000Z"))
    try:
        app = WatchkeeperApp(relay, open_session=LIVE, clock=lambda: NOW)
        async with app.run_test(size=(120, 30)) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                            and len(app.screen.timeline.store.events) == 4)
            status = await until_app(pilot, lambda: s if "4 events" in (s := status_text(app)) else None,
                                     seen=lambda: status_text(app))
            assert status is not None and status.startswith("● live running") and "1h05m" in status
            await until_app(pilot, lambda: "… running 2m00s" in screen_text(app), seen=lambda: screen_text(app))
    finally:
        relay.stop()


async def test_an_sdk_connection_keeps_its_session_live_until_it_drops() -> None:
    now = [NOW]
    relay = Relay(clock=lambda: now[0]).start()
    server = serve_ws(relay, TOKEN, host="127.0.0.1", port=0)
    try:
        assert server.ready.wait(10) and server.error is None
        run = await sdk.connect(server.url, token=TOKEN, title="quiet agent")
        run.state("idle", "waiting for input")
        await run.flush()
        await until_async(lambda: (i := relay.session(run.session)) is not None and i.events >= 2,
                          what="the agent's events")
        now[0] = NOW + 86400 * 3  # three quiet days later: the connection is still open
        info = relay.session(run.session)
        assert info is not None and info.live and info.channel and info.state == "idle"
        await run._link._stop()  # the agent's process dies: no session.ended
        await until_async(lambda: not relay.session(run.session).followed,  # type: ignore[union-attr]
                          what="the link's source stopped")
        info = relay.session(run.session)
        assert info is not None and not info.live and not info.channel
    finally:
        relay.stop()
        await asyncio.sleep(0)


def test_a_hooked_session_has_an_open_channel_from_its_first_hook() -> None:
    source = HookSource(TOKEN)
    assert isinstance(source.steering, Steering)
    assert source.session_status("s1") is None, "no hook from it yet: the relay judges by its writes"
    source.steering.on_hook({"hook_event_name": "SessionStart", "session_id": "s1", "cwd": "/p",
                             "transcript_path": "/p/s1.jsonl", "source": "startup"})
    assert source.session_status("s1") == (True, None)
