"""What an edge owes its hub (``relay/owed.py``): the cap's arithmetic, and the ledger over real recordings.

The ledger runs beside a real relay and ``Recorder`` writing real files: the
marks file says where each session's owed tail starts, a restart (a new relay
and recorder on the same directory) reads exactly those tails back and does
not write them a second time.
"""

from __future__ import annotations

import asyncio
import os
import threading
from array import array
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from watchkeeper.protocol import Emit, Event, Kind, make_event
from watchkeeper.relay import Relay
from watchkeeper.relay.owed import CODE, Ledger, Marks, OwedSource, read_tail, shed
from watchkeeper.relay.recorder import Recorder

WAIT = 30.0


def lines(*sizes: int) -> tuple[array[int], int]:
    """Offsets of lines of these sizes laid end to end, and where the last ends."""
    offsets, at = array("q"), 0
    for n in sizes:
        offsets.append(at)
        at += n
    return offsets, at


# --- the cap --------------------------------------------------------------------------------


def test_what_fits_the_cap_is_all_kept() -> None:
    a, end = lines(10, 10, 10)
    assert shed({"a": (a, 0, 3, end)}, 30) == {}
    assert shed({"a": (a, 1, 3, end), "b": (a, 0, 3, end)}, 50) == {}


def test_past_the_cap_the_biggest_backlog_loses_its_oldest_and_a_small_one_nothing() -> None:
    big, big_end = lines(*[10] * 100)
    small, small_end = lines(10, 10)
    cut = shed({"big": (big, 0, 100, big_end), "small": (small, 0, 2, small_end)}, 500)
    assert set(cut) == {"big"}
    assert cut["big"] == 52, "48 newest lines of big (480 bytes) and small's 20 fit 500"


def test_two_equal_backlogs_share_the_cap_and_whole_lines_are_kept() -> None:
    a, end = lines(*[7] * 10)
    cut = shed({"a": (a, 0, 10, end), "b": (a, 0, 10, end)}, 50)
    kept = {sid: end - a[first] for sid, first in cut.items()}
    assert kept == {"a": 21, "b": 21}, "each keeps 25 bytes' worth of whole 7-byte lines"


def test_acknowledged_lines_count_for_nothing_and_a_zero_cap_drops_every_owed_line() -> None:
    a, end = lines(*[10] * 10)
    assert shed({"a": (a, 8, 10, end)}, 20) == {}
    assert shed({"a": (a, 8, 10, end)}, 0) == {"a": 10}


@pytest.mark.parametrize("sizes", [[3, 900, 40], [100] * 7, [1, 1, 1, 5000, 20, 20]])
def test_after_shedding_everything_owed_fits_the_cap(sizes: list[int]) -> None:
    backlogs = {}
    for i, n in enumerate(sizes):
        offsets, end = lines(*[n // 3 + 1] * 3, *[n] * 5)
        backlogs[f"s{i}"] = (offsets, 0, len(offsets), end)
    cap = sum(b[3] for b in backlogs.values()) // 3
    cut = shed(backlogs, cap)
    kept = sum(end - offsets[cut.get(sid, 0)] if cut.get(sid, 0) < stop else 0
               for sid, (offsets, _, stop, end) in backlogs.items())
    assert kept <= cap
    assert cut, "something had to go"


# --- the ledger over real recordings ----------------------------------------------------------


class Feed:
    """A relay source the test feeds: ``send`` from the test's thread, ingested on the relay's."""

    name = "feed"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[list[Event]] | None = None
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def run(self, emit: Emit) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue()
        self.ready.set()
        while True:
            emit(await self.queue.get())

    def send(self, events: list[Event]) -> None:
        assert self.ready.wait(WAIT) and self.loop is not None and self.queue is not None
        self.loop.call_soon_threadsafe(self.queue.put_nowait, events)


class Edge:
    """A relay, its recorder on ``directory`` and the ledger, as ``serve --upstream`` wires them."""

    def __init__(self, directory: Path, cap: int | None, max_age: float | None = None) -> None:
        self.relay = Relay(flush_interval=0.005).start()
        self.recorder = Recorder(directory / "rec", read_range=self.relay.read_range, notice=self.relay.notice)
        self.recorder.want = lambda sid: True
        self.relay.subscribe(self.recorder)
        self.relay.record_to(self.recorder)
        self.ledger = Ledger(Marks(directory / "owed.json"), self.recorder, cap, pushing=cap is not None,
                             max_age=max_age)
        self.recorder.opened = self.ledger.opened
        self.tails, self.notices = self.ledger.recover()
        if self.tails or self.notices:
            self.relay.add_source(OwedSource(self.tails, self.notices))
        self.feed = Feed()
        self.relay.add_source(self.feed)

    def recorded(self, session: str, n: int) -> None:
        for _ in range(int(WAIT / 0.005)):
            if self.recorder.covered(session) >= n:
                return
            threading.Event().wait(0.005)
        raise AssertionError(f"{session}: {self.recorder.covered(session)} of {n} recorded")

    def stop(self) -> None:
        self.relay.stop()
        self.recorder.close()


@pytest.fixture
def edges(tmp_path: Path) -> Iterator[list[Edge]]:
    made: list[Edge] = []
    yield made
    for e in made:
        e.stop()


def said(session: str, a: int, b: int, pad: int = 80) -> list[Event]:
    return [make_event(f"{session}:{i}", session, Kind.MESSAGE_USER, {"text": f"m{i} " + "x" * pad})
            for i in range(a, b)]


def marks(tmp_path: Path) -> dict[str, list[int]]:
    """Per session: [where its last run's lines begin (carried to the next run), where what is owed begins]."""
    return dict(orjson.loads((tmp_path / "owed.json").read_bytes())["sessions"])


def until_in_relay(edge: Edge, session: str, n: int) -> list[Event]:
    for _ in range(int(WAIT / 0.005)):
        got = edge.relay.read_range(session, 0, 10**6)
        if len(got) >= n:
            return got
        threading.Event().wait(0.005)
    raise AssertionError(f"{session}: {len(got)} of {n} in the relay")


def test_a_session_is_marked_before_its_first_line_and_acks_move_the_mark(tmp_path: Path,
                                                                         edges: list[Edge]) -> None:
    edge = Edge(tmp_path, cap=10**9)
    edges.append(edge)
    edge.feed.send(said("S", 0, 10))
    edge.recorded("S", 10)
    assert marks(tmp_path) == {"S": [0, 0]}, "owed from its first line"
    edge.ledger.ack({"S": 4})
    assert edge.ledger.tick() == []
    assert marks(tmp_path) == {"S": [0, edge.recorder.offset("S", 4)]}
    assert orjson.loads(edge.recorder.lines("S", 4, 5)[0])["id"] == "S:4"


def test_a_restart_reads_back_the_last_run_and_never_records_it_twice(tmp_path: Path,
                                                                       edges: list[Edge]) -> None:
    first = Edge(tmp_path, cap=10**9)
    edges.append(first)
    first.feed.send(said("S", 0, 30) + said("T", 0, 5))
    first.recorded("S", 30)
    first.recorded("T", 5)
    first.ledger.ack({"S": 20, "T": 5})
    first.ledger.tick()
    first.relay.stop()  # as if killed: the recorder is not closed, the marks are what was last saved
    size = first.recorder.path("S").stat().st_size

    second = Edge(tmp_path, cap=10**9)
    edges.append(second)
    assert sorted((t.session, len(t), t.owed) for t in second.tails) == [("S", 30, 20), ("T", 5, 5)]
    assert [e["id"] for e in until_in_relay(second, "S", 30)] == [f"S:{i}" for i in range(30)]
    assert second.ledger.owed_from("S") == 20, "what the hub had acknowledged is not owed again"
    second.feed.send(said("S", 30, 33))
    second.recorded("S", 33)
    rec = second.recorder.path("S").read_bytes().splitlines()
    assert len(rec) == 33 and size < len(b"\n".join(rec)), "what was read back was not written again"
    assert [orjson.loads(line)["id"] for line in second.recorder.lines("S", 18, 33)] == \
        [f"S:{i}" for i in range(18, 33)], "this run's seqs read back from the old lines and the new"
    assert marks(tmp_path)["S"] == [0, second.recorder.offset("S", 20)]


def test_a_session_not_active_lately_is_read_back_only_for_what_is_owed(tmp_path: Path,
                                                                       edges: list[Edge]) -> None:
    first = Edge(tmp_path, cap=10**9)
    edges.append(first)
    first.feed.send(said("S", 0, 30) + said("T", 0, 5))
    first.recorded("S", 30)
    first.recorded("T", 5)
    first.ledger.ack({"S": 20, "T": 5})
    first.ledger.tick()
    first.relay.stop()
    for sid in ("S", "T"):
        os.utime(first.recorder.path(sid), (1_000_000, 1_000_000))
    second = Edge(tmp_path, cap=10**9, max_age=3600)
    edges.append(second)
    assert [(t.session, len(t), t.owed) for t in second.tails] == [("S", 10, 0)], "T owed nothing"
    assert [e["id"] for e in until_in_relay(second, "S", 10)] == [f"S:{i}" for i in range(20, 30)]


def test_a_plain_serve_reads_back_its_recent_sessions_and_owes_nobody(tmp_path: Path, edges: list[Edge]) -> None:
    first = Edge(tmp_path, cap=None)
    edges.append(first)
    first.feed.send(said("S", 0, 30) + said("T", 0, 5))
    first.recorded("S", 30)
    first.recorded("T", 5)
    assert first.ledger.tick() == []
    first.relay.stop()
    os.utime(first.recorder.path("T"), (1_000_000, 1_000_000))
    second = Edge(tmp_path, cap=None, max_age=3600)
    edges.append(second)
    assert [(t.session, len(t)) for t in second.tails] == [("S", 30)] and second.notices == []


def test_past_the_cap_the_oldest_owed_are_dropped_with_a_notice_and_not_read_back(tmp_path: Path,
                                                                                 edges: list[Edge]) -> None:
    first = Edge(tmp_path, cap=2_000)
    edges.append(first)
    first.feed.send(said("S", 0, 50))
    first.recorded("S", 50)
    (notice,) = first.ledger.tick()
    data = notice["data"]
    assert data["code"] == CODE and data["first_seq"] == 0 and data["dropped"] == data["last_seq"] + 1
    kept = 50 - data["dropped"]
    assert 0 < kept < 50 and f"{data['dropped']} events" in data["text"] and "seq 0–" in data["text"]
    assert first.ledger.oldest("S") == data["dropped"]
    assert first.ledger.tick() == [], "said once"
    first.relay.stop()

    second = Edge(tmp_path, cap=2_000)
    edges.append(second)
    assert [len(t) for t in second.tails] == [kept] and second.notices == []


def test_a_restart_with_a_smaller_cap_drops_at_once_and_says_so_in_the_session(tmp_path: Path,
                                                                              edges: list[Edge]) -> None:
    first = Edge(tmp_path, cap=10**9)
    edges.append(first)
    first.feed.send(said("S", 0, 40))
    first.recorded("S", 40)
    first.ledger.ack({"S": 5})
    first.ledger.tick()
    first.relay.stop()
    second = Edge(tmp_path, cap=1_000)
    edges.append(second)
    (notice,) = second.notices
    assert notice["session"] == "S" and notice["data"]["code"] == CODE
    assert notice["data"]["first_seq"] == 5 and "previous run" in notice["data"]["text"]
    n = notice["data"]["dropped"]
    for _ in range(int(WAIT / 0.005)):
        got = second.relay.read_range("S", 0, 100)
        if got and got[-1]["kind"] == Kind.NOTICE:
            break
        threading.Event().wait(0.005)
    assert [e["id"] for e in got[:-1]] == [f"S:{i}" for i in range(5 + n, 40)], "what the hub had is not kept"
    assert got[-1]["data"]["dropped"] == n


def test_a_line_cut_short_by_a_kill_is_cut_off_the_recording(tmp_path: Path) -> None:
    path = tmp_path / "S.jsonl"
    whole = orjson.dumps(said("S", 0, 1)[0]) + b"\n"
    path.write_bytes(whole * 3 + whole[:20])
    tail = read_tail(path, "S", len(whole))
    assert tail is not None and len(tail) == 2 and tail.end == 3 * len(whole)
    assert path.stat().st_size == 3 * len(whole)
    assert list(tail.offsets) == [len(whole), 2 * len(whole)] and tail.lines(0, 5) == [whole[:-1]] * 2


def test_a_missing_or_torn_marks_file_owes_nothing(tmp_path: Path) -> None:
    assert Marks(tmp_path / "none.json").load() == {}
    (tmp_path / "torn.json").write_bytes(b'{"sessions": {"S": [1, 2')
    assert Marks(tmp_path / "torn.json").load() == {}
    (tmp_path / "odd.json").write_bytes(b'{"sessions": {"S": [-4, 0], "T": "x", "U": [3, 7], "V": [9, 2]}}')
    assert Marks(tmp_path / "odd.json").load() == {"U": (3, 7)}



def test_lines_across_read_blocks_are_scanned_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.relay import owed

    monkeypatch.setattr(owed, "_BLOCK", 7)
    path = tmp_path / "S.jsonl"
    events = said("S", 0, 5, pad=3)
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    tail = read_tail(path, "S", 0)
    assert tail is not None and tail.clean
    assert [orjson.loads(line)["id"] for line in tail.lines(0, 9)] == [e["id"] for e in events]


def test_an_owed_tail_that_repeats_an_id_is_pushed_but_recorded_anew(tmp_path: Path, edges: list[Edge]) -> None:
    (tmp_path / "rec").mkdir(mode=0o700)
    events = said("S", 0, 3) + said("S", 1, 2)  # S:1 twice: the relay keeps one, so lines and seqs differ
    (tmp_path / "rec" / "S.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    Marks(tmp_path / "owed.json").save({"S": (0, 0)})
    edge = Edge(tmp_path, cap=10**9)
    edges.append(edge)
    assert [(len(t), t.clean) for t in edge.tails] == [(4, False)]
    edge.recorded("S", 3)
    assert [e["id"] for e in edge.relay.read_range("S", 0, 9)] == ["S:0", "S:1", "S:2"]
    assert [orjson.loads(line)["id"] for line in edge.recorder.lines("S", 0, 3)] == ["S:0", "S:1", "S:2"]
    assert marks(tmp_path) == {"S": [edge.recorder.offset("S", 0)] * 2} and edge.recorder.offset("S", 0) > 0


def test_an_owed_recording_that_is_gone_is_said_not_skipped(tmp_path: Path, edges: list[Edge]) -> None:
    Marks(tmp_path / "owed.json").save({"S": (0, 120)})
    edge = Edge(tmp_path, cap=10**9)
    edges.append(edge)
    (notice,) = edge.notices
    assert notice["session"] == "S" and notice["data"]["code"] == CODE and "S.jsonl" in notice["data"]["text"]
    assert edge.tails == []
