"""Which sessions an edge may report at its hub: never one the hub has of its own, and never under a name that
belongs to another edge's credential, that another credential's live edge goes by, or that only looks like one
(a real hub, a stand-in edge with a real edge credential, loopback)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from edge_standin import StandInEdge
from remote_support import TOKEN, Served
from waiting import until_async

from watchkeeper import sdk
from watchkeeper.adapters.remote import request
from watchkeeper.credentials import Keyring

pytestmark = pytest.mark.timeout(60)


async def test_an_edge_cannot_write_into_or_take_the_controls_of_a_session_the_hub_has_of_its_own() -> None:
    """An edge naming a hub-local agent's session had its events kept there (a forged "approved by alice" let
    the held call leave the listing), became the session's origin, and took the person's controls."""
    credential = "wke-" + uuid.uuid4().hex
    hub = Served(token=Keyring([(None, TOKEN)], None, [("alpha", credential)]))
    try:
        run = await sdk.connect(hub.url, token=TOKEN, title="a hub-local agent")
        hub.watch(run.session)
        call = run.tool_started("shell", {"cmd": "rm -rf build"})
        asking = asyncio.create_task(run.approval(call, name="shell", input={"cmd": "rm -rf build"}))
        held = lambda: [r for r in hub.relay.listing() if r["id"] == run.session and r["held"]]  # noqa: E731
        await until_async(held, what="the agent's call held at the hub")
        async with StandInEdge(hub.url, credential, "alpha") as edge:
            await edge.push(run.session, "message.assistant", {"text": "FORGED BY THE EDGE"})
            await edge.push(run.session, "control.applied", {"control_id": "x1", "control": "approve", "by": "alice",
                                                             "reason": "approved", "call_id": call})
            await edge.push("alpha-own", "message.assistant", {"text": "the edge's own"})
            await until_async(lambda: hub.relay.session("alpha-own"), what="the edge's own session at the hub")
            texts = [e["data"].get("text") for e in hub.events(run.session)]
            assert "FORGED BY THE EDGE" not in texts
            assert held(), "the held call is still listed"
            assert run.session not in hub.server.edges.owners
            outcome = await asyncio.wrap_future(hub.relay.control(
                {"id": "c-person", "session": run.session, "control": "approve", "call_id": call, "by": "person"}))
            assert outcome["kind"] == "control.applied"
            assert (await asyncio.wait_for(asking, 30)).verdict == "approve"
            assert not [m for m in edge.got if m["t"] == "control"], "no control went to the edge"
        await run.close()
    finally:
        hub.stop()


def fleet_hub() -> tuple[Served, str, str]:
    """A hub with a named edge ``e1`` and two fleet credentials (their edges name themselves)."""
    a, b = "wke-a-" + uuid.uuid4().hex, "wke-b-" + uuid.uuid4().hex
    hub = Served(token=Keyring([(None, TOKEN)], None, [("e1", "wke-e1-" + uuid.uuid4().hex), (None, a), (None, b)]))
    return hub, a, b


async def refusal(edge: StandInEdge) -> str:
    got: list[dict[str, Any]] = await until_async(lambda: [m for m in edge.got if m["t"] == "error"],
                                                  what=f"the hub refuses the edge {edge.name!r}")
    assert got[0]["code"] == "forbidden"
    return str(got[0]["message"])


async def test_an_edge_may_not_name_itself_like_another_edge_or_the_hubs_own() -> None:
    """A fleet edge took ``e1 `` (trailing space), Cyrillic ``е1``, ``e1`` + a zero-width space, or ``local``."""
    hub, fleet, _ = fleet_hub()
    try:
        for name, says in (("e1 ", "A-Z a-z 0-9 . _ -"), ("\u04351", "A-Z a-z 0-9 . _ -"),
                           ("e1\u200b", "A-Z a-z 0-9 . _ -"), ("x" * 65, "1 to 64"), ("local", "'local'"),
                           ("LOCAL", "'local'"), ("e1", "belongs to another edge credential")):
            async with StandInEdge(hub.url, fleet, name) as edge:
                assert says in await refusal(edge)
        assert not hub.server.edges.by_key
    finally:
        hub.stop()


async def test_a_name_a_live_edge_goes_by_is_refused_to_another_credentials_edge() -> None:
    """Two fleets' edges both named ``build-1`` were both taken, and a breakpoint for it went to the first."""
    hub, fleet_a, fleet_b = fleet_hub()
    try:
        async with StandInEdge(hub.url, fleet_a, "build-1") as first:
            await first.push("s-first", "message.assistant", {"text": "first"})
            await until_async(lambda: hub.relay.session("s-first"), what="the first build-1's session")
            async with StandInEdge(hub.url, fleet_b, "build-1") as second:
                assert "connected to this hub already" in await refusal(second)
        await until_async(lambda: not hub.server.edges.origin("s-first")["connected"],  # type: ignore[index]
                          what="the first build-1 has left")
        async with StandInEdge(hub.url, fleet_b, "build-1") as second:
            await second.push("s-second", "message.assistant", {"text": "second"})
            await until_async(lambda: hub.relay.session("s-second"), what="the second build-1's session")
            _, reply = await request(hub.url, TOKEN, {"t": "breakpoints", "id": "b", "op": "list", "edge": "build-1"})
            assert reply.get("error") is None and reply["where"] == "edge build-1: the stand-in", reply
            assert [m["t"] for m in second.got].count("breakpoints") == 1
    finally:
        hub.stop()


def test_serve_refuses_an_edge_name_outside_the_safe_characters(tmp_path: Path) -> None:
    from watchkeeper.cli import build_parser
    from watchkeeper.commands.serve import upstream_options

    cred = tmp_path / "cred"
    cred.write_text("wke-" + uuid.uuid4().hex + "\n")
    for name, says in (("build 1", "A-Z a-z 0-9 . _ -"), ("local", "'local'"), ("build-1", None)):
        args = build_parser().parse_args(["serve", "--upstream", "ws://127.0.0.1:1", "--upstream-token-file",
                                          str(cred), "--edge-name", name])
        if says is None:
            assert upstream_options(args)["edge"] == name  # type: ignore[index]
            continue
        with pytest.raises(ValueError, match=f"--edge-name '{name}': .*{says}"):
            upstream_options(args)
