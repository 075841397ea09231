"""``attach`` and the SDK's link against a relay that sends odd frames: reported and retried, never a silent death.

Real parts only: stand-in relays are websockets servers on 127.0.0.1 port 0,
``attach`` runs as a process with its own ``WATCHKEEPER_HOME``, the remote
source and the SDK link run in this process against them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from remote_support import TOKEN, Attached, Served
from test_remote_cli import ROOT, WATCHKEEPER, Lines
from waiting import until, until_async
from websockets.asyncio.server import ServerConnection, serve

from watchkeeper import sdk
from watchkeeper.reconnect import dial, keep_connected

EPOCH = "r-odd"
HELLO = {"t": "hello", "v": 1, "epoch": EPOCH, "server": "odd", "capabilities": ["sessions", "control"]}


def event(seq: int) -> dict[str, Any]:
    return {"v": 1, "id": f"e{seq}", "ts": "2026-01-01T00:00:00Z", "session": "sess-1", "agent": "main",
            "kind": "notice", "data": {"level": "info", "text": f"event {seq}"}, "seq": seq, "epoch": EPOCH}


@contextlib.asynccontextmanager
async def served_on_loopback(handler: Callable[[ServerConnection], Awaitable[None]]) -> AsyncIterator[str]:
    """``handler`` served on 127.0.0.1, port 0: its URL."""
    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        yield f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}"


class OddRelay:
    """A relay that says hello (or ``first`` instead, on connection ``odd_on``), sends e0, ``bad``, then e1."""

    def __init__(self, bad: dict[str, Any] | None = None, first: str | None = None, odd_on: int = 1) -> None:
        self.bad, self.first, self.odd_on = bad, first, odd_on
        self.connections = 0

    async def __call__(self, ws: ServerConnection) -> None:
        self.connections += 1
        if self.first is not None and self.connections == self.odd_on:
            await ws.send(self.first)
            await ws.wait_closed()
            return
        await ws.send(orjson.dumps(HELLO).decode())
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg.get("t") == "subscribe":
                await ws.send(orjson.dumps({"t": "events", "events": [event(0)]}).decode())
                if self.bad is not None:
                    await ws.send(orjson.dumps(self.bad).decode())
                await ws.send(orjson.dumps({"t": "events", "events": [event(1)]}).decode())
            elif msg.get("t") == "sessions":
                await ws.send(orjson.dumps({"t": "sessions", "id": msg.get("id"), "listing": [],
                                            "sessions": [{"session": "sess-1", "live": True}]}).decode())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WATCHKEEPER_HOME": str(home), "HOME": str(home),
            "WATCHKEEPER_TOKEN": TOKEN}


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.timeout(60)
@pytest.mark.parametrize("first", ["this is not json", "[1,2]", DEEP], ids=["not-json", "a-list", "too-deep"])
async def test_attach_names_a_relay_whose_first_frame_is_bad_and_exits_2(env: dict[str, str], first: str) -> None:
    async with served_on_loopback(OddRelay(first=first)) as url:
        out = await asyncio.to_thread(subprocess.run, [*WATCHKEEPER, "attach", "--json", url], cwd=ROOT, env=env,
                                      capture_output=True, text=True, timeout=60)
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 2 and f"{url} sent a bad frame" in out.stderr, out


@pytest.mark.timeout(60)
async def test_one_bad_relay_does_not_stop_attach_following_the_others(env: dict[str, str]) -> None:
    good = Served()
    try:
        run = await sdk.connect(good.url, token=TOKEN, title="the good one")
        run.user("said on the good relay")
        assert await run.flush(20)
        async with served_on_loopback(OddRelay(first="this is not json")) as bad:
            proc = subprocess.Popen([*WATCHKEEPER, "attach", "--json", bad, good.url], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                assert proc.stdout is not None and proc.stderr is not None
                out, err = Lines(proc.stdout), Lines(proc.stderr)
                await asyncio.to_thread(out.until, "said on the good relay")
                await asyncio.to_thread(err.until, f"{bad} sent a bad frame")
                assert proc.poll() is None, "attach keeps following the good relay"
            finally:
                proc.terminate()
                await asyncio.to_thread(proc.wait, 20)
        await run.close()
    finally:
        good.stop()
    assert not any("Traceback" in line for line in err.seen), err.seen


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bad", [{"t": "outcome", "id": "x", "outcome": {"session": [1]}},
                                 {"t": "breakpoints", "id": [1]}], ids=["outcome-session", "breakpoints-id"])
async def test_an_odd_frame_is_ignored_and_the_remote_source_goes_on(bad: dict[str, Any]) -> None:
    relay = OddRelay(bad=bad)
    async with served_on_loopback(relay) as url:
        attached = Attached(url)
        try:
            await until_async(lambda: "e1" in attached.ids("sess-1"), what="the event after the odd frame")
            assert attached.source.connections == 1 and relay.connections == 1, "no reconnect was needed"
        finally:
            attached.stop()


@pytest.mark.timeout(60)
async def test_a_relay_that_opens_oddly_once_is_reported_and_reconnected_to() -> None:
    relay = OddRelay(first='{"t": "welcome"}', odd_on=1)
    async with served_on_loopback(relay) as url:
        attached = Attached(url)
        try:
            await until_async(lambda: "e1" in attached.ids("sess-1"), what="the events after a reconnect")
            assert relay.connections >= 2
            assert not any("failed" in e for e in attached.relay.errors), "the source is still running"
        finally:
            attached.stop()


@pytest.mark.timeout(60)
async def test_an_unexpected_error_in_a_session_is_a_dropped_connection_retried() -> None:
    """Whatever a peer's frame makes a session raise, the loop reports it and dials again."""
    dropped: list[tuple[str, Exception | None]] = []
    sessions = 0

    async def session(ws: Any) -> None:
        nonlocal sessions
        sessions += 1
        await ws.recv()
        if sessions == 1:
            raise TypeError("unhashable type: 'list'")
        await ws.close()

    async with served_on_loopback(OddRelay()) as url:
        async with asyncio.timeout(30):
            await keep_connected(lambda: dial(url, TOKEN), session, failed=lambda why: None,
                                 dropped=lambda why, e: dropped.append((why, e)), stop=lambda: sessions >= 2)
    assert sessions == 2
    assert "TypeError" in dropped[0][0] and "unhashable" in dropped[0][0]
    assert isinstance(dropped[0][1], TypeError)


class AgentRelay:
    """A relay for an SDK agent: acks every frame, and sends ``bad`` once after the first."""

    def __init__(self, bad: dict[str, Any]) -> None:
        self.bad = bad
        self.sent_bad = False
        self.connections = 0
        self.texts: list[str] = []

    async def __call__(self, ws: ServerConnection) -> None:
        self.connections += 1
        await ws.send(orjson.dumps(HELLO).decode())
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg.get("t") == "events":
                self.texts += [orjson.dumps(ev).decode() for ev in msg["events"]]
                await ws.send(orjson.dumps({"t": "ack", "n": msg["n"]}).decode())
                if not self.sent_bad:
                    self.sent_bad = True
                    await ws.send(orjson.dumps(self.bad).decode())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("control", ["pause", [1], 5], ids=["a-string", "a-list", "a-number"])
async def test_a_control_that_is_not_an_object_does_not_end_the_sdk_link(control: Any) -> None:
    relay = AgentRelay({"t": "control", "control": control})
    async with served_on_loopback(relay) as url:
        run = await sdk.connect(url, token=TOKEN, title="agent", wait=10)
        try:
            run.user("first")
            await until_async(lambda: relay.sent_bad, what="the odd control sent")
            for i in range(5):
                run.assistant(f"after the odd control {i}")
            assert await run.flush(20), "the events after the odd control reach the relay"
            until(lambda: any("after the odd control 4" in t for t in relay.texts), what="the last event")
            assert run.connected and relay.connections == 1 and not run._link.paused
            assert "not an object" in str(run._link.last_error), "the odd control is reported"
        finally:
            await run._link.stop()
