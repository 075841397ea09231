"""The SDK as the README shows it to a newcomer: closing a run, ``async with``, a decision nobody made,
and what a control to an ended run is told.

Real relay served on 127.0.0.1, the agent on the test's loop over the real websocket.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from remote_support import TOKEN, Attached, Served
from waiting import until_async

from watchkeeper import sdk
from watchkeeper.adapters.sdk_agent.steering import SdkSteering
from watchkeeper.protocol import ControlModel, Event, Kind, make_event
from watchkeeper.protocol.controls import ENDED_REASON
from watchkeeper.sdk import STEERABLE


def control(served: Served, session: str, kind: str, **fields: Any) -> Event:
    c = {"id": f"c-{uuid.uuid4().hex[:8]}", "session": session, "control": kind, "by": "test", **fields}
    outcome: Event = served.relay.control(c).result(10)
    return outcome


def ends(served: Served, session: str) -> list[str]:
    return [e["data"].get("reason") for e in served.events(session) if e["kind"] == Kind.SESSION_ENDED]


async def test_async_with_connect_closes_the_run_when_the_block_ends(served: Served) -> None:
    async with sdk.connect(served.url, token=TOKEN, title="with") as run:
        assert isinstance(run, sdk.AgentRun) and run.connected
        run.user("inside the block")
    await until_async(lambda: ends(served, run.session) == ["done"], what="session.ended (done) at the relay")
    assert not run.connected

    with pytest.raises(ValueError, match="boom"):
        async with sdk.connect(served.url, token=TOKEN) as failing:
            raise ValueError("boom")
    await until_async(lambda: ends(served, failing.session) == ["error"], what="session.ended (error)")


async def test_a_plain_close_call_closes_a_connected_run_as_it_closes_a_recording(served: Served,
                                                                                 tmp_path: Path) -> None:
    run = await sdk.connect(served.url, token=TOKEN)
    run.user("then a plain close()")
    run.close()  # not awaited: it must still end the run, with no "never awaited" warning
    await until_async(lambda: ends(served, run.session) == ["done"], what="session.ended from a plain close()")
    await until_async(lambda: not run.connected, what="the connection closed")
    await run.close()  # awaiting it too is fine, and ends nothing twice
    await asyncio.create_task(run.close())  # as with the async def close() it replaces
    await asyncio.wait_for(run.close(), 10)
    assert ends(served, run.session) == ["done"]

    path = tmp_path / "rec.jsonl"
    async with sdk.Run(path) as rec:
        rec.user("recorded")
    await rec.close()  # a recording's close is awaitable too, and closes once
    assert path.read_text().count('"session.ended"') == 1


async def test_close_outside_the_agents_loop_says_what_to_do(served: Served) -> None:
    run = await sdk.connect(served.url, token=TOKEN)
    try:
        with pytest.raises(RuntimeError, match="loop that connected"):
            await asyncio.to_thread(run.close)
    finally:
        await run.close()


async def test_a_decision_nobody_made_lets_the_tool_run_and_a_denial_does_not(served: Served) -> None:
    async with sdk.connect(served.url, token=TOKEN) as run:
        call = run.tool_started("shell", {"cmd": "ls"})
        nobody = await asyncio.wait_for(run.approval(call), 10)
        assert (nobody.verdict, nobody.may_run, nobody.decided) == ("none", True, False)
        assert nobody.approved is True, "kept as it was: True unless denied"
        run.tool_finished(call, "ok")

        viewer = Attached(served.url)
        try:
            await until_async(lambda: served.server.viewers(run.session) > 0, what="a viewer is attached")
            for verdict in ("deny", "approve"):
                call = run.tool_started("shell", {"cmd": verdict})
                asking = asyncio.create_task(run.approval(call))
                await until_async(lambda c=call: [h.call_id for h in served.relay.session(run.session).held] == [c],
                                  what="the call is held")
                outcome = await asyncio.to_thread(control, served, run.session, verdict, call_id=call)
                assert outcome["kind"] == "control.applied"
                decision = await asyncio.wait_for(asking, 10)
                assert (decision.verdict, decision.may_run, decision.decided) == (verdict, verdict == "approve", True)
        finally:
            viewer.stop()


async def test_a_control_to_an_ended_run_is_told_the_run_ended(served: Served) -> None:
    async with sdk.connect(served.url, token=TOKEN) as run:
        run.user("short run")
    await until_async(lambda: ends(served, run.session) == ["done"] and not served.server.sdk.connected(run.session),
                      what="the run ended and its agent left")
    for kind in ("pause", "approve", "inject"):
        outcome = await asyncio.to_thread(control, served, run.session, kind, text="hello")
        reason = outcome["data"]["reason"]
        assert outcome["kind"] == "control.rejected" and ENDED_REASON in reason, reason
        assert "checkpoints" not in reason, "not the capability blurb"


def test_an_ended_run_whose_agent_is_still_connected_refuses_controls_with_the_same_reason() -> None:
    steering = SdkSteering(viewers=lambda session: 1)
    link = object()
    started = make_event("s:0", "s", Kind.SESSION_STARTED, {"agent_kind": "sdk",
                                                             "capabilities": STEERABLE.model_dump()})
    steering.on_events(link, [started])
    pause = ControlModel(id="p1", session="s", control="pause", by="t")
    assert steering.control(pause).outcome["kind"] == "control.applied"
    steering.on_events(link, [make_event("s:1", "s", Kind.SESSION_ENDED, {"reason": "done"})])
    again = steering.control(ControlModel(id="p2", session="s", control="pause", by="t")).outcome
    assert again["kind"] == "control.rejected" and again["data"]["reason"] == ENDED_REASON
