"""Which call a key acts on: exactly the one the controls area names, and never another in its place.

A real relay with the hook endpoint (hook payloads posted over loopback as Claude Code posts them) and the
real app under the pilot; a control "elsewhere" is ``ctl``'s path, ``relay.control``.
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.pilot import Pilot
from waiting import until_app

from watchkeeper.relay import Relay
from watchkeeper.relay.servers.hookserver import HookSource, serve_hooks
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.session_steering import SteerableScreen
from watchkeeper.viewer.widgets.controls import Controls

pytestmark = pytest.mark.timeout(90)
TOKEN = "target-token"
SID = "target-1"


def post(port: int, payload: dict[str, Any]) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/hook", json.dumps(payload).encode(),
                     {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        return json.loads(conn.getresponse().read() or b"null")
    finally:
        conn.close()


def pre(call: str, command: str) -> dict[str, Any]:
    return {"session_id": SID, "cwd": "/w", "hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": command}, "tool_use_id": call}


def held_in_background(port: int, call: str, command: str) -> list[Any]:
    """Post a PreToolUse whose reply is held: the reply lands in the list once the call is decided."""
    box: list[Any] = []
    threading.Thread(target=lambda: box.append(post(port, pre(call, command))), daemon=True).start()
    return box


def decisions(relay: Relay) -> list[tuple[str, str | None]]:
    return [(e["data"]["control"], e["data"].get("call_id")) for e in relay.read_range(SID, 0, 10_000)
            if e["kind"] == "control.applied" and e["data"]["control"] in ("approve", "deny")]


@asynccontextmanager
async def paused_with_two_held() -> AsyncIterator[tuple[Relay, HookSource, SteerableScreen, Pilot[None]]]:
    relay = Relay().start()
    try:
        hooks = serve_hooks(relay, TOKEN)
        assert hooks.ready.wait(30) and hooks.error is None
        post(hooks.port, pre("t0", "echo warm-up"))
        app = WatchkeeperApp(relay, steer=SteerSetup(hooks_port=hooks.port))
        async with app.run_test(size=(120, 36)) as pilot:
            await until_app(pilot, lambda: app.session_info(SID) is not None)
            screen = app.open_session(SID)
            assert isinstance(screen, SteerableScreen)
            await until_app(pilot, lambda: screen.is_mounted and screen.why_not.get("pause") is None)
            await pilot.press("p")
            await until_app(pilot, lambda: screen.steer.paused)
            held_in_background(hooks.port, "t1", "echo FIRST")
            await until_app(pilot, lambda: "t1" in screen.steer.held)
            held_in_background(hooks.port, "t2", "rm -rf SECOND")
            await until_app(pilot, lambda: "t2" in screen.steer.held)
            yield relay, hooks, screen, pilot
            relay.control({"id": f"end-{uuid.uuid4().hex}", "session": SID, "control": "resume"}).result(30)
    finally:
        relay.stop()


def named(screen: SteerableScreen) -> str:
    return str(screen.query_one(Controls).content)


async def select(screen: SteerableScreen, pilot: Pilot[None], call: str) -> None:
    store = screen.timeline.store
    screen.timeline.follow = False
    screen.timeline.cursor = store.position(store.call_head[call])  # type: ignore[assignment]
    await pilot.pause()


async def test_while_following_the_keys_act_on_the_call_the_controls_name_not_the_row_that_arrived() -> None:
    """Following moved the cursor onto the second call as it arrived, and y approved it, while the controls
    area named the first."""
    async with paused_with_two_held() as (relay, _hooks, screen, pilot):
        assert screen.timeline.follow and "FIRST" in named(screen)
        await pilot.press("y")
        await until_app(pilot, lambda: decisions(relay) == [("approve", "t1")])
        assert "t2" in screen.steer.held


async def test_a_selected_held_call_is_the_one_the_controls_name_and_the_keys_act_on() -> None:
    async with paused_with_two_held() as (relay, _hooks, screen, pilot):
        await select(screen, pilot, "t2")
        await until_app(pilot, lambda: "SECOND" in named(screen), seen=lambda: named(screen))
        await pilot.press("y")
        await until_app(pilot, lambda: decisions(relay) == [("approve", "t2")])
        assert "t1" in screen.steer.held


async def test_a_chosen_call_decided_elsewhere_is_said_to_be_gone_and_no_other_is_decided_in_its_place() -> None:
    """The selected call was approved elsewhere, and y then approved the next held call in its place."""
    async with paused_with_two_held() as (relay, _hooks, screen, pilot):
        await select(screen, pilot, "t1")
        relay.control({"id": "elsewhere", "session": SID, "control": "approve", "call_id": "t1"}).result(30)
        await until_app(pilot, lambda: "t1" not in screen.steer.held)
        seen: list[str] = []
        screen.app.notify = lambda message, **kw: seen.append(str(message))  # type: ignore[method-assign]
        for key in ("y", "n", "s"):
            await pilot.press(key)
        await pilot.pause()
        assert decisions(relay) == [("approve", "t1")], "nothing was sent for t2"
        assert len(seen) == 3 and all("no longer held" in s for s in seen), seen
        assert "t2" in screen.steer.held


async def test_in_the_inbox_a_chosen_call_that_leaves_takes_the_highlight_with_it() -> None:
    """The highlight jumped to the first call when the chosen one was decided elsewhere, and y approved it."""
    from watchkeeper.viewer.screens.inbox import InboxScreen

    async with paused_with_two_held() as (relay, hooks, screen, pilot):
        held_in_background(hooks.port, "t3", "echo THIRD")
        await until_app(pilot, lambda: "t3" in screen.steer.held)
        await pilot.press("h")
        await until_app(pilot, lambda: isinstance(screen.app.screen, InboxScreen)
                        and len(screen.app.screen.entries) == 3)
        inbox = screen.app.screen
        assert isinstance(inbox, InboxScreen)
        await pilot.press("down")
        await until_app(pilot, lambda: inbox.selected is not None and inbox.selected.call.call_id == "t2")
        relay.control({"id": "elsewhere", "session": SID, "control": "approve", "call_id": "t2"}).result(30)
        await until_app(pilot, lambda: len(inbox.entries) == 2)
        assert inbox.selected is None
        await pilot.press("y")
        await pilot.pause()
        assert decisions(relay) == [("approve", "t2")], "no other call was approved in its place"
        await pilot.press("down", "y")
        await until_app(pilot, lambda: len(decisions(relay)) == 2)
        assert decisions(relay)[1][1] in ("t1", "t3"), "a call the person highlighted again"
        await pilot.press("escape")
