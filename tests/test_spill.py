"""History beyond the working set lives on disk (``relay/spill.py``): every seq still served.

A small working set (``keep``) makes the relay spill after a few dozen events, so these
run fast; everything is real: spill files on disk, a served relay over a real websocket
on 127.0.0.1, a relay attached to it the way ``attach`` runs.
"""

from __future__ import annotations

import asyncio
import stat
import threading
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.adapters.remote import RemoteSource
from watchkeeper.protocol import Event, Kind, make_event, wire
from watchkeeper.reconnect import dial
from watchkeeper.relay import Relay
from watchkeeper.relay.idset import LEVEL, IdSet
from watchkeeper.relay.servers.wsserver import serve_ws
from watchkeeper.relay.sources import IterSource
from watchkeeper.relay.window import SPILL_CHUNK

TOKEN = "test-token-5a0e3c11"
KEEP = 40
WAIT = 30.0


def stream(session: str, n: int, start: int = 0) -> list[Event]:
    return [make_event(f"{session}:{i}", session, Kind.MESSAGE_ASSISTANT, {"text": f"answer {i} " + "x" * (i % 50)})
            for i in range(start, start + n)]


def fed(relay: Relay, *batches: list[Event]) -> None:
    for i, events in enumerate(batches):
        relay.add_source(IterSource(f"feed-{i}", events, batch=64))
        assert relay.drain(WAIT)


def spools(parent: Path) -> list[Path]:
    return sorted(parent.glob("watchkeeper-spool-*"))


@pytest.fixture
def relay(tmp_path: Path) -> Any:
    r = Relay(keep=KEEP, spill_dir=str(tmp_path)).start()
    yield r
    r.stop()


def test_any_seq_reads_back_after_spilling(relay: Relay, tmp_path: Path) -> None:
    sent = stream("S", 1000)
    fed(relay, sent)
    assert relay.in_memory() <= KEEP + KEEP // 4, "the working set is bounded"
    got = relay.read_range("S", 0, 2**62)
    assert [e["id"] for e in got] == [e["id"] for e in sent]
    assert [e["seq"] for e in got] == list(range(1000))
    assert [e["data"] for e in got] == [e["data"] for e in sent]
    assert [e["id"] for e in relay.read_range("S", 3, 9)] == [f"S:{i}" for i in range(3, 9)]
    assert [e["id"] for e in relay.read_range("S", 955, 975)] == [f"S:{i}" for i in range(955, 975)]
    for a in range(0, 1000, 7):
        b = a + a % 71 + 1
        assert [e["id"] for e in relay.read_range("S", a, b)] == [f"S:{i}" for i in range(a, min(b, 1000))]
    (spool,) = spools(tmp_path)
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    files = list(spool.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_a_large_working_set_spills_a_chunk_at_a_time(tmp_path: Path) -> None:
    """Past a large ``keep`` the oldest go to disk ``SPILL_CHUNK`` at a time, not a quarter of ``keep``
    at once: each spill holds the GIL while it encodes, and a viewer in the process waits that long."""
    keep = 8 * SPILL_CHUNK
    r = Relay(keep=keep, spill_dir=str(tmp_path)).start()
    try:
        sent = stream("S", keep + 3 * SPILL_CHUNK + 100)
        fed(r, sent)
        assert keep <= r.in_memory() <= keep + SPILL_CHUNK
        assert [e["id"] for e in r.read_range("S", 0, 2**62)] == [e["id"] for e in sent]
    finally:
        r.stop()


def test_a_spilled_id_is_still_a_duplicate(relay: Relay) -> None:
    fed(relay, stream("S", 500))
    fed(relay, stream("S", 20, start=5) + stream("S", 3, start=500))
    got = relay.read_range("S", 0, 2**62)
    assert [e["id"] for e in got] == [f"S:{i}" for i in range(503)]


@pytest.mark.parametrize("run", [1, 37])
def test_an_all_sessions_subscriber_from_the_start_gets_every_event_once(relay: Relay, run: int) -> None:
    a, b = stream("A", 300), stream("B", 300)
    order = [e for i in range(0, 300, run) for e in a[i:i + run] + b[i:i + run]]
    fed(relay, order)
    got: list[Event] = []
    done = threading.Event()

    def take(batch: list[Event]) -> None:
        got.extend(batch)
        if len(got) >= 600:
            done.set()

    sub = relay.subscribe(take)
    assert done.wait(WAIT)
    sub.close()
    assert [e["id"] for e in got] == [e["id"] for e in order]


def test_the_spool_is_removed_when_the_relay_stops(tmp_path: Path) -> None:
    r = Relay(keep=KEEP, spill_dir=str(tmp_path)).start()
    fed(r, stream("S", 300))
    assert spools(tmp_path)
    r.stop()
    assert spools(tmp_path) == []


def test_without_a_spool_everything_stays_in_memory(tmp_path: Path) -> None:
    r = Relay(keep=None).start()
    try:
        fed(r, stream("S", 300))
        assert r.in_memory() == 300
        assert len(r.read_range("S", 0, 2**62)) == 300
    finally:
        r.stop()


def test_ids_past_a_sealed_level_are_still_known() -> None:
    ids = IdSet(f"id-{i}" for i in range(LEVEL + 10))
    assert len(ids) == LEVEL + 10
    assert all(f"id-{i}" in ids for i in (0, 1, LEVEL // 2, LEVEL - 1, LEVEL, LEVEL + 9))
    assert not any(f"other-{i}" in ids for i in range(1000))
    ids.add("id-3")
    assert len(ids) == LEVEL + 10


async def _resume(url: str, session: str, from_seq: int, last: int) -> tuple[list[Event], list[Event]]:
    """A viewer that saw ``session`` up to ``from_seq - 1`` reconnects: what it is sent, and a range read."""
    got: list[Event] = []
    async with asyncio.timeout(WAIT), dial(url, TOKEN) as ws:
        hello = wire.decode(await ws.recv(decode=False))
        await ws.send(wire.dumps(wire.hello_client("viewer", "test")), text=True)
        await ws.send(wire.dumps({"t": "subscribe", "epoch": hello["epoch"], "from": {session: from_seq}}),
                      text=True)
        while not got or got[-1]["seq"] < last:
            msg = wire.decode(await ws.recv(decode=False))
            if msg["t"] == "events":
                got += [e for e in msg["events"] if e["session"] == session]
        await ws.send(wire.dumps({"t": "range", "id": 7, "session": session, "start": 2, "stop": 12}), text=True)
        while True:
            msg = wire.decode(await ws.recv(decode=False))
            if msg["t"] == "range" and msg["id"] == 7:
                return got, msg["events"]


def test_a_viewer_resumes_from_an_old_seq_after_spilling(relay: Relay) -> None:
    fed(relay, stream("S", 800), stream("T", 100))
    server = serve_ws(relay, TOKEN, port=0)
    assert server.ready.wait(10) and server.error is None
    assert relay.in_memory() <= 2 * (KEEP + KEEP // 4)
    got, ranged = asyncio.run(_resume(server.url, "S", 17, 799))
    assert [e["seq"] for e in got] == list(range(17, 800))
    assert [e["id"] for e in got] == [f"S:{i}" for i in range(17, 800)]
    assert [e["id"] for e in ranged] == [f"S:{i}" for i in range(2, 12)]


def test_an_attached_relay_spills_to_a_private_file_deleted_on_exit(relay: Relay, tmp_path: Path) -> None:
    fed(relay, stream("S", 400))
    server = serve_ws(relay, TOKEN, port=0)
    assert server.ready.wait(10) and server.error is None
    local_dir = tmp_path / "attach"
    local_dir.mkdir()
    attached = Relay(keep=KEEP, spill_dir=str(local_dir)).start()
    try:
        attached.add_source(RemoteSource(server.url, TOKEN))
        deadline = threading.Event()
        for _ in range(int(WAIT / 0.05)):
            info = attached.session("S")
            if info is not None and info.last_seq >= 399:
                break
            deadline.wait(0.05)
        got = attached.read_range("S", 0, 2**62)
        assert [e["id"] for e in got] == [f"S:{i}" for i in range(400)]
        assert attached.in_memory() <= KEEP + KEEP // 4
        (spool,) = spools(local_dir)
        assert stat.S_IMODE(spool.stat().st_mode) == 0o700
        files = list(spool.iterdir())
        assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    finally:
        attached.stop()
    assert spools(local_dir) == []


def test_a_search_finds_matches_on_disk_and_in_memory_off_the_loop(relay: Relay) -> None:
    sent = stream("S", 1000)
    sent[3]["data"]["text"] = "the NEEDLE early"
    sent[998]["data"]["text"] = "a needle late"
    fed(relay, sent)
    assert relay.in_memory() < 900
    search = relay.search("S", "Needle")
    assert search.result(WAIT) == [3, 998]
    assert relay.search("S", "needle", start=4).result(WAIT) == [998]
    assert relay.search("S", "answer 99 ").result(WAIT) == [99]


def test_a_cancelled_search_stops(relay: Relay) -> None:
    fed(relay, stream("S", 200))
    gate = threading.Event()
    release = threading.Event()
    real = relay._book.lines

    def slow(session: str, start: int, stop: int) -> list[bytes]:
        gate.set()
        release.wait(WAIT)
        return real(session, start, stop)

    relay._book.lines = slow  # type: ignore[method-assign]
    search = relay.search("S", "never there", stop=2**62)
    assert gate.wait(WAIT)
    search.cancel()
    release.set()
    with pytest.raises(CancelledError):
        search.result(WAIT)


def test_a_rebuilt_history_spills_and_reads_back_as_its_new_generation(relay: Relay) -> None:
    from test_huge_relay import RebuildingSource, S, ev

    provisional = [ev(f"p{i}") for i in range(100)]
    history = [ev(f"h{i}") for i in range(500)] + [dict(e) for e in provisional[-3:]]  # type: ignore[misc]
    src = RebuildingSource(provisional, history, superseded={e["id"] for e in provisional})
    relay.add_source(src)
    assert src.emitted.wait(WAIT)
    src.go.set()
    for _ in range(int(WAIT / 0.01)):
        info = relay.session(S)
        if info is not None and info.history_from == 100 and relay.in_memory() <= KEEP + KEEP // 4:
            break
        threading.Event().wait(0.01)
    info = relay.session(S)
    assert info is not None and info.history_from == 100
    assert relay.in_memory() <= KEEP + KEEP // 4, "the rebuilt history went to disk"
    got = relay.read_range(S, 0, 2**62)
    assert [e["id"] for e in got[:100]] == [e["id"] for e in provisional]
    new = [e["id"] for e in got[100:]]
    assert new[:500] == [f"h{i}" for i in range(500)] and new[500:] == ["p97", "p98", "p99"]
    assert [e["seq"] for e in got] == list(range(len(got)))


def test_a_killed_process_spool_is_removed_by_the_next_and_a_clean_exit_removes_its_own(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = ("import sys\nfrom watchkeeper.relay import Relay, IterSource\n"
              "from watchkeeper.protocol import make_event\n"
              f"r = Relay(keep=40, spill_dir={str(tmp_path)!r}).start()\n"
              "r.add_source(IterSource('s', [make_event(f'e{i}', 'S', 'notice', {'text': 'x'}) for i in range(300)]))\n"
              "assert r.drain(30)\nprint('spilled', flush=True)\n"
              "if sys.argv[1] == 'hang':\n    sys.stdin.read()\n")
    clean = subprocess.run([sys.executable, "-c", script, "exit"], capture_output=True, text=True, timeout=60)
    assert "spilled" in clean.stdout, clean.stderr
    assert spools(tmp_path) == [], "a process that exits (without stopping its relay) removes its spool"
    killed = subprocess.Popen([sys.executable, "-c", script, "hang"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert killed.stdout is not None and killed.stdout.readline().strip() == "spilled"
        assert len(spools(tmp_path)) == 1
    finally:
        killed.kill()
        killed.wait(30)
    (left,) = spools(tmp_path)
    r = Relay(keep=KEEP, spill_dir=str(tmp_path)).start()
    try:
        fed(r, stream("S", 300))
        assert not left.exists()
        assert len(spools(tmp_path)) == 1
    finally:
        r.stop()
