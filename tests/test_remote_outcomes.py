"""A control sent to the attach side's relay for a remote session ends in the remote relay's own outcome.

SDK agent -> ``serve`` (one relay) -> ``RemoteSource`` (another relay), over
real sockets. ``Relay.control()`` on the attach side resolves to the
``control.applied``/``control.rejected`` the remote relay decided for that
control id, never to a placeholder; if the remote relay does not answer in
time, to a rejection that says so.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from remote_support import TOKEN, Attached, Served
from waiting import until_async

from watchkeeper import sdk
from watchkeeper.protocol import Event


def send(attached: Attached, session: str, kind: str, timeout: float | None = None, **fields: Any) -> Event:
    c = {"id": fields.pop("id", f"c-{uuid.uuid4().hex[:8]}"), "session": session, "control": kind,
         "by": "viewer", **fields}
    future = attached.relay.control(c) if timeout is None else attached.relay.control(c, timeout=timeout)
    outcome: Event = future.result(30)
    return outcome


def remote_outcome(served: Served, session: str, control_id: str) -> Event:
    return next(e for e in served.events(session) if e["id"] == f"control:{control_id}")


async def test_outcomes_are_the_remote_relays_own(served: Served, run: sdk.AgentRun) -> None:
    attached = Attached(served.url)
    try:
        await run.flush()
        await until_async(lambda: attached.relay.session(run.session) is not None, what="the session is seen")

        nothing = await asyncio.to_thread(send, attached, run.session, "approve", id="a0")
        assert nothing["kind"] == "control.rejected" and nothing["data"]["reason"] == "no call is waiting"
        assert nothing["data"] == remote_outcome(served, run.session, "a0")["data"]

        call = run.tool_started("shell", {"cmd": "make deploy"})
        asking = asyncio.create_task(run.approval(call))
        await until_async(lambda: attached.relay.session(run.session).needs_attention,  # type: ignore[union-attr]
                    what="the held call shows on the attached side")
        denied = await asyncio.to_thread(send, attached, run.session, "deny", call_id=call, reason="not today",
                                         id="d1")
        assert (denied["kind"], denied["data"]["call_id"]) == ("control.applied", call)
        assert denied["data"]["reason"] == "denied: the agent is told why" and denied["data"]["message"] == "not today"
        assert not denied["data"].get("forwarded")
        assert (await asyncio.wait_for(asking, 10)).verdict == "deny"

        late = await asyncio.to_thread(send, attached, run.session, "approve", call_id=call, id="a1")
        assert late["kind"] == "control.rejected" and "already decided" in late["data"]["reason"]
        again = await asyncio.to_thread(send, attached, run.session, "deny", call_id=call, id="d1")
        assert again == denied, "a repeated control id gets its first outcome, and acts no more"
        await until_async(lambda: {"control:a0", "control:d1", "control:a1"} <=
                    {e["id"] for e in attached.events(run.session)}, what="the outcomes in the stream")
        ids = [e["id"] for e in attached.events(run.session) if e["kind"].startswith("control.")]
        assert len(ids) == len(set(ids)) == 3, "one outcome per control in the stream"
    finally:
        attached.stop()


async def test_a_remote_relay_that_does_not_answer_gets_a_clear_rejection() -> None:
    served = Served()
    run = await sdk.connect(served.url, token=TOKEN, title="soon alone")
    attached = Attached(served.url)
    try:
        run.user("hello")
        await run.flush()
        await until_async(lambda: len(attached.events(run.session)) == 2, what="the session is seen")
        served.stop()
        await until_async(lambda: attached.source._ws is None, what="the connection is gone")
        outcome = await asyncio.to_thread(send, attached, run.session, "pause", timeout=0.5, id="p-late")
        assert outcome["kind"] == "control.rejected"
        assert outcome["data"]["reason"].startswith("the remote relay did not answer within 0.5 s")
        assert outcome["data"]["control_id"] == "p-late" and not outcome["data"].get("forwarded")
        assert "p-late" in {c["id"] for c, _ in attached.source._controls.values()}, "kept to re-send"
        assert all(e["id"] != "control:p-late" for e in attached.events(run.session)), "no invented outcome"
    finally:
        await run._link._stop()
        attached.stop()
        served.stop()
