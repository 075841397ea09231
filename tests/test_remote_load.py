"""One slow viewer stalls nobody: it gets telemetry coalesced, then a resync, and still every event once.

The slow viewer is a real attached relay whose loop a test source blocks, so
it stops reading its socket; the agent writes tens of megabytes past what the
kernel buffers hold. Meanwhile the agent and a second viewer go on; when the
slow one wakes, it catches up through range reads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import orjson
import pytest
from remote_support import TOKEN, Attached, Served
from waiting import until_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from watchkeeper import sdk
from watchkeeper.relay.servers.wsviewer import ViewerConn

PAD = "x" * 8192


class Stall:
    """A source that blocks its relay's loop until ``go`` is set: that relay reads nothing meanwhile."""

    name = "stall"

    def __init__(self) -> None:
        self.go = threading.Event()
        self.blocking = threading.Event()

    async def run(self, emit: object) -> None:
        await asyncio.sleep(0)
        self.blocking.set()
        self.go.wait(120)


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served(queue_limit=200)
    yield s
    s.stop()


def slow_conn(served: Served) -> ViewerConn:
    return max(served.server._viewers, key=lambda c: c.stats["coalesced"] + c.stats["resyncs"])


async def stalled_viewer(served: Served) -> tuple[Attached, Stall]:
    slow = Attached(served.url)
    await until_async(lambda: slow.source._ws is not None, what="the slow viewer is attached")
    stall = Stall()
    slow.relay.add_source(stall)
    await asyncio.to_thread(stall.blocking.wait, 10)
    return slow, stall


async def test_a_stalled_viewer_gets_usage_coalesced_and_counts_every_token(served: Served) -> None:
    run = await sdk.connect(served.url, token=TOKEN, title="chatty")
    slow, stall = await stalled_viewer(served)
    try:
        for i in range(5000):
            run._emit("usage", {"input_tokens": 1, "output_tokens": 2, "model": "m", "pad": PAD})
            if i % 500 == 0:
                run.state("running", f"turn {i}")
                await asyncio.sleep(0)
        assert await run.flush(60), "the agent is not held up by the stalled viewer"
        total = len(served.events(run.session))
        conn = slow_conn(served)
        assert conn.stats["coalesced"] > 0 and conn.stats["resyncs"] == 0
    finally:
        stall.go.set()
    try:
        await until_async(lambda: slow.source.tracker.sessions[run.session].next == total,
                          what="the slow viewer catches up")
        # The tracker counts a frame before its events reach the local relay: wait for them there.
        info = await until_async(lambda: (i := slow.relay.session(run.session)) and i.tokens_out == 10000 and i,
                                 what="every token in the slow viewer's relay",
                                 seen=lambda: slow.relay.session(run.session))
        assert (info.tokens_in, info.tokens_out) == (5000, 10000)
        assert info.events < total, "fewer events: the queued usage was folded"
        assert slow.source.tracker.stats["missed"] == 0 and slow.source.tracker.stats["ranges"] == 0
    finally:
        await run.close()
        slow.stop()


async def test_a_stalled_viewer_resyncs_and_stalls_neither_the_agent_nor_another_viewer(served: Served) -> None:
    run = await sdk.connect(served.url, token=TOKEN, title="busy")
    fast = Attached(served.url)
    slow, stall = await stalled_viewer(served)
    try:
        await until_async(lambda: fast.source._ws is not None)
        for i in range(4000):
            run.notice(f"{i} {PAD}")
            if i % 400 == 0:
                run.usage(input_tokens=10)
                await asyncio.sleep(0)
            if i == 2000:
                outcome = await asyncio.to_thread(
                    lambda: served.relay.control({"id": "held-1", "session": run.session, "control": "pause",
                                                  "by": "test"}).result(10))
                assert outcome["kind"] == "control.applied"
        assert await run.flush(60), "the agent is not held up"
        total = len(served.events(run.session))
        await until_async(lambda: fast.source.tracker.sessions[run.session].next == total,
                    what="the other viewer has everything while the slow one is still stalled")
        assert not stall.go.is_set()
        assert slow_conn(served).stats["resyncs"] >= 1
    finally:
        stall.go.set()
    try:
        await until_async(lambda: slow.source.tracker.sessions[run.session].next == total,
                          what="the slow one catches up")
        remote = [e["id"] for e in served.events(run.session)]
        # The tracker counts a frame before its events reach the local relay: wait for the last one there.
        await until_async(lambda: slow.ids(run.session)[-1] == remote[-1], what="the last event in the slow relay",
                          seen=lambda: f"{len(slow.ids(run.session))} of {len(remote)} events")
        assert slow.ids(run.session) == remote, "after the resync: every event, once, in order"
        assert slow.ids(run.session).count("control:held-1") == 1
        assert slow.source.tracker.stats["resyncs"] >= 1 and slow.source.tracker.stats["ranges"] >= 1
        assert slow.relay.session(run.session).tokens_in == 100  # type: ignore[union-attr]
    finally:
        await run.close()
        fast.stop()
        slow.stop()


async def test_a_viewer_that_asks_and_never_reads_is_closed_not_grown_and_nobody_else_notices(
        served: Served) -> None:
    """Range replies (up to a frame each) once queued without limit for a viewer that asked and never read."""
    run = await sdk.connect(served.url, token=TOKEN, title="big events")
    for i in range(10):
        run.notice(f"{i} " + "y" * 100_000)
    assert await run.flush(60)
    ask = orjson.dumps({"t": "range", "id": "r", "session": run.session, "start": 0, "stop": 100})
    async with connect(served.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, proxy=None,
                       max_queue=1, max_size=None) as hog:
        await hog.recv()
        await hog.send(orjson.dumps({"t": "hello", "role": "viewer", "name": "never reads"}).decode())
        conn = await until_async(lambda: next(iter(served.server._viewers), None), what="the viewer is served")
        fast = Attached(served.url)
        try:
            peak = 0

            def hung_up() -> bool:
                nonlocal peak
                peak = max(peak, conn.unread)
                return conn.hung_up is not None

            for _ in range(80):
                await hog.send(ask.decode())
                hung_up()
            await until_async(hung_up, what="the viewer is hung up on", seen=lambda: conn.unread)
            assert peak <= conn.unread_limit and conn.unread == 0 and not conn.queue and not conn.urgent
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await hog.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
            assert "replies not read" in closed.value.rcvd.reason
            await until_async(lambda: conn not in served.server._viewers, what="the server drops the viewer")
            run.user("the other viewer still follows")
            assert await run.flush(60)
            total = len(served.events(run.session))
            await until_async(lambda: fast.source.tracker.sessions[run.session].next == total,
                              what="the other viewer has every event")
        finally:
            fast.stop()
            await run.close()
