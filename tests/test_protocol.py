"""Protocol v1: the schema, round trips (unknown kinds and fields intact), raw events, controls, calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson
import pytest

from watchkeeper.adapters.native import NativeConverter
from watchkeeper.protocol import (
    CallTable,
    Kind,
    ProtocolError,
    decode_native_line,
    encode_line,
    json_schema,
    make_event,
    validate_control,
    validate_event,
)

EXAMPLES = [
    make_event("e1", "s1", Kind.SESSION_STARTED,
               {"agent_kind": "claude-code", "title": "Fix it", "cwd": "/w"}),
    make_event("e2", "s1", Kind.MESSAGE_USER, {"text": "hi", "origin": "prompt"}),
    make_event("e3", "s1", Kind.MESSAGE_ASSISTANT, {"text": "hello", "message_id": "msg_1"}),
    make_event("e4", "s1", Kind.THINKING, {"text": "", "hidden": True}),
    make_event("tool:t1:started", "s1", Kind.TOOL_STARTED, {"call_id": "t1", "name": "Bash",
                                                            "input": {"command": "ls"}}),
    make_event("tool:t1:waiting", "s1", Kind.TOOL_WAITING, {"call_id": "t1", "reason": "paused"}),
    make_event("tool:t1:finished", "s1", Kind.TOOL_FINISHED, {"call_id": "t1", "status": "error",
                                                              "is_error": True, "output": "boom"}),
    make_event("e5", "s1", Kind.USAGE, {"input_tokens": 10, "output_tokens": 5, "model": "m"}),
    make_event("e6", "s1", Kind.AGENT_STARTED, {"agent_id": "a1", "parent_call_id": "t2"}, agent="a1"),
    make_event("e7", "s1", Kind.AGENT_FINISHED, {"agent_id": "a1"}, agent="a1"),
    make_event("e8", "s1", Kind.STATE, {"state": "paused"}),
    make_event("e9", "s1", Kind.CONTROL_APPLIED, {"control_id": "c1", "control": "pause", "by": "me"}),
    make_event("e10", "s1", Kind.CONTROL_REJECTED, {"control_id": "c2", "control": "approve",
                                                    "reason": "nothing held"}),
    make_event("e11", "s1", Kind.NOTICE, {"level": "warning", "text": "API error 529"}),
    make_event("e12", "s1", Kind.RAW, {"record": {"type": "mystery"}, "error": "unknown type"}),
    make_event("e13", "s1", Kind.SESSION_ENDED, {"reason": "done"}),
]

FROM_THE_FUTURE = {
    "v": 1, "id": "f1", "ts": "2027-01-01T00:00:00.000Z", "session": "s1", "agent": "main",
    "kind": "tool.progress", "data": {"call_id": "t1", "percent": 40, "nested": {"a": [1, 2]}},
    "trace_id": "abc", "seq": 7, "epoch": "r-1",
}


@pytest.fixture(scope="module")
def schema() -> dict:
    proc = subprocess.run([str(Path(sys.executable).parent / "watchkeeper"), "schema"], capture_output=True,
                          timeout=60, check=True)
    return orjson.loads(proc.stdout)


def test_schema_command_prints_a_valid_json_schema(schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == json_schema()


def test_every_kind_is_in_the_schema(schema: dict) -> None:
    kinds = {rule["if"]["properties"]["kind"]["const"] for rule in schema["$defs"]["EventModel"]["allOf"]}
    assert kinds == {k.value for k in Kind}


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e["kind"])
def test_examples_of_every_kind_validate(schema: dict, event: dict) -> None:
    jsonschema.validate(event, schema, cls=jsonschema.Draft202012Validator)
    assert validate_event(event) is event


def test_an_unknown_kind_and_fields_validate_and_pass_through(schema: dict) -> None:
    jsonschema.validate(FROM_THE_FUTURE, schema, cls=jsonschema.Draft202012Validator)
    assert validate_event(FROM_THE_FUTURE) == FROM_THE_FUTURE


@pytest.mark.parametrize(
    "bad",
    [
        {"v": 1, "id": "x", "ts": "t", "session": "s", "kind": "tool.started", "data": {"name": "Bash"}},
        {"v": 1, "id": "", "ts": "t", "session": "s", "kind": "notice", "data": {"text": "x"}},
        {"v": 1, "id": "x", "session": "s", "kind": "notice", "data": {"text": "x"}},
        {"v": 1, "id": "x", "ts": "t", "session": "s", "kind": "state", "data": {"state": "sleeping"}},
    ],
)
def test_invalid_events_fail_both_the_schema_and_validation(schema: dict, bad: dict) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(ProtocolError):
        validate_event(bad)


def test_native_recording_round_trips_unknown_kinds_intact(tmp_path: Path) -> None:
    path = tmp_path / "s1.jsonl"
    path.write_bytes(b"".join(encode_line(e) for e in [*EXAMPLES, FROM_THE_FUTURE]))
    conv = NativeConverter(path)
    out = []
    offset = 0
    for line in path.read_bytes().splitlines(keepends=True):
        out.extend(conv.feed(line.rstrip(b"\n"), offset))
        offset += len(line)
    expected = [*EXAMPLES, {k: v for k, v in FROM_THE_FUTURE.items() if k not in ("seq", "epoch")}]
    assert out == expected


@pytest.mark.parametrize(
    ("line", "record", "why"),
    [
        (b'{"type": "half', '{"type": "half', "not JSON"),
        (b"\xff\xfe garbage", "\ufffd\ufffd garbage", "not JSON"),
        (b'{"hello": "world"}', {"hello": "world"}, "not a protocol event"),
        (b"[1, 2]", [1, 2], "not a protocol event"),
    ],
)
def test_an_unparseable_line_becomes_a_raw_event_kept_whole(line: bytes, record: object, why: str) -> None:
    event = decode_native_line(line, "s9", "f.jsonl")
    assert event["kind"] == Kind.RAW
    assert event["data"]["record"] == record
    assert why in event["data"]["error"]
    assert event["session"] == "s9"
    assert decode_native_line(line, "s9")["id"] == event["id"]


@pytest.mark.parametrize("control", ["pause", "resume", "approve", "deny", "inject", "cancel", "step"])
def test_controls_validate(control: str) -> None:
    c = validate_control({"v": 1, "id": f"c-{control}", "session": "s1", "control": control,
                          "call_id": "t1", "reason": "no", "text": "hi", "by": "me", "future": 1})
    assert c.control == control
    assert c.model_dump()["future"] == 1


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"v": 1, "id": "c", "session": "s1", "control": "explode"}, "control"),
        ({"v": 1, "session": "s1", "control": "pause"}, "id"),
        ({"v": 1, "id": "c", "session": "s1", "control": "inject", "text": "x" * 100_001}, "text"),
        ("pause", "JSON object"),
    ],
)
def test_bad_controls_are_refused_with_a_reason(bad: object, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        validate_control(bad)


def test_events_of_one_call_update_one_call() -> None:
    table = CallTable()
    ev = {e["id"]: e for e in EXAMPLES}
    table.update(ev["tool:t1:waiting"])
    call = table.get("s1", "t1")
    assert call is not None and call.status == "waiting"
    table.update(ev["tool:t1:started"])
    assert call.status == "waiting" and call.name == "Bash"
    table.update(ev["tool:t1:finished"])
    assert (call.status, call.is_error, call.output) == ("error", True, "boom")
    table.update(ev["tool:t1:waiting"])
    assert call.status == "error", "a late, less final event must not move a finished call back"
    assert len(table) == 1
    assert call.event_ids == ["tool:t1:waiting", "tool:t1:started", "tool:t1:finished"]
    assert table.update(ev["e2"]) is None


def test_usage_totals_take_the_larger_of_per_call_sums_and_running_totals() -> None:
    from watchkeeper.protocol.usage import UsageTally

    tally = UsageTally()
    tally.fold({"input_tokens": 10, "output_tokens": 1, "cost_usd": 0.01})
    tally.fold({"input_tokens": 30, "output_tokens": 3, "cache_read_tokens": 7, "cumulative": True, "cost_usd": 0.5})
    tally.fold({"input_tokens": 20, "output_tokens": 2})
    assert tally.tokens == (30, 3, 7, 0), "per-call usage met after a running total is already in it"
    tally.fold({"input_tokens": 5, "output_tokens": 5})
    assert tally.tokens == (35, 8, 7, 0), "calls past the last running total count on top"
    assert tally.cost_usd == 0.5
