"""Nothing read crashes an output path, nothing good is lost with the bad.

Deep nesting, records of tens of MB, invalid UTF-8, NUL bytes and values orjson cannot write go
through ``watchkeeper events`` (a real subprocess on a real file), the relay, the recorder (real
files) and the websocket frames: each bad event is kept, cut and marked (``truncated``,
``truncated_reason``) or kept as ``raw`` text, and every good event comes through.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hostile_support import BIG, FIRST, LAST, SESSION, deep_value, hostile_transcript
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.protocol import MAX_EVENT_BYTES, Event, encode_line, fit, make_event, wire
from watchkeeper.protocol.bounds import MAX_DEPTH, PREVIEW_CHARS
from watchkeeper.relay import IterSource, Relay
from watchkeeper.relay.recorder import Recorder

ROOT = Path(__file__).resolve().parent.parent
WATCHKEEPER = str(ROOT / ".venv" / "bin" / "watchkeeper")
WAIT = 30.0


def ev(id: str, data: dict[str, Any], kind: str = "message.user", session: str = "s") -> Event:
    return make_event(id, session, kind, data, ts="2026-11-27T10:00:00.000Z")


def depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, d)
            stack.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def innermost(value: Any) -> Any:
    """Down the first item of each list: where a cut deep tree turned into its JSON text."""
    while isinstance(value, list) and value:
        value = value[0]
    return value


# --- watchkeeper events ------------------------------------------------------------------


def test_events_prints_every_good_record_and_each_bad_one_marked(tmp_path: Path) -> None:
    path = tmp_path / f"{SESSION}.jsonl"
    hostile_transcript(path, big_mb=20)
    r = subprocess.run([WATCHKEEPER, "events", str(path)], capture_output=True, timeout=WAIT, check=False)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    assert b"Traceback" not in r.stderr
    lines = r.stdout.splitlines()
    events = [orjson.loads(line) for line in lines]
    assert all(len(line) <= MAX_EVENT_BYTES for line in lines)
    assert [e["seq"] for e in events] == list(range(len(events)))
    by_id = {e["id"]: e for e in events}

    texts = [e["data"]["text"] for e in events if e["kind"] == "message.user"]
    assert texts[0] == FIRST and texts[-1] == LAST and "escaped \x00 nul in a prompt" in texts
    assert "cut mid pair \\ud83d here" in texts  # kept as a prompt, the lone surrogate shown as its escape
    for call in ("toolu_0001", "toolu_0002", "toolu_deep"):
        assert by_id[f"tool:{call}:finished"]["data"]["status"] == "ok"

    future = next(e for e in events if e["kind"] == "raw" and "from-the-future" in orjson.dumps(e).decode())
    assert "nested deeper than" in future["data"]["truncated_reason"]
    assert future["data"]["record"]["type"] == "from-the-future"
    deep_call = by_id["tool:toolu_deep:started"]["data"]
    assert deep_call["input"]["command"] == "echo deep" and "truncated_reason" in deep_call
    assert innermost(deep_call["input"]["extra"]).startswith("[" * 50)

    big = next(e["data"] for e in events if e["kind"] == "message.user" and e["data"]["text"].startswith(BIG))
    assert big["truncated"] > 15 * 2**20 and "over the size limit" in big["truncated_reason"]
    assert big["text"].rstrip("]").endswith("characters cut") and len(big["text"]) > 2**20

    raws = [e["data"] for e in events if e["kind"] == "raw" and e["data"]["error"].startswith("not JSON")]
    assert len(raws) == 2
    assert any("not utf-8" in d["record"] for d in raws) and any("raw \x00 byte" in d["record"] for d in raws)


# --- the recorder ---------------------------------------------------------------------------


def hostile_events(session: str) -> list[Event]:
    """Good, then each kind of bad an in-process source can hand the relay, then good again."""
    return [
        ev("good:1", {"text": "before"}, session=session),
        ev("deep", {"text": "deep", "tree": deep_value()}, session=session),
        ev("huge", {"text": "H" * (30 * 2**20)}, session=session),
        ev("odd", {"text": "lone \ud800 surrogate", 7: 2**70, "what": object()}, session=session),
        ev("good:2", {"text": "after"}, session=session),
    ]


def wait_for(cond: Any, what: str) -> None:
    done = threading.Event()
    for _ in range(int(WAIT / 0.02)):
        if cond():
            return
        done.wait(0.02)
    raise AssertionError(f"not reached within {WAIT}s: {what}")


def test_the_recorder_writes_on_after_bad_events(tmp_path: Path) -> None:
    relay = Relay().start()
    recorder = Recorder(tmp_path)
    relay.subscribe(recorder)
    try:
        relay.add_source(IterSource("hostile", hostile_events("rec")))
        assert relay.drain(WAIT)
    finally:
        relay.stop()
        recorder.close()
    assert recorder.errors == [] and relay.errors == deque_empty(relay)
    lines = (tmp_path / "rec.jsonl").read_bytes().splitlines()
    recorded = [orjson.loads(line) for line in lines]
    assert [e["id"] for e in recorded] == ["good:1", "deep", "huge", "odd", "good:2"]
    assert [e["seq"] for e in recorded] == [0, 1, 2, 3, 4]
    deep, huge, odd = recorded[1]["data"], recorded[2]["data"], recorded[3]["data"]
    assert depth(recorded[1]) <= MAX_DEPTH and innermost(deep["tree"]).startswith("[[[[")
    assert len(lines[2]) <= MAX_EVENT_BYTES and huge["text"].startswith("HHH") and huge["truncated"] > 25 * 2**20
    assert odd["text"] == "lone \\ud800 surrogate" and odd["7"] == str(2**70) and odd["what"].startswith("<object")
    assert all("truncated_reason" in d for d in (deep, huge, odd))


def deque_empty(relay: Relay) -> Any:
    return type(relay.errors)(maxlen=relay.errors.maxlen)


def test_the_recorder_itself_never_raises_on_what_an_event_holds(tmp_path: Path) -> None:
    """Its own guard, for an event that reached it without the relay's intake."""
    recorder = Recorder(tmp_path)
    batch = hostile_events("direct")
    for seq, e in enumerate(batch):
        e["seq"] = seq
    recorder(batch)
    recorder.close()
    recorded = [orjson.loads(line) for line in (tmp_path / "direct.jsonl").read_bytes().splitlines()]
    assert [e["id"] for e in recorded] == ["good:1", "deep", "huge", "odd", "good:2"]
    assert "truncated_reason" in recorded[1]["data"] and recorded[4]["data"] == {"text": "after"}


def test_a_session_that_cannot_be_recorded_is_said_and_the_others_go_on(tmp_path: Path,
                                                                         capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "blocked.jsonl").mkdir()  # the recording's path is taken: it cannot be opened
    relay = Relay().start()
    recorder = Recorder(tmp_path)
    relay.subscribe(recorder)
    try:
        relay.add_source(IterSource("two", [ev("b:1", {"text": "x"}, session="blocked"),
                                            ev("o:1", {"text": "y"}, session="open")]))
        assert relay.drain(WAIT)
        relay.add_source(IterSource("later", [ev("o:2", {"text": "z"}, session="open")]))
        assert relay.drain(WAIT)
        notices = [e for e in relay.read_range("blocked", 0, 99) if e["kind"] == "notice"]
    finally:
        relay.stop()
        recorder.close()
    assert [orjson.loads(line)["id"] for line in (tmp_path / "open.jsonl").read_bytes().splitlines()] == \
        ["o:1", "o:2"]
    assert len(notices) == 1 and notices[0]["data"]["code"] == "subscriber-failed"
    assert "cannot record session blocked" in notices[0]["data"]["text"]
    assert "Recorder failed" in notices[0]["data"]["text"]
    assert "cannot record session blocked" in capfd.readouterr().err


# --- the intake and the frames ----------------------------------------------------------------


def test_fit_keeps_a_good_event_as_it_is_and_cuts_only_what_it_must() -> None:
    good = ev("g", {"text": "fine", "input": {"a": [1, 2, {"b": None}]}})
    assert fit(good) is good
    at_limit = ev("n", {"tree": deep_value(251)})
    orjson.dumps(at_limit)  # orjson writes it alone, but not inside a frame:
    with pytest.raises(TypeError):
        wire.dumps(wire.events_frame([at_limit]))
    cut = fit(at_limit)
    assert cut is not at_limit and depth(cut) <= MAX_DEPTH and "nested deeper" in cut["data"]["truncated_reason"]
    assert (cut["id"], cut["kind"], cut["session"]) == ("n", "message.user", "s")
    tiny = ev("t", {"values": list(range(3_000_000))})
    preview = fit(tiny)
    assert preview["kind"] == "raw" and preview["id"] == "t"
    record = preview["data"]["record"]
    assert record.startswith('{"values":[0,1,2') and len(record) < PREVIEW_CHARS + 20
    assert len(encode_line(preview)) <= MAX_EVENT_BYTES


def test_a_frame_never_fails_and_never_passes_what_a_client_takes() -> None:
    good = [{**ev(f"g{i}", {"text": str(i)}), "seq": i} for i in range(3)]
    bad = {**ev("bad", {"tree": deep_value()}), "seq": 3}
    frames = wire.encode_events([good[0], bad, *good[1:]])
    sent = [e for f in frames for e in orjson.loads(f)["events"]]
    assert [e["id"] for e in sent] == ["g0", "bad", "g1", "g2"]
    assert sent[0] == good[0] and "truncated_reason" in sent[1]["data"]

    huge = {**ev("huge", {"text": "x" * (wire.MAX_CLIENT_MESSAGE + 2**20)}), "seq": 4}
    (frame,) = wire.encode_events([huge])
    assert len(frame) <= wire.MAX_CLIENT_MESSAGE
    assert orjson.loads(frame)["events"][0]["data"]["truncated"] > wire.MAX_CLIENT_MESSAGE - MAX_EVENT_BYTES


def test_the_event_limit_leaves_room_for_the_frame_around_it() -> None:
    assert MAX_EVENT_BYTES + 2**16 < wire.MAX_MESSAGE < wire.MAX_CLIENT_MESSAGE


# --- fit, for any value ------------------------------------------------------------------------

#: Any character, lone surrogates included, and often the ones that break writers.
_ANY_TEXT = st.lists(st.sampled_from(["a", "\ud800", "\udfff", "\x00", "\x1b", '"', "\\", "é", "😀"])
                     | st.characters(), max_size=40).map("".join)
_LEAVES = st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers(-(2**80), 2**80) | _ANY_TEXT
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    _ANY_TEXT | st.integers(0, 9), inner, max_size=4), max_leaves=30)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(value=_VALUES, nesting=st.integers(0, 400) | st.integers(244, 256),
       limit=st.sampled_from([600, 4096, MAX_EVENT_BYTES]))
def test_fit_always_gives_an_event_a_frame_can_carry(value: Any, nesting: int, limit: int) -> None:
    for _ in range(nesting):
        value = [value]
    event = ev("any", {"value": value})
    fitted = fit(event, limit)
    assert len(orjson.dumps(fitted)) <= limit
    orjson.dumps(wire.events_frame([fitted]))  # never raises, however deep the value was
    assert (fitted["id"], fitted["session"]) == ("any", "s")
    try:
        fits = len(orjson.dumps([[event]])) <= limit + 4
    except TypeError:
        fits = False
    assert (fitted is event) == fits
    if not fits:
        assert "truncated_reason" in fitted["data"]
