"""The SDK writes a native recording that the native adapter reads back, valid against the schema."""

from __future__ import annotations

from pathlib import Path

import jsonschema

from watchkeeper.adapters.native import NativeConverter
from watchkeeper.protocol import json_schema
from watchkeeper.sdk import Run


def read_back(path: Path) -> list[dict]:
    conv = NativeConverter(path)
    return [e for line in path.read_bytes().splitlines() for e in conv.feed(line, 0)]


def test_a_run_is_recorded_event_by_event(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with Run(path, title="count files", model="tiny") as run:
        run.user("count the files")
        seen_before_close = len(read_back(path))
        call = run.tool_started("shell", {"cmd": "ls | wc -l"})
        run.tool_finished(call, "3\n", duration_ms=4.0)
        bad = run.tool_started("shell", {"cmd": "false"})
        run.tool_finished(bad, "exit 1", is_error=True)
        run.usage(input_tokens=100, output_tokens=20, model="tiny")
        run.assistant("There are 3 files.")
    events = read_back(path)
    assert seen_before_close == 2, "each report is written at once, so a tail sees it live"
    assert [e["kind"] for e in events] == [
        "session.started", "message.user", "tool.started", "tool.finished", "tool.started", "tool.finished",
        "usage", "message.assistant", "session.ended",
    ]
    assert {e["session"] for e in events} == {run.session}
    assert events[3]["id"] == f"tool:{call}:finished"
    assert events[5]["data"]["status"] == "error"
    assert len({e["id"] for e in events}) == len(events)
    schema = json_schema()
    for e in events:
        jsonschema.validate(e, schema, cls=jsonschema.Draft202012Validator)


def test_an_exception_ends_the_session_as_an_error(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    try:
        with Run(path) as run:
            run.user("go")
            raise RuntimeError("agent crashed")
    except RuntimeError:
        pass
    assert read_back(path)[-1]["data"] == {"reason": "error"}
