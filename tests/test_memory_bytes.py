"""Memory is bounded in bytes too: an agent's big events spill past ``keep_bytes``, its unread replies hang it up.

A count alone let an SDK agent's events of a few MB each (each within ``MAX_EVENT_BYTES``) stay in
memory, 20,000 a session; and error replies to an agent that never reads queued without limit. Real
parts: ``serve``'s websocket server on 127.0.0.1, the real SDK, spill files and a recording on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from remote_support import TOKEN, Served
from waiting import until_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from watchkeeper import sdk
from watchkeeper.relay.recorder import Recorder
from watchkeeper.relay.servers.wsagent import UNREAD_BYTES
from watchkeeper.relay.window import DEFAULT_KEEP_BYTES

BIG = 1_000_000
SENT = 48


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    yield s
    s.stop()


@pytest.mark.parametrize("recorded", [False, True])
async def test_big_events_past_the_byte_budget_spill_and_every_one_reads_back(
        served: Served, tmp_path: Path, recorded: bool) -> None:
    """48 MB of events in one session: at most 32 MiB of them stay in memory (the session's and the journal's),
    the rest on disk (spill file, or the recording ``serve`` keeps), every one read back by range."""
    recorder = None
    if recorded:
        recorder = Recorder(tmp_path / "rec", read_range=served.relay.read_range)
        served.relay.subscribe(recorder)
        served.relay.record_to(recorder)
        served.server.record_to(recorder)
    run = await sdk.connect(served.url, token=TOKEN, title="big events")
    try:
        texts = [f"{i} " + chr(65 + i % 26) * BIG for i in range(SENT)]
        for text in texts:
            run.user(text)
        assert await run.flush(60)
        await until_async(lambda: served.relay.length(run.session) > SENT, what="every event in the relay")
        assert served.relay.in_memory() < SENT * 3 // 4, "big events left the working set before its count did"
        session_bytes, journal_bytes = served.relay.in_memory_bytes()
        assert 0 < session_bytes <= DEFAULT_KEEP_BYTES and journal_bytes <= DEFAULT_KEEP_BYTES
        got = [ev["data"]["text"] for ev in served.events(run.session) if ev["kind"] == "message.user"]
        assert got == texts, "every event, spilled or not, read back by range"
    finally:
        await run.close()
        if recorder is not None:
            recorder.close()


async def test_an_agent_that_never_reads_its_replies_is_closed_not_grown(served: Served) -> None:
    """Each error echoes the message's id: 7 MB a message, sent by an agent that reads nothing."""
    bad = orjson.dumps({"t": "nope", "id": "x" * 7_000_000}).decode()
    async with connect(served.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, proxy=None,
                       max_queue=1, max_size=None) as hog:
        await hog.recv()
        await hog.send(orjson.dumps({"t": "hello", "role": "agent", "name": "never reads"}).decode())
        link = await until_async(lambda: next(iter(served.server.links), None), what="the agent is served")
        peak = 0

        def hung_up() -> bool:
            nonlocal peak
            peak = max(peak, link.unread)
            return link.hung_up is not None

        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(2 * UNREAD_BYTES // len(bad) + 8):
                await hog.send(bad)
                hung_up()
            await until_async(hung_up, what="the agent is hung up on", seen=lambda: link.unread)
            while True:
                await hog.recv()
        assert hung_up() and peak <= UNREAD_BYTES and link.outbox.empty()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        assert "messages not read" in closed.value.rcvd.reason
    await until_async(lambda: link not in served.server.links, what="the server drops the agent")
