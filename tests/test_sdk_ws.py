"""``watchkeeper.sdk`` over websocket: an agent reports to a served relay and honours the person's controls.

Real relay, real server on 127.0.0.1, the agent on the test's loop (or, for the
sync wrapper, on its own thread). Controls go through ``Relay.control``, the
path every viewer uses.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from remote_support import TOKEN, Attached, Proxy, Served
from waiting import until_async

from watchkeeper import sdk
from watchkeeper.demo import scripted_agent as example
from watchkeeper.protocol import Event


@pytest.fixture
async def run(served: Served) -> AsyncIterator[sdk.AgentRun]:
    r = await sdk.connect(served.url, token=TOKEN, title="scripted", model="tiny")
    yield r
    await r.close()


def control(relay: Any, session: str, kind: str, **fields: Any) -> Event:
    """One control through the relay's any-thread API; its one outcome."""
    c = {"id": fields.pop("id", f"c-{uuid.uuid4().hex[:8]}"), "session": session, "control": kind,
         "by": "test", **fields}
    outcome: Event = relay.control(c).result(10)
    return outcome


def kinds(served: Served, session: str) -> list[str]:
    return [e["kind"] for e in served.events(session)]


def state_events(served: Served, session: str) -> list[str]:
    return [e["data"]["state"] for e in served.events(session) if e["kind"] == "state"]


async def test_an_agent_reports_and_the_relay_has_every_event(served: Served, run: sdk.AgentRun) -> None:
    run.user("count the files")
    call = run.tool_started("shell", {"cmd": "ls | wc -l"})
    run.tool_finished(call, "3\n", duration_ms=4.0)
    run.usage(input_tokens=100, output_tokens=20, model="tiny", cost_usd=0.01)
    run.tool_finished(run.tool_started("cat", {"path": "big"}), "y" * (sdk.MAX_OUTPUT + 10))
    run.assistant("There are 3 files.")
    assert await run.flush()
    assert kinds(served, run.session) == ["session.started", "message.user", "tool.started", "tool.finished",
                                          "usage", "tool.started", "tool.finished", "message.assistant"]
    info = served.relay.session(run.session)
    assert info is not None and info.title == "scripted" and info.live and info.agent_kind == "sdk"
    assert info.tokens_in == 100 and info.capabilities["pause"] and not info.capabilities["step"]
    assert info.sources[0].startswith("sdk agent ")
    big = served.events(run.session)[6]["data"]
    assert big["truncated"] == 10 and len(big["output"]) == sdk.MAX_OUTPUT
    await run.close()
    await until_async(lambda: not served.relay.session(run.session).live, what="the session ends")  # type: ignore[union-attr]
    assert kinds(served, run.session)[-1] == "session.ended"


async def test_pause_blocks_the_checkpoint_until_resume(served: Served, run: sdk.AgentRun) -> None:
    await run.flush()
    unwatched = await asyncio.to_thread(control, served.relay, run.session, "pause")
    assert unwatched["kind"] == "control.rejected" and "nobody watches" in unwatched["data"]["reason"]
    assert not run._link.paused
    served.watch(run.session)
    outcome = await asyncio.to_thread(control, served.relay, run.session, "pause")
    assert outcome["kind"] == "control.applied" and "checkpoint" in outcome["data"]["reason"]
    await until_async(lambda: run._link.paused, what="the pause reaches the agent")
    checkpoint = asyncio.create_task(run.checkpoint())
    await until_async(lambda: "paused" in state_events(served, run.session), what="the agent says it waits")
    assert not checkpoint.done(), "paused: the agent waits at its checkpoint"
    await asyncio.to_thread(control, served.relay, run.session, "resume")
    assert await asyncio.wait_for(checkpoint, 10) == []
    await run.flush()
    assert state_events(served, run.session) == ["paused", "running"]


async def test_an_injected_message_is_returned_by_the_next_checkpoint(served: Served,
                                                                      run: sdk.AgentRun) -> None:
    await run.flush()
    outcome = await asyncio.to_thread(control, served.relay, run.session, "inject", text="also count dirs",
                                      id="inj-1")
    assert outcome["kind"] == "control.applied"
    await until_async(lambda: run._link._injections, what="the message reaches the agent")
    assert await run.checkpoint() == ["also count dirs"]
    assert await run.checkpoint() == []
    await run.flush()
    delivered = [e for e in served.events(run.session) if e["id"] == "control:inj-1:delivered"]
    assert [(e["kind"], e["data"]["origin"]) for e in delivered] == [("message.user", "injected")]
    empty = await asyncio.to_thread(control, served.relay, run.session, "inject", text="  ")
    assert empty["kind"] == "control.rejected" and "empty" in empty["data"]["reason"]


async def test_a_denied_approval_reaches_the_agent_with_the_reason(served: Served, run: sdk.AgentRun) -> None:
    viewer = Attached(served.url)  # someone watches, so the call is held for the person
    try:
        await until_async(lambda: served.server.viewers(run.session) > 0, what="a viewer is attached")
        call = run.tool_started("shell", {"cmd": "rm -rf build"})
        asking = asyncio.create_task(run.approval(call, name="shell", input={"cmd": "rm -rf build"}))
        await until_async(lambda: "tool.waiting" in kinds(served, run.session), what="the call waits")
        assert served.relay.session(run.session).needs_attention  # type: ignore[union-attr]
        outcome = await asyncio.to_thread(control, served.relay, run.session, "deny", call_id=call,
                                          reason="not the build dir")
        assert outcome["kind"] == "control.applied" and outcome["data"]["call_id"] == call
        decision = await asyncio.wait_for(asking, 10)
        assert (decision.verdict, decision.reason, decision.approved) == ("deny", "not the build dir", False)
        await run.flush()
        finished = served.events(run.session)[-1]
        assert finished["id"] == f"tool:{call}:finished" and finished["data"]["status"] == "denied"
        again = await asyncio.to_thread(control, served.relay, run.session, "approve", call_id=call)
        assert again["kind"] == "control.rejected" and "first decision wins" in again["data"]["reason"]

        second = run.tool_started("shell", {"cmd": "ls"})
        asking = asyncio.create_task(run.approval(second))
        await until_async(lambda: served.relay.session(run.session).needs_attention,  # type: ignore[union-attr]
                    what="the second call waits")
        await asyncio.to_thread(control, served.relay, run.session, "approve")
        assert (await asyncio.wait_for(asking, 10)).verdict == "approve"
    finally:
        viewer.stop()


async def test_with_nobody_watching_an_approval_goes_on_with_no_decision(served: Served,
                                                                         run: sdk.AgentRun) -> None:
    call = run.tool_started("shell", {"cmd": "ls"})
    decision = await asyncio.wait_for(run.approval(call), 10)
    assert decision.verdict == "none" and decision.approved and "nobody is watching" in (decision.reason or "")
    await run.flush()
    let_go = [e for e in served.events(run.session) if e["kind"] == "control.applied"]
    assert [e["data"]["control"] for e in let_go] == ["unwatched"]


async def test_cancel_is_raised_in_the_agent(served: Served, run: sdk.AgentRun) -> None:
    await run.flush()
    await asyncio.to_thread(control, served.relay, run.session, "cancel", reason="wrong repo")
    await until_async(lambda: run._link._cancel is not None, what="the cancel reaches the agent")
    with pytest.raises(sdk.Cancelled, match="wrong repo"):
        await run.checkpoint()
    assert await run.checkpoint() == [], "raised once"


async def test_controls_act_once_per_id_and_unknown_sessions_are_rejected(served: Served,
                                                                         run: sdk.AgentRun) -> None:
    await run.flush()
    served.watch(run.session)
    first = await asyncio.to_thread(control, served.relay, run.session, "pause", id="same")
    second = await asyncio.to_thread(control, served.relay, run.session, "pause", id="same")
    assert first == second
    step = await asyncio.to_thread(control, served.relay, run.session, "step")
    assert step["kind"] == "control.rejected"
    await run.flush()
    assert [e["id"] for e in served.events(run.session) if e["kind"].startswith("control.")] == \
        ["control:same", f"control:{step['data']['control_id']}"]


async def test_a_wrong_token_is_refused_at_connect(served: Served) -> None:
    with pytest.raises(sdk.ConnectError, match="401"):
        await sdk.connect(served.url, token="wrong")
    with pytest.raises(sdk.ConnectError, match="no relay answers"):
        await sdk.connect("ws://127.0.0.1:9", token=TOKEN, wait=0.5)


async def test_a_cut_connection_loses_and_doubles_nothing(served: Served) -> None:
    proxy = await Proxy(served.port).start()
    run = await sdk.connect(proxy.url, token=TOKEN)
    try:
        for i in range(3000):
            run.notice(f"step {i}")
            if i in (700, 1900):
                await until_async(lambda: run.connected, what="connected before the cut")
                proxy.cut()
            if i % 100 == 0:
                await asyncio.sleep(0)
        assert await run.flush(20)
        assert proxy.cuts == 2 and proxy.connections == 3
    finally:
        await run.close()
        await proxy.close()
    texts = [e["data"]["text"] for e in served.events(run.session) if e["kind"] == "notice"]
    assert texts == [f"step {i}" for i in range(3000)]


def test_the_sync_wrapper_blocks_and_returns_injected_messages(served: Served) -> None:
    with sdk.connect_sync(served.url, token=TOKEN, title="sync agent") as run:
        run.user("go")
        assert run.flush()
        relay = served.relay
        served.watch(run.session)
        control(relay, run.session, "pause")
        control(relay, run.session, "inject", text="check the tests too")
        resumed = threading.Event()

        def resume_when_waiting() -> None:
            for _ in range(1000):
                if "paused" in state_events(served, run.session):
                    control(relay, run.session, "resume")
                    resumed.set()
                    return
                threading.Event().wait(0.02)

        link = run.run._link
        for _ in range(1000):
            if link.paused and link._injections:
                break
            threading.Event().wait(0.02)
        helper = threading.Thread(target=resume_when_waiting)
        helper.start()
        assert run.checkpoint() == ["check the tests too"]
        helper.join(20)
        assert resumed.is_set()
    assert kinds(served, run.session)[-1] == "session.ended"


async def test_the_example_agent_runs_to_the_end_unwatched_and_stops_when_denied(served: Served) -> None:
    alone = await sdk.connect(served.url, token=TOKEN)
    assert await example.scripted(alone, delay=0) == "done"
    await alone.close()
    assert kinds(served, alone.session).count("tool.finished") == len(example.STEPS)

    viewer = Attached(served.url)
    watched = await sdk.connect(served.url, token=TOKEN)
    try:
        await until_async(lambda: served.server.viewers(watched.session) > 0)
        playing = asyncio.create_task(example.scripted(watched, delay=0))
        for _ in range(2):
            await until_async(lambda: (i := served.relay.session(watched.session)) is not None and i.needs_attention,
                        what="a call waits for approval")
            held = [e for e in served.events(watched.session) if e["kind"] == "tool.waiting"][-1]
            verdict = "deny" if held["data"]["name"] == "Edit" else "approve"
            await asyncio.to_thread(control, served.relay, watched.session, verdict, reason="not that file")
        assert await asyncio.wait_for(playing, 10) == "denied"
        await watched.flush()
        assert "I will not run Edit: not that file" in served.events(watched.session)[-1]["data"]["text"]
    finally:
        await watched.close()
        viewer.stop()
