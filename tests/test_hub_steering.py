"""Steering through the hub, fast: SDK agents on an edge, the person at the hub, and the edge's breakpoints.

The hub and the edge are ``watchkeeper serve`` processes (``test_edges.py``'s
:class:`Fleet`); the agent is ``watchkeeper.sdk`` connected to the edge; the
person is ``attach``'s client following the hub (a :class:`Screen`), ``ctl
--relay HUB``, or the viewer app under its pilot. Each control is decided by
the edge, which holds the agent; its one outcome comes back to the person.
The real Claude Code CLI on an edge is in ``test_hub_steering_live.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fleet_support import Fleet
from remote_steering_support import Screen, Serve, start_serve
from remote_support import TOKEN, Attached, Served
from test_remote_steering import type_text
from test_viewer_support import Notices
from waiting import until, until_app, until_async

from watchkeeper import sdk
from watchkeeper.adapters.remote import request
from watchkeeper.adapters.remote.book import RemoteBooks
from watchkeeper.breakpoints import Book, Rule
from watchkeeper.credentials import Keyring
from watchkeeper.protocol import Event
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.rule import RuleDialog

WAIT = 30.0


@pytest.fixture
async def on_edge(fleet: Fleet) -> AsyncIterator[tuple[Serve, Screen, sdk.AgentRun]]:
    """An SDK agent connected to edge ``alpha``, and a person watching at the hub who sees its session."""
    edge = await asyncio.to_thread(fleet.start_edge, "alpha")
    screen = Screen(fleet.hub)
    run = await sdk.connect(edge.url, token=edge.token, title="sdk on an edge")
    try:
        await until_async(lambda: screen.sees(run.session), what="the person at the hub sees the session",
                          timeout=WAIT)
        yield edge, screen, run
    finally:
        await run.close()
        await asyncio.to_thread(screen.close)


def outcomes(stream: list[Event]) -> list[tuple[str, str, str]]:
    return [(e["kind"], e["data"]["control"], e["data"]["control_id"]) for e in stream
            if e["kind"] in ("control.applied", "control.rejected") and e["data"].get("control_id")]


async def control(screen: Screen, session: str, kind: str, **fields: Any) -> Event:
    return await asyncio.to_thread(screen.control, session, kind, **fields)


async def test_an_sdk_agent_on_an_edge_is_paused_injected_approved_and_cancelled_from_the_hub(
        fleet: Fleet, on_edge: tuple[Serve, Screen, sdk.AgentRun]) -> None:
    edge, screen, run = on_edge
    sid = run.session
    paused = await control(screen, sid, "pause")
    assert paused["kind"] == "control.applied" and "checkpoint" in paused["data"]["reason"], paused
    await until_async(lambda: run._link.paused, what="the pause reached the agent", timeout=WAIT)
    stopped = asyncio.create_task(run.checkpoint())
    await until_async(lambda: any(e["data"].get("state") == "paused" for e in screen.of(sid, "state")),
                      what="the hub's person sees the agent stopped at its checkpoint", timeout=WAIT)
    assert not stopped.done()
    code, said = await asyncio.to_thread(fleet.hub.ctl, "inject", sid, "use the staging database")
    assert code == 0 and said.startswith("applied: queued"), said
    assert not stopped.done(), "an inject does not resume a paused agent"
    assert (await control(screen, sid, "resume"))["kind"] == "control.applied"
    assert await asyncio.wait_for(stopped, WAIT) == ["use the staging database"]

    stepped = await control(screen, sid, "step")
    assert stepped["kind"] == "control.rejected" and stepped["data"]["reason"] == "an SDK agent cannot step"

    call = run.tool_started("shell", {"cmd": "make deploy"})
    asking = asyncio.create_task(run.approval(call, name="shell"))
    await until_async(lambda: any(e["data"]["call_id"] == call for e in screen.of(sid, "tool.waiting")),
                      what="the hub's person sees the call wait", timeout=WAIT)
    approved = await control(screen, sid, "approve", call_id=call)
    assert approved["kind"] == "control.applied" and approved["data"]["call_id"] == call
    assert (await asyncio.wait_for(asking, WAIT)).verdict == "approve"
    again = await control(screen, sid, "approve", call_id=call)
    assert again["kind"] == "control.rejected" and "already decided" in again["data"]["reason"]

    code, said = await asyncio.to_thread(fleet.hub.ctl, "cancel", sid)
    assert code == 0 and said.startswith("applied: cancel sent"), said
    await until_async(lambda: run._link._cancel is not None, what="the cancel reached the agent", timeout=WAIT)
    with pytest.raises(sdk.Cancelled):
        await run.checkpoint()
    await run.flush()
    on_edge_stream = outcomes(await asyncio.to_thread(edge.stream, sid))
    assert [(k, c) for k, c, _ in on_edge_stream] == [
        ("control.applied", "pause"), ("control.applied", "inject"), ("control.applied", "resume"),
        ("control.rejected", "step"), ("control.applied", "approve"), ("control.rejected", "approve"),
        ("control.applied", "cancel")]
    assert len({cid for _, _, cid in on_edge_stream}) == len(on_edge_stream), "one outcome per control"
    await asyncio.to_thread(until, lambda: outcomes(fleet.hub.stream(sid)) == on_edge_stream,
                            what="the hub has the same outcomes, once each", timeout=WAIT)
    await until_async(lambda: outcomes(screen.events(sid)) == on_edge_stream,
                      what="and so does the person's screen", timeout=WAIT)


async def test_a_control_the_edge_got_but_never_answered_is_rejected_when_its_connection_drops(
        tmp_path: Path) -> None:
    cred = f"wke-{uuid.uuid4().hex}"
    (tmp_path / "cred").write_text(f"alpha={cred}\n")
    hub = Served(token=Keyring([(None, TOKEN)], None, [("alpha", cred)]))
    edge = await asyncio.to_thread(start_serve, tmp_path / "alpha", "--upstream", hub.url,
                                   "--upstream-token-file", str(tmp_path / "cred"))
    screen = Attached(hub.url)
    run = await sdk.connect(edge.url, token=edge.token, title="sdk on an edge")
    try:
        await until_async(lambda: screen.relay.session(run.session) is not None, what="the screen follows it",
                          timeout=WAIT)
        # a request the edge answers after the hub's word that a person watches (sent on the same connection
        # before it): from here the edge holds the agent's calls
        probe = {"t": "breakpoints", "id": "probe", "op": "list", "edge": "alpha"}
        assert (await request(hub.url, TOKEN, probe))[1].get("error") is None
        call = run.tool_started("shell", {"cmd": "make deploy"})
        asking = asyncio.create_task(run.approval(call))
        await until_async(lambda: any(e["kind"] == "tool.waiting" for e in screen.events(run.session)),
                          what="the hub's person sees the call wait", timeout=WAIT)
        source = hub.server.edges.by_name["alpha"]
        os.kill(edge.proc.pid, signal.SIGSTOP)  # the edge gets the control and never answers
        sent = screen.relay.control({"id": "c-stuck", "session": run.session, "control": "approve",
                                     "call_id": call, "by": "person"})
        await until_async(lambda: "c-stuck" in source._controls, what="the hub passed the control on",
                          timeout=WAIT)
        os.kill(edge.proc.pid, signal.SIGKILL)
        outcome = await asyncio.wait_for(asyncio.wrap_future(sent), WAIT)
        assert outcome["kind"] == "control.rejected", outcome
        reason = outcome["data"]["reason"]
        assert "edge alpha" in reason and "before it answered" in reason, reason
        await until_async(lambda: [o[0] for o in outcomes(hub.events(run.session))] == ["control.rejected"],
                          what="the hub's stream has the one outcome", timeout=WAIT)
        assert "c-stuck" not in source._controls, "not re-sent when the edge is back: its policy decided the call"
        asking.cancel()
    finally:
        await run.close()
        screen.stop()
        await asyncio.to_thread(edge.stop)
        hub.stop()


async def test_the_palette_under_attach_to_a_hub_edits_an_edges_rules(fleet: Fleet) -> None:
    edge = await asyncio.to_thread(fleet.start_edge, "alpha")
    run = await sdk.connect(edge.url, token=edge.token, title="sdk on an edge")
    screen = Screen(fleet.hub)
    try:
        await until_async(lambda: "alpha" in screen.attached.source.edges, what="the hub lists alpha's session",
                          timeout=WAIT)
        books = RemoteBooks(screen.attached.sources)
        assert [b.name for b in books()] == [screen.attached.source.name,
                                              f"edge alpha (via {screen.attached.source.name})"]
        app = WatchkeeperApp(screen.attached.relay, steer=SteerSetup(breakpoints=books))
        async with app.run_test(size=(120, 36)) as pilot:
            notices = Notices(app)
            await pilot.press("ctrl+p")
            await type_text(pilot, "on edge alpha hold on a tool")
            await pilot.press("enter")
            await until_app(pilot, lambda: isinstance(app.screen, RuleDialog))
            await type_text(pilot, "Write")
            await pilot.press("enter")
            rules = edge.home / "breakpoints.toml"
            await until_app(pilot, lambda: rules.exists() and Book.load(rules).get("tool Write") is not None)
            assert Book.load(rules).get("tool Write") == Rule("tool Write", tool="Write")
            assert not (fleet.hub.home / "breakpoints.toml").exists()
            await until_app(pilot, lambda: any("Holds tool Write" in m for m in notices.messages()))
            await pilot.press("ctrl+p")
            await type_text(pilot, "on edge alpha remove")
            await pilot.press("enter")
            await until_app(pilot, lambda: Book.load(rules).rules == ())
    finally:
        await run.close()
        await asyncio.to_thread(screen.close)
