"""The relay core, driven by small real sources on its own thread.

Waits are bounded (``Collector.wait``) and never asserted on time: they only
keep a broken relay from hanging the suite.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from waiting import until

from watchkeeper.adapters.native import NativeConverter
from watchkeeper.protocol import Emit, Event, encode_line, make_event
from watchkeeper.relay import IterSource, Relay, SessionInfo
from watchkeeper.relay.fanout import MAX_STRIKES

WAIT = 20.0


def ev(session: str, n: int, kind: str = "notice", data: dict | None = None, ts: str | None = None,
       id: str | None = None) -> Event:
    return make_event(id or f"{session}:{n}", session, kind,
                      data if data is not None else {"level": "info", "text": f"#{n}"},
                      ts=ts or f"2026-11-27T10:00:{n % 60:02d}.000Z")


class ListSource:
    """Emits the given batches, yielding to the loop between them; optionally holds at a gate first."""

    def __init__(self, name: str, batches: list[list[Event]], gate: threading.Event | None = None,
                 hold_after: int | None = None) -> None:
        self.name = name
        self.batches = batches
        self.gate = gate
        self.hold_after = hold_after
        self.held = threading.Event()
        self.cancelled = False

    async def run(self, emit: Emit) -> None:
        try:
            for i, batch in enumerate(self.batches):
                if self.gate is not None and i == self.hold_after:
                    self.held.set()
                    while not self.gate.is_set():
                        await asyncio.sleep(0.005)
                emit(batch)
                await asyncio.sleep(0)
            if self.gate is not None and self.hold_after is None:
                self.held.set()
                while not self.gate.is_set():
                    await asyncio.sleep(0.005)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class NativeFileSource:
    """Reads a real native recording from disk through the native adapter, a few lines per emit."""

    def __init__(self, name: str, path: Path, lines_per_emit: int = 3) -> None:
        self.name = name
        self.path = path
        self.n = lines_per_emit

    async def run(self, emit: Emit) -> None:
        conv = NativeConverter(self.path)
        batch: list[Event] = []
        offset = 0
        with self.path.open("rb") as f:
            for line in f:
                batch += conv.feed(line.rstrip(b"\n"), offset)
                offset += len(line)
                if len(batch) >= self.n:
                    emit(batch)
                    batch = []
                    await asyncio.sleep(0)
        emit(batch + conv.finish())


class Collector:
    """A subscriber callback that records every batch; tests wait on it with a bound."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.threads: set[str] = set()
        self.cond = threading.Condition()

    def __call__(self, batch: list[Event]) -> None:
        with self.cond:
            self.batches.append(list(batch))
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()

    @property
    def events(self) -> list[Event]:
        with self.cond:
            return [e for b in self.batches for e in b]

    def wait(self, pred: Callable[[list[Event]], bool], timeout: float = WAIT) -> bool:
        return until(lambda: pred(self.events), timeout=timeout, condition=self.cond)


@pytest.fixture
def relay():
    r = Relay().start()
    yield r
    r.stop()


def test_seq_per_session_and_epoch_set(relay: Relay) -> None:
    a = [ev("A", i) for i in range(30)]
    b = [ev("B", i) for i in range(12)]
    batches = [a[0:10] + b[0:5], a[10:11], b[5:12] + a[11:30]]
    relay.add_source(ListSource("s", batches))
    assert relay.drain(WAIT)
    got_a = relay.read_range("A", 0, 1000)
    got_b = relay.read_range("B", 0, 1000)
    assert [e["seq"] for e in got_a] == list(range(30))
    assert [e["seq"] for e in got_b] == list(range(12))
    assert [e["id"] for e in got_a] == [e["id"] for e in a]
    assert {e["epoch"] for e in got_a + got_b} == {relay.epoch}
    assert relay.epoch and relay.epoch != Relay().epoch


def test_dedupe_by_id_across_two_sources_reading_one_file(tmp_path: Path, relay: Relay) -> None:
    path = tmp_path / "S1.jsonl"
    events = [ev("S1", i) for i in range(40)]
    path.write_bytes(b"".join(encode_line(e) for e in events))
    relay.add_source(NativeFileSource("tail", path, lines_per_emit=3))
    relay.add_source(NativeFileSource("hook", path, lines_per_emit=7))
    relay.add_source(NativeFileSource("tail-again", path, lines_per_emit=40))
    assert relay.drain(WAIT)
    got = relay.read_range("S1", 0, 10_000)
    ids = [e["id"] for e in got]
    assert sorted(ids) == sorted(e["id"] for e in events)
    assert len(set(ids)) == len(ids) == 40
    assert [e["seq"] for e in got] == list(range(40))
    (info,) = relay.sessions()
    assert info.events == 40
    assert sorted(info.sources) == ["hook", "tail", "tail-again"]


def test_subscribe_from_seq_history_then_live_in_batches(relay: Relay) -> None:
    history = [ev("S", i) for i in range(2500)]
    relay.add_source(ListSource("old", [history[i:i + 100] for i in range(0, 2500, 100)]))
    assert relay.drain(WAIT)
    col = Collector()
    relay.subscribe(col, session="S", from_seq=1200)
    other = Collector()
    relay.subscribe(other, session="other")
    live = [ev("S", i) for i in range(2500, 3200)] + [ev("X", i) for i in range(10)]
    relay.add_source(ListSource("new", [live[i:i + 10] for i in range(0, len(live), 10)]))
    assert col.wait(lambda es: len(es) >= 2000)
    assert relay.drain(WAIT)
    seqs = [e["seq"] for e in col.events]
    assert seqs == list(range(1200, 3200))
    assert {e["session"] for e in col.events} == {"S"}
    assert other.events == []
    sizes = [len(b) for b in col.batches]
    assert max(sizes) <= 1000
    assert len(sizes) < len(seqs) / 10, f"delivered one by one: {sizes[:20]}"
    assert threading.current_thread().name not in col.threads


def test_subscribe_all_sessions_in_arrival_order_from_seq(relay: Relay) -> None:
    order = [ev(s, i) for i in range(6) for s in ("K", "J", "M")]
    relay.add_source(ListSource("s", [order[:7], order[7:]]))
    assert relay.drain(WAIT)
    col = Collector()
    relay.subscribe(col, from_seq=2)
    assert col.wait(lambda es: len(es) == 12)
    assert [e["id"] for e in col.events] == [e["id"] for e in order if e["seq"] >= 2]


def test_subscribe_all_sessions_while_events_arrive_loses_and_repeats_nothing(relay: Relay) -> None:
    gate = threading.Event()
    first = [[ev(s, i) for s in ("P", "Q")] for i in range(1000)]
    rest = [[ev(s, i) for s in ("P", "Q")] for i in range(1000, 2500)]
    src = ListSource("stream", first + rest, gate=gate, hold_after=len(first))
    relay.add_source(src)
    assert src.held.wait(WAIT)
    col = Collector()
    relay.subscribe(col)
    gate.set()
    assert relay.drain(WAIT)
    for s in ("P", "Q"):
        seqs = [e["seq"] for e in col.events if e["session"] == s]
        assert seqs == list(range(2500)), s


def test_viewers_counts_subscriptions_to_one_session(relay: Relay) -> None:
    relay.add_source(ListSource("s", [[ev("V", 0)]]))
    everything, one, two = Collector(), Collector(), Collector()
    relay.subscribe(everything)
    sub = relay.subscribe(one, session="V")
    relay.subscribe(two, session="V")
    assert two.wait(lambda es: len(es) == 1)
    assert relay.viewers("V") == 2
    sub.close()
    assert relay.viewers("V") == 1
    assert relay.viewers("other") == 0


def test_read_range_bounds(relay: Relay) -> None:
    relay.add_source(ListSource("s", [[ev("R", i) for i in range(50)]]))
    assert relay.drain(WAIT)
    seqs = lambda a, b: [e["seq"] for e in relay.read_range("R", a, b)]  # noqa: E731
    assert seqs(0, 10) == list(range(10))
    assert seqs(45, 100) == list(range(45, 50))
    assert seqs(-3, 2) == [0, 1]
    assert seqs(5, 5) == []
    assert seqs(10, 5) == []
    assert seqs(50, 60) == []
    assert relay.read_range("nope", 0, 10) == []


def test_read_range_and_sessions_from_other_threads_while_ingesting(relay: Relay) -> None:
    batches = [[ev("T", i * 20 + j) for j in range(20)] for i in range(300)]
    relay.add_source(ListSource("s", batches))
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                info = relay.session("T")
                n = info.events if info else 0
                got = relay.read_range("T", max(n - 50, 0), n)
                assert [e["seq"] for e in got] == list(range(max(n - 50, 0), n))
                relay.sessions()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    assert relay.drain(WAIT)
    stop.set()
    for t in threads:
        t.join(WAIT)
    assert errors == []
    assert relay.session("T").events == 6000  # type: ignore[union-attr]


def _usage(n: int, i: int, o: int, cr: int = 0, cc: int = 0, cost: float | None = None) -> Event:
    return make_event(f"u:{n}", "U", "usage", {
        "model": "m-1", "message_id": f"msg{n}", "input_tokens": i, "output_tokens": o,
        "cache_read_tokens": cr, "cache_creation_tokens": cc, "cost_usd": cost,
    }, ts=f"2026-11-27T10:00:{10 + n:02d}.000Z")


def test_sessions_summary_fields(relay: Relay) -> None:
    gate = threading.Event()
    u = [
        make_event("start", "U", "session.started", {
            "agent_kind": "claude-code", "cwd": "/home/dev/p", "model": "claude-x",
            "capabilities": {"pause": False, "why": "observe-only"}}, ts="2026-11-27T10:00:00.000Z"),
        make_event("m1", "U", "message.user", {"text": "\n  fix the   bug\nin parser.py", "origin": "prompt"},
                   ts="2026-11-27T10:00:01.000Z"),
        make_event("m2", "U", "message.user", {"text": "second prompt"}, ts="2026-11-27T10:00:02.000Z"),
        _usage(1, 100, 20, 1000, 50, 0.25),
        _usage(2, 7, 3, 0, 0, None),
        _usage(3, 1, 1, 5, 5, 0.5),
    ]
    titled = [
        make_event("m0", "V", "message.user", {"text": "a prompt"}, ts="2026-11-27T09:00:00.000Z"),
        make_event("st", "V", "session.started", {"agent_kind": "codex", "title": "The title"},
                   ts="2026-11-27T09:00:00.000Z"),
    ]
    src = ListSource("u", [u[:3], u[3:], titled], gate=gate)
    relay.add_source(src)
    assert src.held.wait(WAIT)
    watch: list[list[SessionInfo]] = []
    seen = threading.Event()

    def on_sessions(infos: list[SessionInfo]) -> None:
        watch.append(infos)
        if any(i.session == "U" and i.events == 6 for i in infos):
            seen.set()

    relay.on_sessions(on_sessions)
    assert seen.wait(WAIT)
    by = {i.session: i for i in relay.sessions()}
    i = by["U"]
    assert (i.agent_kind, i.cwd, i.model) == ("claude-code", "/home/dev/p", "claude-x")
    assert i.title == "fix the bug"
    assert (i.tokens_in, i.tokens_out, i.tokens_cache_read, i.tokens_cache_creation) == (108, 24, 1005, 55)
    assert i.cost_usd == pytest.approx(0.75)
    assert (i.events, i.last_seq, i.last_ts) == (6, 5, "2026-11-27T10:00:13.000Z")
    assert i.capabilities == {"pause": False, "why": "observe-only"}
    assert i.sources == ["u"]
    # Followed by a running source; written to days ago, so not live (the time rules: test_activity.py).
    assert i.followed and not i.live and not i.channel and not i.needs_attention
    assert by["V"].title == "The title" and by["V"].agent_kind == "codex"
    gate.set()
    assert relay.drain(WAIT)
    assert not relay.session("U").live  # type: ignore[union-attr]


def test_tool_calls_merge_across_sources_and_waiting_needs_attention(relay: Relay) -> None:
    started = make_event("tool:c1:started", "H", "tool.started", {"call_id": "c1", "name": "Bash",
                                                                  "input": {"command": "rm -rf x"}})
    waiting = make_event("hook:c1:waiting", "H", "tool.waiting", {"call_id": "c1", "reason": "approval"})
    finished = make_event("tool:c1:finished", "H", "tool.finished", {"call_id": "c1", "status": "denied",
                                                                     "is_error": True, "output": "no"})
    relay.add_source(ListSource("hook", [[started, waiting]]))
    assert relay.drain(WAIT)
    i = relay.session("H")
    assert i is not None and i.needs_attention and i.state == "waiting"
    call = relay.call("H", "c1")
    assert call is not None and call.status == "waiting" and call.name == "Bash"
    # The transcript sees the same call: its started event repeats, its finished one is new.
    again = make_event("tool:c1:started", "H", "tool.started", {"call_id": "c1", "name": "Bash"})
    relay.add_source(ListSource("transcript", [[again], [finished]]))
    assert relay.drain(WAIT)
    i = relay.session("H")
    assert i is not None and not i.needs_attention and i.state == "running"
    assert i.events == 3
    call = relay.call("H", "c1")
    assert call is not None and call.status == "denied" and call.is_error
    assert call.event_ids == ["tool:c1:started", "hook:c1:waiting", "tool:c1:finished"]


def test_approve_releases_a_held_call(relay: Relay) -> None:
    waiting = make_event("w", "A", "tool.waiting", {"call_id": "c9", "reason": "paused", "name": "Edit"})
    applied = make_event("ctl:1", "A", "control.applied", {"control_id": "1", "control": "approve",
                                                           "call_id": "c9"})
    relay.add_source(ListSource("hook", [[waiting]]))
    assert relay.drain(WAIT)
    assert relay.session("A").needs_attention  # type: ignore[union-attr]
    relay.add_source(ListSource("ctl", [[applied]]))
    assert relay.drain(WAIT)
    assert not relay.session("A").needs_attention  # type: ignore[union-attr]
    assert relay.call("A", "c9").status == "running"  # type: ignore[union-attr]


def test_raising_callback_is_reported_then_unsubscribed_and_relay_goes_on(relay: Relay, caplog, capfd) -> None:
    calls = []

    def bad(batch: list[Event]) -> None:
        calls.append(len(batch))
        raise ValueError("viewer bug")

    def bad_sessions(infos: list[SessionInfo]) -> None:
        raise ValueError("sessions bug")

    good = Collector()
    gate = threading.Event()
    src = ListSource("s", [[ev("E", i) for i in range(5)], [ev("E", i) for i in range(5, 10)]],
                     gate=gate, hold_after=1)
    with caplog.at_level(logging.WARNING, logger="watchkeeper.relay"):
        relay.subscribe(bad)
        relay.on_sessions(bad_sessions)
        relay.subscribe(good)
        relay.add_source(src)
        assert good.wait(lambda es: len([e for e in es if e["id"].startswith("E:")]) == 5)
        gate.set()
        assert relay.drain(WAIT)
        assert good.wait(lambda es: len(es) == 10 + MAX_STRIKES)
    # Each failure is a notice in the session (which it fails on again), until MAX_STRIKES in a row.
    assert len(calls) == MAX_STRIKES and calls[0] == 5
    told = [e for e in good.events if e["data"].get("code") == "subscriber-failed"]
    assert [e["id"] for e in good.events if e not in told] == [f"E:{i}" for i in range(10)]
    assert [e["seq"] for e in good.events] == list(range(10 + MAX_STRIKES))
    assert len(told) == MAX_STRIKES and all("viewer bug" in e["data"]["text"] for e in told)
    assert "unsubscribed after 3" in told[-1]["data"]["text"] and "it missed those" in told[0]["data"]["text"]
    assert any("viewer bug" in m for m in relay.errors)
    assert any("sessions bug" in r.getMessage() for r in caplog.records)
    err = capfd.readouterr().err
    assert "goes_on.bad failed on events 'E:0'…'E:4': ValueError('viewer bug')" in err


def test_failing_source_becomes_a_notice_and_others_go_on(relay: Relay) -> None:
    class Broken:
        name = "broken"

        async def run(self, emit: Emit) -> None:
            emit([ev("F", 0)])
            raise OSError("disk went away")

    relay.add_source(Broken())
    relay.add_source(ListSource("fine", [[ev("G", 0)]]))
    assert relay.drain(WAIT)
    f = relay.read_range("F", 0, 10)
    assert [e["kind"] for e in f] == ["notice", "notice"]
    assert "disk went away" in f[1]["data"]["text"] and f[1]["data"]["level"] == "error"
    assert len(relay.read_range("G", 0, 10)) == 1


def test_add_source_from_inside_the_loop(relay: Relay) -> None:
    class Discovery:
        name = "discovery"

        async def run(self, emit: Emit) -> None:
            for s in ("D1", "D2", "D3"):
                relay.add_source(IterSource(f"tail:{s}", [ev(s, i) for i in range(4)]))
                await asyncio.sleep(0)

    col = Collector()
    relay.subscribe(col)
    relay.add_source(Discovery())
    assert col.wait(lambda es: len(es) == 12)
    assert sorted(i.session for i in relay.sessions()) == ["D1", "D2", "D3"]


def test_slow_consumer_does_not_stall_sources(relay: Relay) -> None:
    inbox: queue.Queue[list[Event]] = queue.Queue()
    consumer_may_run = threading.Event()
    consumed: list[Event] = []

    def consumer() -> None:
        consumer_may_run.wait()
        while True:
            batch = inbox.get(timeout=WAIT)
            if not batch:
                return
            consumed.extend(batch)

    t = threading.Thread(target=consumer)
    t.start()
    try:
        relay.subscribe(inbox.put)
        relay.add_source(IterSource("fast", [ev("W", i) for i in range(20_000)], batch=250))
        assert relay.drain(WAIT)
        # The consumer thread has not taken a single batch, yet every event was read and delivered.
        assert consumed == []
        assert sum(len(b) for b in list(inbox.queue)) == 20_000
        assert relay.session("W").events == 20_000  # type: ignore[union-attr]
    finally:
        consumer_may_run.set()
        inbox.put([])
        t.join(WAIT)
    assert [e["seq"] for e in consumed] == list(range(20_000))


def test_stop_is_clean() -> None:
    relay = Relay().start()
    gate = threading.Event()
    live = ListSource("live", [[ev("L", 0)]], gate=gate)
    relay.add_source(live)
    assert live.held.wait(WAIT)
    col = Collector()
    relay.subscribe(col)
    thread = relay._thread
    relay.stop()
    assert live.cancelled
    assert thread is not None and not thread.is_alive()
    assert [e["id"] for e in col.events] == ["L:0"]
    relay.stop()
    with pytest.raises(RuntimeError):
        relay.add_source(ListSource("late", [[ev("L", 1)]]))
    assert relay.read_range("L", 0, 5)[0]["id"] == "L:0"


def test_stop_without_start_and_subscribe_before_start() -> None:
    Relay().stop()
    relay = Relay()
    col = Collector()
    relay.subscribe(col)
    relay.add_source(ListSource("s", [[ev("B", i) for i in range(3)]]))
    relay.start()
    try:
        assert relay.drain(WAIT)
        assert [e["seq"] for e in col.events] == [0, 1, 2]
    finally:
        relay.stop()


def test_stop_from_a_relay_callback() -> None:
    relay = Relay().start()
    stopped = threading.Event()

    def stop_on_first(batch: list[Event]) -> None:
        relay.stop()
        stopped.set()

    relay.subscribe(stop_on_first)
    relay.add_source(ListSource("s", [[ev("Z", 0)]]))
    assert stopped.wait(WAIT)
    assert relay._thread is not None
    relay._thread.join(WAIT)
    assert not relay._thread.is_alive()
    assert not relay.errors


def test_a_running_total_and_per_call_usage_are_not_added_together() -> None:
    """Claude Code's cost-state includes calls a reader may meet after it (a subagent file read later)."""
    from watchkeeper.relay.summary import Summary

    def usage(seq: int, cumulative: bool, n: int) -> Event:
        data = {"input_tokens": n, "output_tokens": n, "cumulative": cumulative}
        return {**make_event(f"u{seq}", "s", "usage", data), "seq": seq}  # type: ignore[typeddict-item]

    s = Summary("s", "claude-code")
    s.fold(usage(0, False, 10))
    s.fold(usage(1, True, 30))
    s.fold(usage(2, False, 20))
    assert (s.info.tokens_in, s.info.tokens_out) == (30, 30)
    s.fold(usage(3, False, 5))
    assert s.info.tokens_in == 35, "calls after the last running total count on top of it"


class AskingSource(ListSource):
    """A source whose word on its sessions reads the relay back (as a remote source may ask its link)."""

    def __init__(self, relay: Relay, batches: list[list[Event]]) -> None:
        super().__init__("asking", batches, gate=threading.Event())
        self.relay = relay
        self.asked = 0

    def on_status_change(self, changed: Callable[[], None]) -> None:
        pass

    def session_status(self, session: str) -> tuple[bool, str | None] | None:
        self.asked += 1
        first = self.relay.read_range(session, 0, 1)
        return (bool(first), "running")


def test_session_status_is_asked_outside_the_relays_lock() -> None:
    """A source's ``session_status`` is its own code: under the relay's lock, one that reads the
    relay back (or is merely slow) would deadlock or stall every ingest and read."""
    with Relay() as relay:
        src = AskingSource(relay, [[ev("S", 0), ev("S", 1)]])
        got: list[Event] = []
        relay.subscribe(got.extend, "S")
        relay.add_source(src)
        until(lambda: len(got) == 2, what="the source's events are in")
        listed: queue.Queue[list[SessionInfo | None]] = queue.Queue()
        asker = threading.Thread(target=lambda: listed.put([*relay.sessions(), relay.session("S")]), daemon=True)
        asker.start()
        asker.join(WAIT)
        assert not asker.is_alive(), "sessions() deadlocked on the source's session_status"
        infos = listed.get_nowait()
        assert [(i.session, i.live, i.state) for i in infos if i is not None] == [("S", True, "running")] * 2
        assert src.asked >= 1
        src.gate.set()  # type: ignore[union-attr]


def test_a_held_call_reaches_subscribers_at_once_not_at_the_next_batch() -> None:
    """Events are batched (at most one delivery per ``flush_interval``), but an agent waits for a held call: it is
    delivered at once. With an hour between batches, only that makes it arrive."""
    relay = Relay(flush_interval=3600).start()
    try:
        relay.add_source(ListSource("first", [[ev("P", 1)]]))
        assert relay.drain(WAIT)
        seen = Collector()
        relay.subscribe(seen)
        assert seen.wait(lambda evs: len(evs) == 1), "a new subscriber is served what is there at once"
        waiting = make_event("w", "P", "tool.waiting", {"call_id": "c1", "reason": "approval", "name": "Bash"})
        relay.add_source(ListSource("hook", [[ev("P", 2), waiting]]))
        assert seen.wait(lambda evs: any(e["kind"] == "tool.waiting" for e in evs)), "the held call arrives"
        assert [e["id"] for e in seen.events] == ["P:1", "P:2", "w"], "in order, the event before it too"
    finally:
        relay.stop()
