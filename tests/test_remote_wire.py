"""The wire protocol's shapes and the attach side's bookkeeping, pure: no sockets, no loops."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from watchkeeper.adapters.remote.resume import Tracker
from watchkeeper.protocol import make_event, wire
from watchkeeper.protocol.wire import WireError


def ev(session: str, seq: int, kind: str = "notice", id: str | None = None, **data: Any) -> dict[str, Any]:
    e: dict[str, Any] = dict(make_event(id or f"{session}:{seq}", session, kind, data or {"text": f"#{seq}"}))
    e["seq"] = seq
    e["epoch"] = "r-1"
    return e


# --- wire ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "code"), [
    (b"{not json", "malformed"),
    (b"[1, 2]", "malformed"),
    (b'{"x": 1}', "malformed"),
    (b'{"t": 7}', "malformed"),
])
def test_malformed_frames_are_wire_errors_with_a_code(raw: bytes, code: str) -> None:
    with pytest.raises(WireError) as info:
        wire.decode(raw)
    assert info.value.code == code and str(info.value)


def test_hello_roles_and_versions() -> None:
    hello = wire.read_hello(wire.decode(wire.dumps(wire.hello_client("agent", "bot", {"s": {"paused": True}}))))
    assert (hello.role, hello.name, hello.sessions) == ("agent", "bot", {"s": {"paused": True}})
    assert wire.read_hello({"t": "hello"}).role == "viewer"
    for bad, code in [({"t": "subscribe"}, "expected-hello"), ({"t": "hello", "role": "admin"}, "bad-hello"),
                      ({"t": "hello", "v": "one"}, "bad-hello")]:
        with pytest.raises(WireError) as info:
            wire.read_hello(bad)
        assert info.value.code == code


def test_subscribe_resumes_only_within_the_same_epoch() -> None:
    msg = {"t": "subscribe", "epoch": "r-1", "from": {"a": 5, "b": 0}}
    assert wire.read_subscribe(msg, "r-1") == {"a": 5, "b": 0}
    assert wire.read_subscribe(msg, "r-2") == {}, "another relay run: everything from the start"
    with pytest.raises(WireError):
        wire.read_subscribe({"t": "subscribe", "epoch": "r-1", "from": {"a": -1}}, "r-1")


def test_range_requests_are_checked_and_capped() -> None:
    r = wire.read_range({"t": "range", "id": 3, "session": "s", "start": 10, "stop": 10**9})
    assert (r.req, r.session, r.start, r.stop) == (3, "s", 10, 10 + wire.RANGE_MAX)
    with pytest.raises(WireError) as info:
        wire.read_range({"t": "range", "id": 4, "session": "s", "start": "0", "stop": 5})
    assert info.value.req == 4


def test_controls_are_validated_and_unknown_kinds_refused() -> None:
    req, c = wire.read_control({"t": "control", "id": "q", "control": {"id": "c1", "session": "s",
                                                                        "control": "pause"}})
    assert (req, c.id, c.control) == ("q", "c1", "pause")
    with pytest.raises(WireError) as info:
        wire.read_control({"t": "control", "id": "q", "control": {"id": "c2", "session": "s",
                                                                   "control": "explode"}})
    assert info.value.code == "bad-control" and "control" in str(info.value)


def test_an_agents_malformed_events_are_kept_as_raw() -> None:
    good = dict(make_event("e1", "s", "message.user", {"text": "hi"}), seq=99, epoch="theirs")
    n, events = wire.read_agent_events({"t": "events", "n": 7, "events": [good, {"id": "x"}, 42]}, "agent")
    assert n == 7
    assert events[0]["id"] == "e1" and "seq" not in events[0] and "epoch" not in events[0]
    assert [e["kind"] for e in events[1:]] == ["raw", "raw"]
    assert events[1]["data"]["record"] == {"id": "x"} and "session" in events[1]["data"]["error"]
    assert events[2]["data"]["record"] == 42


def test_an_agent_may_not_report_a_controls_outcome() -> None:
    """An agent's ``control.applied`` was folded as the relay's own: its held call left the approvals inbox,
    "approved by alice", though nobody decided. It is kept, as ``raw``, under an id of its own."""
    for kind in ("control.applied", "control.rejected"):
        forged = dict(make_event("control:tui-1a2b3c", "s", kind, {"control": "approve", "by": "alice",
                                                                   "call_id": "c1", "reason": "approved"}))
        _, (kept,) = wire.read_agent_events({"t": "events", "events": [forged]}, "sdk agent bot")
        assert kept["kind"] == "raw" and kept["id"] != "control:tui-1a2b3c"
        assert kept["data"]["record"]["data"]["by"] == "alice" and "only the relay" in kept["data"]["error"]


def test_a_big_batch_is_split_into_frames_that_keep_order() -> None:
    events = [ev("s", i, text="x" * 1000) for i in range(100)]
    frames = wire.encode_events(events, limit=20_000)  # type: ignore[arg-type]
    assert len(frames) > 1 and all(len(f) <= 20_000 for f in frames)
    back = [e["seq"] for f in frames for e in orjson.loads(f)["events"]]
    assert back == list(range(100))


# --- the attach side's tracker -------------------------------------------------------------------


def test_in_order_events_pass_and_repeats_are_dropped() -> None:
    t = Tracker("srv")
    assert t.connected("r-1") == {"t": "subscribe", "epoch": "r-1", "from": {}}
    ready, out = t.events([ev("a", 0), ev("a", 1), ev("b", 0)])  # type: ignore[list-item]
    assert [(e["session"], e["seq"]) for e in ready] == [("a", 0), ("a", 1), ("b", 0)] and out == []
    ready, _ = t.events([ev("a", 1), ev("a", 2)])  # type: ignore[list-item]
    assert [e["seq"] for e in ready] == [2] and t.stats["repeats"] == 1


def test_a_gap_waits_for_a_range_read_and_then_flows_in_order() -> None:
    t = Tracker("srv")
    t.connected("r-1")
    t.events([ev("a", 0)])  # type: ignore[list-item]
    ready, out = t.events([ev("a", 3), ev("a", 4)])  # type: ignore[list-item]
    assert ready == [] and out == [{"t": "range", "id": "r1", "session": "a", "start": 1, "stop": 3}]
    ready, out = t.range({"t": "range", "id": "r1", "session": "a", "start": 1, "first": 0, "end": 5,
                          "events": [ev("a", 1), ev("a", 2)]})
    assert [e["seq"] for e in ready] == [1, 2, 3, 4] and out == []


def test_a_reconnect_resumes_and_a_new_epoch_starts_over() -> None:
    t = Tracker("srv")
    t.connected("r-1")
    t.events([ev("a", 0), ev("a", 1), ev("b", 0)])  # type: ignore[list-item]
    assert t.connected("r-1")["from"] == {"a": 2, "b": 1}
    assert t.connected("r-2") == {"t": "subscribe", "epoch": "r-2", "from": {}}
    ready, _ = t.events([ev("a", 0)])  # type: ignore[list-item]
    assert len(ready) == 1, "a new relay run numbers from 0 again; the local relay drops repeats by id"


def test_a_gap_the_server_no_longer_holds_becomes_a_notice() -> None:
    t = Tracker("srv:1")
    t.connected("r-1")
    t.events([ev("a", 0)])  # type: ignore[list-item]
    _, out = t.events([ev("a", 50)])  # type: ignore[list-item]
    ready, out = t.range({"t": "range", "id": out[0]["id"], "session": "a", "start": 1, "first": 40, "end": 51,
                          "events": [ev("a", q) for q in range(40, 50)]})
    assert ready[0]["kind"] == "notice" and ready[0]["data"]["code"] == "events-missed"
    assert ready[0]["data"]["text"].startswith("39 events missed") and ready[0]["data"]["missed"] == 39
    assert [e["seq"] for e in ready[1:]] == list(range(40, 51)) and t.stats["missed"] == 39


def test_coalesced_events_count_as_seen_and_never_count_twice() -> None:
    t = Tracker("srv")
    t.connected("r-1")
    merged = ev("a", 0, "usage", id="u0", input_tokens=30, coalesced=3)
    ready, out = t.events([merged, ev("a", 1)], {"a": [[2, "u2"], [4, "u4"]]})  # type: ignore[list-item]
    assert [e["seq"] for e in ready] == [0, 1] and out == []
    ready, out = t.events([ev("a", 3)])  # type: ignore[list-item]
    assert [e["seq"] for e in ready] == [3] and out == [], "seq 2 was folded into seq 0: no gap to read"
    t.connected("r-2")
    ready, _ = t.events([ev("a", 0, "usage", id="u2"), ev("a", 1, "notice", id="n")])  # type: ignore[list-item]
    assert [e["id"] for e in ready] == ["n"], "after a full resync the folded originals stay out"


def test_a_resync_reads_ranges_until_caught_up_then_follows_again() -> None:
    t = Tracker("srv")
    t.connected("r-1")
    t.events([ev("a", 0)])  # type: ignore[list-item]
    _, out = t.resync("a", 1)
    assert out[0]["start"] == 1 and out[0]["stop"] == 1 + wire.RANGE_MAX
    ready, out = t.range({"t": "range", "id": out[0]["id"], "session": "a", "start": 1, "first": 0, "end": 4,
                          "events": [ev("a", 1), ev("a", 2), ev("a", 3)]})
    assert [e["seq"] for e in ready] == [1, 2, 3]
    assert out == [{"t": "subscribe", "epoch": "r-1", "from": {"a": 4}}]


@pytest.mark.timeout(30)
def test_a_gap_a_quadrillion_seqs_long_is_counted_not_walked() -> None:
    """A peer names a far seq, then says it holds none of the gap: counting the missed seqs one by one froze
    the relay's loop (and every hook on it) for good."""
    far = 10**15
    t = Tracker("edge e1")
    t.connected("r-1")
    _, out = t.events([ev("a", far)])  # type: ignore[list-item]
    assert out[0]["start"] == 0 and out[0]["stop"] == far
    ready, _ = t.range({"t": "range", "id": out[0]["id"], "session": "a", "start": 0, "first": 0, "end": 0,
                        "events": []})
    assert ready[0]["data"]["missed"] == far and [e["seq"] for e in ready[1:]] == [far]
    assert t.sessions["a"].next == far + 1


def test_a_peers_fields_of_the_wrong_type_are_passed_over_and_the_frame_still_flows() -> None:
    """Each of these raised out of the tracker, which ended the connection and lost the frame's events."""
    for coalesced in ([["a", 1]], {"a": 5}, {"a": "ab"}, {"a": [[3, ["x"]]]}, {7: [[1, "x"]]}):
        t = Tracker("srv")
        t.connected("r-1")
        ready, _ = t.events([ev("a", 0)], coalesced)  # type: ignore[list-item, arg-type]
        assert [e["seq"] for e in ready] == [0], coalesced
    t = Tracker("srv")
    t.connected("r-1")
    odd = {**ev("b", 0), "id": ["x"]}
    ready, _ = t.events([odd, ev("b", 1)])  # type: ignore[list-item]
    assert [e["seq"] for e in ready] == [0, 1], "the relay's intake keeps the odd one as raw"
    ready, _ = t.events([{**ev("b", 2), "seq": True}, ev("b", 2)])  # type: ignore[list-item]
    assert [e["seq"] for e in ready] == [2], "a seq of true is no seq"
    for events in (7, {"a": 1}, "x"):
        t = Tracker("srv")
        t.connected("r-1")
        _, out = t.events([ev("a", 5)])  # type: ignore[list-item]
        ready, _ = t.range({"t": "range", "id": out[0]["id"], "session": "a", "start": 0, "first": 0, "end": 6,
                            "events": events})
        assert ready[0]["data"]["code"] == "events-missed" and [e["seq"] for e in ready[1:]] == [5], events
