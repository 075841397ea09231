"""A control the relay accepted for an SDK agent reaches it once, even when the connection drops first.

The relay reported a denial applied, the push was lost with the agent's
connection, the SDK reconnected saying it still asked, and ``approval()``
answered ``none``: the denied call ran. A pause and an injection were lost the
same way. Here the relay's record wins on a reconnect: what the agent missed
is sent again, and what it already took acts no more.

Real relay served on 127.0.0.1, the real SDK with an agent credential, and
between them a TCP proxy that loses the relay's bytes to the agent, then cuts
the link (a one-way partition, then a drop).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from remote_support import Proxy, Served
from waiting import until_async

from watchkeeper import config, sdk
from watchkeeper.adapters.sdk_agent.steering import SdkSteering
from watchkeeper.credentials import Keyring, mint
from watchkeeper.protocol import ControlModel, Kind, make_event, wire

PERSON = "person-token-0123456789abcdef"
WAIT = 20.0


class Partition(Proxy):
    """A proxy whose relay-to-agent bytes are lost while ``losing`` (kept in ``lost``; the rest in ``passed``)."""

    losing = False

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.lost = bytearray()
        self.passed = bytearray()

    def drop(self) -> None:
        """The partition ends with the link: cut, and the next connection carries bytes both ways."""
        self.losing = False
        self.cut()

    def to_client(self, data: bytes) -> bytes:
        if self.losing:
            self.lost += data
            return b""
        self.passed += data
        return data


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "wk"))
    server = Served(token=Keyring([("person", PERSON)], config.hook_credentials_dir()))
    yield server
    server.stop()


@pytest.fixture
async def link(served: Served) -> AsyncIterator[tuple[Partition, sdk.AgentRun]]:
    proxy = await Partition(served.port).start()
    run = await sdk.connect(proxy.url, token=mint(config.hook_credentials_dir(), "agent", "bot"))
    assert await run.flush()
    served.watch(run.session)
    try:
        yield proxy, run
    finally:
        await run.close()
        await proxy.close()


def control(served: Served, session: str, kind: str, **fields: Any) -> dict[str, Any]:
    c = {"id": fields.pop("id", f"c-{uuid.uuid4().hex[:8]}"), "session": session, "control": kind,
         "by": "person", **fields}
    outcome: dict[str, Any] = served.relay.control(c).result(10)
    return outcome


async def steer(served: Served, session: str, kind: str, **fields: Any) -> dict[str, Any]:
    return await asyncio.to_thread(control, served, session, kind, **fields)


async def taken(run: sdk.AgentRun) -> None:
    """The agent has handled what the relay sent so far: the acknowledgement of a later event came after it."""
    run.notice("in sync")
    assert await run.flush(WAIT)


async def test_a_denial_lost_with_the_connection_reaches_the_agent_and_the_call_never_runs(
        served: Served, link: tuple[Partition, sdk.AgentRun]) -> None:
    proxy, run = link
    call = run.tool_started("shell", {"cmd": "rm -rf /important"})
    asking = asyncio.create_task(run.approval(call, name="shell", input={"cmd": "rm -rf /important"},
                                              timeout=WAIT))
    await until_async(lambda: served.relay.session(run.session).needs_attention,  # type: ignore[union-attr]
                      what="the call is held for the person")
    proxy.losing = True
    denied = await steer(served, run.session, "deny", call_id=call, reason="NO")
    assert denied["kind"] == "control.applied"
    await until_async(lambda: b'"decision"' in proxy.lost, what="the denial is lost on the way")
    proxy.drop()
    decision = await asyncio.wait_for(asking, 2 * WAIT)
    assert (decision.verdict, decision.may_run, decision.reason) == ("deny", False, "NO")
    assert proxy.connections == 2
    assert await run.flush()
    again = await steer(served, run.session, "approve", call_id=call)
    assert again["kind"] == "control.rejected" and "first decision wins" in again["data"]["reason"]
    finished = [e for e in served.events(run.session) if e["kind"] == "tool.finished"]
    assert [(e["data"]["call_id"], e["data"]["status"]) for e in finished] == [(call, "denied")]
    assert not served.relay.session(run.session).needs_attention  # type: ignore[union-attr]


async def test_a_lost_pause_resume_and_injection_each_act_once_across_drops(
        served: Served, link: tuple[Partition, sdk.AgentRun]) -> None:
    proxy, run = link
    proxy.losing = True
    for kind, fields in (("pause", {}), ("inject", {"text": "STOP, do not push", "id": "inj-stop"})):
        outcome = await steer(served, run.session, kind, **fields)
        assert outcome["kind"] == "control.applied", outcome
    await until_async(lambda: b"do not push" in proxy.lost, what="the pause and the message are lost on the way")
    proxy.drop()
    await until_async(lambda: run._link.paused and run._link._injections,
                      what="the agent gets the pause and the message once it reconnects")
    # Dropped again before a checkpoint: the relay has not seen the message delivered and sends it again.
    proxy.drop()
    await until_async(lambda: proxy.passed.count(b"do not push") == 2 and run.connected,
                      what="the message sent again after the second reconnect")
    await taken(run)
    checkpoint = asyncio.create_task(run.checkpoint())
    await until_async(lambda: any(e["kind"] == "state" and e["data"]["state"] == "paused"
                                  for e in served.events(run.session)), what="the agent waits, paused")
    assert not checkpoint.done()
    proxy.losing = True
    resumed = await steer(served, run.session, "resume")
    assert resumed["kind"] == "control.applied"
    await until_async(lambda: b'"resume"' in proxy.lost, what="the resume is lost on the way")
    proxy.drop()
    assert await asyncio.wait_for(checkpoint, WAIT) == ["STOP, do not push"]
    assert await run.checkpoint() == []
    assert await run.flush()
    delivered = [e["id"] for e in served.events(run.session) if e["kind"] == "message.user"]
    assert delivered == ["control:inj-stop:delivered"]
    assert proxy.connections == 4


async def test_a_lost_cancel_is_raised_once_after_the_reconnect(
        served: Served, link: tuple[Partition, sdk.AgentRun]) -> None:
    proxy, run = link
    proxy.losing = True
    cancelled = await steer(served, run.session, "cancel", reason="wrong repo")
    assert cancelled["kind"] == "control.applied"
    await until_async(lambda: b"wrong repo" in proxy.lost, what="the cancel is lost on the way")
    proxy.drop()
    await until_async(lambda: run._link._cancel is not None, what="the cancel reaches the agent")
    with pytest.raises(sdk.Cancelled, match="wrong repo"):
        await run.checkpoint()
    proxy.drop()
    await until_async(lambda: proxy.passed.count(b"wrong repo") == 2 and run.connected,
                      what="the cancel sent again after the second reconnect")
    await taken(run)
    assert await run.checkpoint() == [], "raised once"


def test_a_reconnect_never_reopens_a_decided_call_and_a_restarted_relay_takes_the_agents_word() -> None:
    steering = SdkSteering(viewers=lambda session: 1)
    first, second, third = object(), object(), object()
    steering.on_events(first, [make_event("e0", "s", Kind.TOOL_WAITING, {"call_id": "c1", "reason": "approval"})])
    deny = ControlModel(id="d1", session="s", control="deny", call_id="c1", reason="no", by="person")
    assert steering.control(deny).outcome["kind"] == "control.applied"
    steering.detach(first)
    (resent,) = steering.attach(second, "s", {"paused": False, "asking": ["c1"]})
    assert resent == (second, wire.decision("s", "c1", "deny", "no", "person"))
    approve = ControlModel(id="a1", session="s", control="approve", call_id="c1", by="person")
    assert "first decision wins" in steering.control(approve).outcome["data"]["reason"]
    assert steering.attach(third, "s", {"paused": False, "asking": []}) == [], "no longer asked: nothing again"
    restarted = SdkSteering(viewers=lambda session: 1)
    assert restarted.attach(first, "s", {"paused": True, "asking": ["c2"]}) == []
    resume = restarted.control(ControlModel(id="r1", session="s", control="resume", by="person"))
    approved = restarted.control(ControlModel(id="a2", session="s", control="approve", call_id="c2", by="person"))
    assert (resume.outcome["kind"], approved.outcome["kind"]) == ("control.applied", "control.applied")


def test_an_unnamed_decision_is_refused_while_several_calls_wait() -> None:
    steering = SdkSteering(viewers=lambda session: 1)
    link = object()
    steering.on_events(link, [make_event(f"e{n}", "s", Kind.TOOL_WAITING, {"call_id": cid, "reason": "approval"})
                              for n, cid in enumerate(("c1", "c2"))])
    refused = steering.control(ControlModel(id="a1", session="s", control="approve", by="person"))
    assert refused.outcome["kind"] == "control.rejected" and "name the one to approve" in \
        refused.outcome["data"]["reason"] and refused.pushes == []
    named = steering.control(ControlModel(id="a2", session="s", control="approve", call_id="c2", by="person"))
    assert named.outcome["kind"] == "control.applied"
    only = steering.control(ControlModel(id="d1", session="s", control="deny", by="person"))
    assert only.outcome["kind"] == "control.applied" and only.outcome["data"]["call_id"] == "c1"
