"""SDK agent -> ``serve`` -> the attach side (a local relay fed by ``RemoteSource``), over real sockets.

What the local relay holds is what the viewer shows, so every check reads
the local relay: events arrive, controls sent there reach the agent, a cut
connection or a restarted relay leaves every event exactly once, and a gap
the server no longer holds shows as "N events missed".
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from remote_support import TOKEN, Attached, Proxy, Served
from waiting import until_async

from watchkeeper import sdk
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.protocol import Event, make_event
from watchkeeper.relay import IterSource


def send(attached: Attached, session: str, kind: str, **fields: Any) -> Event:
    c = {"id": fields.pop("id", f"c-{uuid.uuid4().hex[:8]}"), "session": session, "control": kind,
         "by": "viewer", **fields}
    outcome: Event = attached.relay.control(c).result(10)
    return outcome


def outcome_in_stream(attached: Attached, session: str, control_id: str) -> Event | None:
    return next((e for e in attached.events(session) if e["id"] == f"control:{control_id}"), None)


async def test_events_reach_the_attached_relay_as_if_local(served: Served, run: sdk.AgentRun) -> None:
    run.user("count the files")
    call = run.tool_started("shell", {"cmd": "ls"})
    run.tool_finished(call, "a b c")
    run.usage(input_tokens=50, output_tokens=5)
    await run.flush()
    attached = Attached(served.url)
    try:
        await until_async(lambda: len(attached.events(run.session)) == 5, what="history arrives")
        run.assistant("3 files")
        await until_async(lambda: len(attached.events(run.session)) == 6, what="live events arrive")
        remote, local = served.events(run.session), attached.events(run.session)
        assert [e["id"] for e in local] == [e["id"] for e in remote]
        info = attached.relay.session(run.session)
        assert info is not None and info.title == "remote agent" and info.tokens_in == 50
        assert info.capabilities["pause"] and info.sources == [f"relay 127.0.0.1:{served.port}"]
        assert attached.source.tracker.stats["ranges"] == 0
    finally:
        attached.stop()


async def test_controls_from_the_attached_side_steer_the_agent(served: Served, run: sdk.AgentRun) -> None:
    attached = Attached(served.url)
    try:
        await run.flush()
        await until_async(lambda: attached.relay.session(run.session) is not None, what="the session is seen")
        sent = await asyncio.to_thread(send, attached, run.session, "pause", id="p1")
        remote = next(e for e in served.events(run.session) if e["id"] == "control:p1")
        assert (sent["kind"], sent["data"]) == (remote["kind"], remote["data"]), "the remote relay's own outcome"
        assert sent["kind"] == "control.applied" and not sent["data"].get("forwarded")
        await until_async(lambda: outcome_in_stream(attached, run.session, "p1"), what="the pause's outcome")
        assert outcome_in_stream(attached, run.session, "p1")["kind"] == "control.applied"  # type: ignore[index]
        await until_async(lambda: run._link.paused, what="the pause reaches the agent")
        checkpoint = asyncio.create_task(run.checkpoint())
        await until_async(lambda: attached.relay.session(run.session).state == "paused",  # type: ignore[union-attr]
                    what="the attached side sees the agent paused")
        assert not checkpoint.done()
        await asyncio.to_thread(send, attached, run.session, "inject", text="use the fast path", id="i1")
        await asyncio.to_thread(send, attached, run.session, "resume", id="r1")
        assert await asyncio.wait_for(checkpoint, 10) == ["use the fast path"]

        call = run.tool_started("shell", {"cmd": "rm -rf /tmp/x"})
        asking = asyncio.create_task(run.approval(call))
        await until_async(lambda: attached.relay.session(run.session).needs_attention,  # type: ignore[union-attr]
                    what="the held call shows on the attached side")
        await asyncio.to_thread(send, attached, run.session, "deny", call_id=call, reason="keep /tmp/x", id="d1")
        decision = await asyncio.wait_for(asking, 10)
        assert (decision.verdict, decision.reason) == ("deny", "keep /tmp/x")
        await until_async(lambda: outcome_in_stream(attached, run.session, "d1"), what="the denial's outcome")
        await run.flush()
        await until_async(lambda: not attached.relay.session(run.session).needs_attention,  # type: ignore[union-attr]
                    what="the call is no longer held")
        outcomes = [e["id"] for e in attached.events(run.session) if e["kind"].startswith("control.")]
        assert outcomes == ["control:p1", "control:i1", "control:r1", "control:d1"], "one outcome each"
    finally:
        attached.stop()


async def test_a_cut_connection_mid_stream_shows_every_event_exactly_once(served: Served,
                                                                         run: sdk.AgentRun) -> None:
    proxy = await Proxy(served.port).start()
    attached = Attached(proxy.url)
    try:
        for i in range(4000):
            run.notice(f"n{i}")
            if i % 500 == 250:
                await run.flush()
                await until_async(lambda: attached.source._ws is not None and attached.source.tracker.known(run.session)
                            and attached.source.connections == proxy.cuts + 1, what="attached again before the cut")
                proxy.cut()
            if i % 50 == 0:
                await asyncio.sleep(0)
        await run.flush()
        total = len(served.events(run.session))
        await until_async(lambda: attached.source.tracker.sessions[run.session].next == total,
                    what="the attached side catches up")
        remote_ids = [e["id"] for e in served.events(run.session)]
        # The tracker counts a frame before its events reach the local relay: wait for the last one there.
        await until_async(lambda: remote_ids[-1] in attached.ids(run.session), what="the last event in the local relay")
        local = [e for e in attached.events(run.session) if not e["id"].startswith("remote:")]
        assert [e["id"] for e in local] == remote_ids, "same events, same order, none twice"
        assert attached.source.connections >= 8 and proxy.cuts == 8
        lost = [e for e in attached.events(run.session) if e["data"].get("code") == "relay-disconnected"]
        assert len(lost) == 8, "each cut is visible in the session"
    finally:
        attached.stop()
        await proxy.close()


async def test_a_restarted_relay_forces_a_full_resync_and_nothing_shows_twice(tmp_path: Path) -> None:
    recording = tmp_path / "recorded.jsonl"
    with sdk.Run(recording, title="recorded run") as rec:
        for i in range(20):
            rec.notice(f"recorded {i}")
    first = Served()
    first.relay.add_source(TranscriptSource(recording))
    port = first.port
    agent = await sdk.connect(first.url, token=TOKEN, title="live agent")
    attached = Attached(first.url)
    second: Served | None = None
    try:
        for i in range(30):
            agent.notice(f"before {i}")
        await agent.flush()
        await until_async(lambda: len(attached.events(agent.session)) == 31 and
                    len(attached.events(rec.session)) == 22, what="both sessions attached")
        old_epoch = attached.source.tracker.epoch
        first.stop()
        second = Served(port=port)
        second.relay.add_source(TranscriptSource(recording))
        await until_async(lambda: agent.connected, what="the agent reconnects to the new relay")
        for i in range(5):
            agent.notice(f"after {i}")
        await agent.flush()
        await until_async(lambda: attached.source.tracker.epoch == second.relay.epoch, what="the new epoch is seen")
        assert old_epoch != second.relay.epoch
        await until_async(lambda: len([e for e in attached.events(agent.session) if e["kind"] == "notice"
                                 and e["data"]["text"].startswith("after")]) == 5, what="new events arrive")
        texts = [e["data"]["text"] for e in attached.events(agent.session)
                 if e["kind"] == "notice" and e["data"].get("code") is None]
        assert texts == [f"before {i}" for i in range(30)] + [f"after {i}" for i in range(5)]
        assert len(second.events(agent.session)) == 5, "the new relay numbers the agent's session from 0"
        await until_async(lambda: attached.source.tracker.sessions[rec.session].next == 22,
                    what="the recording is read again in full under the new epoch")
        recorded = [e["id"] for e in attached.events(rec.session)]
        assert len(recorded) == len(set(recorded)) == 22, "re-read events are dropped by id, not shown twice"
    finally:
        await agent.close()
        attached.stop()
        if second is not None:
            second.stop()


async def test_a_gap_the_server_no_longer_holds_shows_events_missed() -> None:
    served = Served(history=10)
    session = "s-long"
    served.relay.add_source(IterSource("long", [
        make_event(f"e{i}", session, "notice", {"level": "info", "text": f"#{i}"}) for i in range(100)]))
    await until_async(lambda: (info := served.relay.session(session)) is not None and info.events == 100)
    attached = Attached(served.url)
    try:
        await until_async(lambda: len(attached.events(session)) == 11, what="the window and the notice")
        events = attached.events(session)
        assert events[0]["data"]["code"] == "events-missed"
        assert events[0]["data"]["text"].startswith("90 events missed")
        assert [e["data"]["text"] for e in events[1:]] == [f"#{i}" for i in range(90, 100)]
    finally:
        attached.stop()
        served.stop()


async def test_several_relays_share_one_local_relay() -> None:
    a, b = Served(), Served()
    runs = [await sdk.connect(s.url, token=TOKEN, title=f"agent on {name}") for s, name in ((a, "a"), (b, "b"))]
    attached = Attached(a.url, b.url)
    try:
        for r in runs:
            r.user("hello")
            await r.flush()
        await until_async(lambda: len(attached.relay.sessions()) == 2, what="both relays' sessions")
        titles = {i.title: i.sources for i in attached.relay.sessions()}
        assert titles == {"agent on a": [f"relay 127.0.0.1:{a.port}"], "agent on b": [f"relay 127.0.0.1:{b.port}"]}
        outcome = await asyncio.to_thread(send, attached, runs[1].session, "pause", id="pb")
        assert outcome["kind"] == "control.applied" and outcome["data"]["reason"].startswith("paused")
        await until_async(lambda: runs[1]._link.paused, what="the pause reaches the agent on b only")
        assert not runs[0]._link.paused
    finally:
        for r in runs:
            await r.close()
        attached.stop()
        a.stop()
        b.stop()
