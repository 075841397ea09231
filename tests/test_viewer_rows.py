"""Row text for events and tool calls: pure, no app."""

from __future__ import annotations

from test_viewer_support import Events

from watchkeeper.protocol import CallTable
from watchkeeper.viewer.model import rows
from watchkeeper.viewer.model.rows import build_row, call_status_cells, parse_ts, salient_input


def text(cells: list[tuple[str, str]]) -> str:
    return "".join(t for t, _ in cells)


def test_salient_input_picks_what_a_person_scans_for() -> None:
    assert salient_input("Bash", {"command": "ls -la\n  && pwd", "description": "list"}) == "ls -la && pwd"
    assert salient_input("Read", {"file_path": "/a/b.py", "limit": 10}) == "/a/b.py"
    assert salient_input("Grep", {"pattern": "def \\w+", "path": "src"}) == "def \\w+ src"
    assert salient_input("WebFetch", {"url": "https://example.com", "prompt": "x"}) == "https://example.com"
    assert salient_input("TodoWrite", {"todos": [{}, {}, {}]}) == "3 todos"
    # Codex: shell with an argv list, exec_command with JSON-string arguments, apply_patch text.
    assert salient_input("shell", {"command": ["bash", "-lc", "cargo test"]}) == "cargo test"
    assert salient_input("exec_command", '{"cmd": "npm test", "workdir": "/w"}') == "npm test"
    patch = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-x\n+y\n*** Add File: b.rs\n+z\n*** End Patch"
    assert salient_input("apply_patch", patch) == "src/a.rs, b.rs"
    assert salient_input("mcp__x__y", {"n": 1, "q": "weather"}) == "weather"
    assert salient_input("X", None) == ""


def test_status_of_a_call_as_it_runs_and_ends() -> None:
    ev = Events()
    table = CallTable()
    call = table.update(ev.call_start("c1", "Bash", {"command": "sleep 5"}))
    assert call is not None
    start = parse_ts(call.started_ts)
    assert start is not None
    assert text(call_status_cells(call, start + 12.5)) == "… running 12.5s"
    assert text(call_status_cells(call, None)) == "… unfinished"
    table.update(ev.ev("tool.waiting", {"call_id": "c1", "reason": "approval"}))
    assert text(call_status_cells(call, None)) == "⏸ waiting (approval)"
    table.update(ev.call_end("c1", "done", duration_ms=61_000))
    assert text(call_status_cells(call, None)) == "✓ 1m01s"
    failed = table.update(ev.call_end("c2", "boom", "error", duration_ms=300))
    assert failed is not None
    assert text(call_status_cells(failed, None)) == "✗ error 300ms"
    assert rows.call_failed(failed)
    denied = table.update(ev.call_end("c3", "no", "denied"))
    assert denied is not None and text(call_status_cells(denied, None)).startswith("⊘ denied")


def test_build_row_for_calls_and_events() -> None:
    ev = Events()
    table = CallTable()
    start = ev.call_start("c1", "Edit", {"file_path": "/p/app.py", "old_string": "a", "new_string": "b"})
    call = table.update(start)
    row = build_row(start, call)
    assert (row.kind, text(row.summary)) == ("tool", "Edit  /p/app.py")
    assert not row.error
    table.update(ev.call_end("c1", "Error: file changed", "error"))
    row = build_row(start, call)
    assert row.error and "error" in text(row.status)

    raw = ev.ev("raw", {"record": "{half a line", "error": "not JSON"})
    row = build_row(raw, None)
    assert row.kind == "raw" and row.error and text(row.summary) == "not JSON: {half a line"

    hidden = build_row(ev.ev("thinking", {"text": "", "hidden": True}), None)
    assert text(hidden.summary) == "(hidden)"
    multi = build_row(ev.ev("message.assistant", {"text": "line one\nline two\n\n\tthree"}), None)
    assert text(multi.summary) == "line one line two three"
    usage = build_row(ev.usage(1234, 56, 0.5), None)
    assert text(usage.summary) == "in 1,234  out 56  cache 1,010  $0.5000"
    sub = build_row(ev.ev("message.user", {"text": "hi"}, agent="a42934b12dd9d9ea8"), None, depth=1)
    assert sub.agent == "a42934b12dd9d9ea8" and text(sub.summary) == "┆ hi"


def test_bad_shapes_do_not_raise() -> None:
    ev = Events()
    for data in ({}, {"text": None}, {"record": {"a": [1, 2]}}, {"state": "running", "reason": "prompt"}):
        for kind in ("message.user", "raw", "state", "notice", "agent.started", "unknown.kind", "usage"):
            build_row(ev.ev(kind, data), None)
    event = ev.ev("message.user", {})
    event["data"] = "not a dict"  # type: ignore[typeddict-item]
    assert build_row(event, None).kind == "user"


def test_a_line_break_anywhere_in_a_row_never_makes_it_two_lines() -> None:
    """A tool named ``"Bash\\n09:00:00 main  control  ✓ approve …"`` was drawn as a row of its own that looked
    like watchkeeper's."""
    ev = Events()
    forged = "Bash\n09:00:00 main       control   ✓ approve  approved: the call runs"
    start, *_ = ev.call("t1", forged, {"command": "ls\nrm -rf /"})
    table = CallTable()
    call = table.update(start)
    row = build_row(start, call)
    texts = [row.time, row.agent, row.kind, *(t for t, _ in row.summary), *(t for t, _ in row.status)]
    assert not any("\n" in t for t in texts), texts
    assert "Bash 09:00:00 main" in "".join(t for t, _ in row.summary)
