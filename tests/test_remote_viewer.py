"""The viewer over ``attach``: the app under its test pilot, fed by a local relay that follows two served relays.

SDK agents report to two ``serve`` relays; the app sees both in one sessions
screen, opens a session, and follows it while the person's pause (sent
through the local relay, as the app's controls do) stops the agent at its
checkpoint and the resume lets it go on.
"""

from __future__ import annotations

import asyncio
import uuid

from remote_support import TOKEN, Attached, Served
from test_viewer_support import screen_text, status_text
from waiting import until_app

from watchkeeper import sdk
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen

SIZE = (140, 40)


def control(attached: Attached, session: str, kind: str) -> None:
    attached.relay.control({"id": f"v-{uuid.uuid4().hex[:8]}", "session": session, "control": kind,
                            "by": "viewer"}).result(10)


async def test_the_app_shows_two_relays_and_a_paused_remote_agent() -> None:
    east, west = Served(), Served()
    runs = [await sdk.connect(east.url, token=TOKEN, title="agent east"),
            await sdk.connect(west.url, token=TOKEN, title="agent west")]
    attached = Attached(east.url, west.url)
    try:
        for r in runs:
            r.user(f"hello from {r.session[:4]}")
            await r.flush()
        run = runs[1]
        app = WatchkeeperApp(attached.relay)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: "agent east" in screen_text(app) and "agent west" in screen_text(app))
            await until_app(pilot, lambda: app.session_info(run.session) is not None)
            screen = app.open_session(run.session)
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            await until_app(pilot, lambda: f"hello from {run.session[:4]}" in screen_text(app))
            assert "steer: pause resume approve deny inject cancel" in status_text(app)

            await asyncio.to_thread(control, attached, run.session, "pause")
            await until_app(pilot, lambda: run._link.paused)
            checkpoint = asyncio.create_task(run.checkpoint())
            await until_app(pilot, lambda: "paused" in status_text(app))
            assert not checkpoint.done(), "the agent waits at its checkpoint while the screen says paused"
            await asyncio.to_thread(control, attached, run.session, "resume")
            await asyncio.wait_for(checkpoint, 10)
            run.assistant("carrying on")
            await until_app(pilot, lambda: "carrying on" in screen_text(app))
            await until_app(pilot, lambda: "running" in status_text(app))
            assert screen.session_id == run.session
    finally:
        for r in runs:
            await r.close()
        attached.stop()
        east.stop()
        west.stop()
