"""Remote steering on the served relay's side, fast: who watches, the reconnect grace, and serve's breakpoints.

A served relay and SDK agents over real websockets on 127.0.0.1; ``attach``'s
client (a local relay with a ``RemoteSource``) as the person's screen; the
viewer app under its pilot for the palette. The real Claude Code CLI beside
``serve`` is in ``test_remote_steering_live.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from remote_support import TOKEN, Attached, Served
from test_viewer_support import Notices
from waiting import until_app, until_async
from websockets.asyncio.client import ClientConnection

from watchkeeper import sdk
from watchkeeper.adapters.remote import request
from watchkeeper.adapters.remote.book import RemoteBook
from watchkeeper.breakpoints import Book, BookError, Rule
from watchkeeper.protocol import Event, wire
from watchkeeper.reconnect import dial
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.rule import RuleDialog


async def type_text(pilot: Any, value: str) -> None:
    await pilot.press(*("space" if c == " " else c for c in value))


def control(relay: Any, session: str, kind: str, **fields: Any) -> Event:
    c = {"id": f"c-{uuid.uuid4().hex[:8]}", "session": session, "control": kind, "by": "person", **fields}
    outcome: Event = relay.control(c).result(20)
    return outcome


def notices(served: Served, session: str) -> list[str]:
    return [e["data"]["text"] for e in served.events(session) if e["data"].get("code") == "reconnect-grace"]


async def asking(served: Served) -> tuple[sdk.AgentRun, str, asyncio.Task[sdk.Decision], Attached]:
    """An SDK agent waiting for approval of one call while a screen watches."""
    run = await sdk.connect(served.url, token=TOKEN, title="asks")
    screen = Attached(served.url)
    await until_async(lambda: served.server.watching() == 1, what="the screen follows the relay")
    call = run.tool_started("shell", {"cmd": "make deploy"})
    waiting = asyncio.create_task(run.approval(call))
    await until_async(lambda: any(e["kind"] == "tool.waiting" for e in served.events(run.session)), what="it waits")
    return run, call, waiting, screen


# --- who watches ------------------------------------------------------------------------


async def test_only_a_following_viewer_watches_and_a_pause_nobody_watches_is_rejected(served: Served) -> None:
    run = await sdk.connect(served.url, token=TOKEN)
    try:
        await run.flush()
        await request(served.url, TOKEN, {"t": "sessions", "id": "s"})
        async with dial(served.url, TOKEN) as ws:
            await ws.recv()
            await ws.send(wire.dumps(wire.hello_client("viewer", "ctl")), text=True)
            await until_async(lambda: len(served.server._viewers) == 1, what="a request-only viewer is connected")
            assert served.server.viewers(run.session) == 0
            rejected = await asyncio.to_thread(control, served.relay, run.session, "pause")
            assert rejected["kind"] == "control.rejected" and "nobody watches" in rejected["data"]["reason"]
        screen = Attached(served.url)
        try:
            await until_async(lambda: served.server.viewers(run.session) == 1, what="the screen counts as watching")
            applied = await asyncio.to_thread(control, served.relay, run.session, "pause")
            assert applied["kind"] == "control.applied"
            await until_async(lambda: run._link.paused, what="the pause reaches the agent")
        finally:
            screen.stop()
    finally:
        await run.close()


# --- the reconnect grace -----------------------------------------------------------------


async def test_an_sdk_call_waits_the_grace_and_a_screen_back_decides_it() -> None:
    served = Served(grace=120)
    try:
        run, call, waiting, screen = await asking(served)
        screen.stop()
        await until_async(lambda: notices(served, run.session), what="the grace notice")
        assert "1 call(s) waiting for approval wait 120 s" in notices(served, run.session)[0]
        assert served.server.viewers(run.session) == 1 and not waiting.done()
        back = Attached(served.url)
        try:
            await until_async(lambda: served.server.watching() == 1, what="the screen is back")
            assert not served.server.grace.running, "back within the grace: a later departure starts a new one"
            outcome = await asyncio.to_thread(control, back.relay, run.session, "approve", call_id=call)
            assert outcome["kind"] == "control.applied", outcome
            assert (await asyncio.wait_for(waiting, 20)).verdict == "approve"
        finally:
            back.stop()
        await until_async(lambda: len(notices(served, run.session)) == 1 and served.server.grace.running,
                    what="the screen left again: a new grace, and no call waits so no new notice")
        await run.close()
    finally:
        served.stop()


async def test_with_nobody_back_the_sdk_call_goes_on_with_no_decision_after_the_grace() -> None:
    served = Served(grace=0.5)
    try:
        run, call, waiting, screen = await asking(served)
        screen.stop()
        decision = await asyncio.wait_for(waiting, 20)
        assert decision.verdict == "none" and "nobody is watching" in (decision.reason or "")
        ids = [e["id"] for e in served.events(run.session)]
        assert ids.index(f"hold:{call}:unwatched") > next(i for i, e in enumerate(served.events(run.session))
                                                          if e["data"].get("code") == "reconnect-grace")
        await run.close()
    finally:
        served.stop()


# --- serve's breakpoints, over the wire -----------------------------------------------------


@pytest.fixture
def book(tmp_path: Path) -> Book:
    return Book(tmp_path / "breakpoints.toml")


async def ask(ws: ClientConnection, msg: dict[str, Any]) -> dict[str, Any]:
    await ws.send(wire.dumps(msg), text=True)
    while True:
        reply = wire.decode(await ws.recv(decode=False))
        if reply.get("id") == msg["id"]:
            return reply


async def test_breakpoint_requests_list_add_toggle_and_remove_serves_own_rules(book: Book) -> None:
    served = Served(breakpoints=book)
    try:
        async with dial(served.url, TOKEN) as ws:
            await ws.recv()
            await ws.send(wire.dumps(wire.hello_client("viewer", "test")), text=True)
            listed = await ask(ws, {"t": "breakpoints", "id": "1", "op": "list"})
            assert listed["rules"] == [] and str(book.path) in listed["where"]
            added = await ask(ws, {"t": "breakpoints", "id": "2", "op": "add",
                                   "rule": {"name": "deploys", "tool": "Bash", "pattern": "deploy"}})
            assert added["done"] == "added «deploys»"
            assert added["rules"] == [{"name": "deploys", "tool": "Bash", "pattern": "deploy"}]
            assert Book.load(book.path).get("deploys") == Rule("deploys", tool="Bash", pattern="deploy")
            off = await ask(ws, {"t": "breakpoints", "id": "3", "op": "disable", "name": "deploys"})
            assert off["rules"][0]["enabled"] is False and Book.load(book.path).rules[0].enabled is False
            gone = await ask(ws, {"t": "breakpoints", "id": "4", "op": "remove", "name": "deploys"})
            assert gone["rules"] == [] and Book.load(book.path).rules == ()
            missing = await ask(ws, {"t": "breakpoints", "id": "5", "op": "remove", "name": "deploys"})
            assert missing["error"] == "no breakpoint «deploys»"
            bad = await ask(ws, {"t": "breakpoints", "id": "6", "op": "add", "rule": {"name": "everything"}})
            assert bad["t"] == "error" and "no condition" in bad["message"]
            unknown = await ask(ws, {"t": "breakpoints", "id": "7", "op": "explode"})
            assert unknown["t"] == "error" and unknown["code"] == "bad-breakpoints"
            book.path.write_text("[[breakpoint]]\nname = 'x'\ntool = 3\n")
            kept = await ask(ws, {"t": "breakpoints", "id": "8", "op": "add",
                                  "rule": {"name": "y", "tool": "Write"}})
            assert "not rewritten" in kept["error"]
            assert book.path.read_text() == "[[breakpoint]]\nname = 'x'\ntool = 3\n"
    finally:
        served.stop()


async def test_a_relay_without_a_hook_endpoint_says_it_has_no_breakpoints(served: Served) -> None:
    attached = Attached(served.url)
    try:
        await until_async(lambda: attached.source._ws is not None)
        remote = RemoteBook(attached.source)
        with pytest.raises(BookError, match="no breakpoints"):
            await asyncio.wrap_future(remote.request("add", rule=Rule("t", tool="Bash")))
    finally:
        attached.stop()


async def test_the_palette_under_attach_edits_the_remote_relays_rules(book: Book) -> None:
    served = Served(breakpoints=book)
    attached = Attached(served.url)
    try:
        await until_async(lambda: attached.source._ws is not None)
        remote = RemoteBook(attached.source)
        app = WatchkeeperApp(attached.relay, steer=SteerSetup(breakpoints=[remote]))
        async with app.run_test(size=(120, 36)) as pilot:
            notices = Notices(app)
            await pilot.press("ctrl+p")
            await type_text(pilot, "hold on a tool")
            await pilot.press("enter")
            await until_app(pilot, lambda: isinstance(app.screen, RuleDialog))
            await type_text(pilot, "Write")
            await pilot.press("enter")
            await until_app(pilot, lambda: book.get("tool Write") is not None)
            assert Book.load(book.path).get("tool Write") == Rule("tool Write", tool="Write")
            await until_app(pilot, lambda: any("Holds tool Write" in m for m in notices.messages()))
            assert [r.name for r in remote.rules] == ["tool Write"]

            book.add(Rule("on the server", pattern="secret"))
            await pilot.press("ctrl+p")
            await type_text(pilot, "remove on the server")
            await pilot.press("enter")
            await until_app(pilot, lambda: book.get("on the server") is None)
            assert [r.name for r in Book.load(book.path).rules] == ["tool Write"]
    finally:
        attached.stop()
        served.stop()
