"""The Claude Code adapter: every transcript in the repository, each record shape, usage against the real ccusage.

The transcripts are the real CLI's recording (``SAMPLE_LOGS``, 2.1.332) and the
hand-made records of the older layouts (tests/fixtures/README.md says which
version and shape each reproduces). The corpus of real transcripts gets the
same checks in test_corpus_claude_code.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from claude_support import file_events
from conftest import CC_FIXTURES, SAMPLE_LOGS, ccusage_binary, claude_transcripts

from watchkeeper.adapters.claude_code import ClaudeCodeConverter, subagent_files
from watchkeeper.adapters.claude_code.records import OUTPUT_LIMIT
from watchkeeper.protocol import CallTable, validate_event

DEMO = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"
LEGACY = CC_FIXTURES / "-home-dev-legacy"  # 2.0.28: agent-<id>.jsonl beside the session
SIDECHAIN = CC_FIXTURES / "-home-dev-styles" / "88a8d761-0000-4bf1-a8ca-000000000046.jsonl"  # 2.0.46
HOOKS = CC_FIXTURES / "-home-dev-webapp" / "11241c18-0000-4df0-8e65-000000000078.jsonl"  # 2.1.78
SHOWCASE = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"  # 2.1.173
STEERING = CC_FIXTURES / "-tmp-project" / "00000000-0295-4000-8000-000000000207.jsonl"  # 2.1.207
LAYOUT = CC_FIXTURES / "-home-dev-project" / "78d01735-0000-49d5-a966-000000000197.jsonl"  # 2.1.197


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


Events = list[Any]


def kinds(events: Events, kind: str) -> list[Any]:
    return [e for e in events if e["kind"] == kind]


def label(path: Path) -> str:
    return "/".join(path.parts[-2:])


# --- every transcript ---------------------------------------------------------------------


def check_converts_with_every_tool_call_once_and_paired(path: Path) -> None:
    events: Events = file_events(path)
    assert not kinds(events, "raw"), [e["data"]["error"] for e in kinds(events, "raw")]
    for event in events:
        validate_event(event)
        assert event["ts"] and event["session"]
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))

    used: list[str] = []
    answered: set[str] = set()
    for rec in records(path):
        content = (rec.get("message") or {}).get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if rec.get("type") == "assistant" and block.get("type") in ("tool_use", "server_tool_use"):
                used.append(block["id"])
            if rec.get("type") == "user" and block.get("type") == "tool_result":
                answered.add(block["tool_use_id"])
    started = [e["data"]["call_id"] for e in kinds(events, "tool.started")]
    finished = [e["data"]["call_id"] for e in kinds(events, "tool.finished")]
    assert sorted(started) == sorted(set(used))
    assert sorted(finished) == sorted(answered)
    table = CallTable()
    calls = {call.call_id: call for event in events if (call := table.update(event)) is not None}
    assert all(calls[c].name for c in used) and all(calls[c].final for c in answered)


@pytest.mark.parametrize("path", claude_transcripts(), ids=label)
def test_transcript_converts_with_every_tool_call_once_and_paired(path: Path) -> None:
    check_converts_with_every_tool_call_once_and_paired(path)


def test_the_repository_holds_every_layout_and_record_shape() -> None:
    """The fixtures keep covering what they are there for: each version, and each record type a reader meets."""
    versions = {r.get("version") for p in claude_transcripts() for r in records(p)} - {None}
    assert {"2.0.28", "2.0.46", "2.1.78", "2.1.173", "2.1.197", "2.1.207", "2.1.332"} <= versions
    types = Counter(r.get("type") for p in claude_transcripts() for r in records(p))
    for kind in ("user", "assistant", "system", "progress", "attachment", "queue-operation", "last-prompt",
                 "file-history-snapshot", "api-request", "api-request-blob", "cost-state"):
        assert types[kind], kind


def test_2_1_332_request_blobs_add_no_tool_calls() -> None:
    recs = records(DEMO)
    blob_ids = {b["id"] for r in recs if r["type"] == "api-request-blob"
                for b in r["message"]["content"] if isinstance(b, dict) and b.get("type") == "tool_use"}
    assistant_ids = [b["id"] for r in recs if r["type"] == "assistant"
                     for b in r["message"]["content"] if b.get("type") == "tool_use"]
    assert blob_ids <= set(assistant_ids)
    events = file_events(DEMO)
    started = kinds(events, "tool.started")
    assert len(started) == len(assistant_ids)
    assert {e["data"]["name"] for e in started} == {"Bash", "Write", "Edit", "Agent"}
    blob_texts = {b.get("text") for r in recs if r["type"] == "api-request-blob"
                  for b in r["message"]["content"] if isinstance(b, dict) and b.get("type") == "text"}
    reminders = {t for t in blob_texts if t and t.startswith("<system-reminder>")}
    assert reminders
    shown = {e["data"]["text"] for e in events if e["kind"] in ("message.user", "message.assistant")}
    assert not reminders & shown
    assert not [e for e in kinds(events, "notice") if e["data"]["code"] == "newer-version"]


def check_subagent_files_link_to_the_parents_call(main: Path) -> None:
    subs = subagent_files(main)
    assert subs
    parent = file_events(main)
    parent_calls = {e["data"]["call_id"]: e["data"]["name"] for e in kinds(parent, "tool.started")}
    session = kinds(parent, "session.started")[0]["session"]
    for sub in subs:
        agent = sub.name[len("agent-"):-len(".jsonl")]
        meta = json.loads(sub.with_name(f"agent-{agent}.meta.json").read_text())
        events = file_events(sub)
        assert events[0]["kind"] == "agent.started"
        assert events[0]["data"]["parent_call_id"] == meta["toolUseId"]
        assert parent_calls[meta["toolUseId"]] in ("Task", "Agent")
        assert {e["agent"] for e in events} == {agent}
        assert {e["session"] for e in events} == {session}
        assert not kinds(events, "session.started")
        links = [e for e in kinds(parent, "agent.started") if e["data"]["agent_id"] == agent]
        assert [e["data"]["parent_call_id"] for e in links] == [meta["toolUseId"]]


@pytest.mark.parametrize("main", [LAYOUT, SHOWCASE, DEMO], ids=label)
def test_subagent_files_carry_their_agent_and_link_to_the_parents_call(main: Path) -> None:
    check_subagent_files_link_to_the_parents_call(main)


def test_subagent_finished_from_a_task_notification() -> None:
    events = file_events(DEMO)
    (done,) = kinds(events, "agent.finished")
    assert done["data"] == {"agent_id": "a455c631d7057aaad", "status": "completed"}
    launched = next(e for e in kinds(events, "tool.finished") if e["data"]["call_id"] == "toolu_05")
    assert events.index(launched) < events.index(done)


def test_in_file_sidechain_is_a_subagent_under_the_task_call() -> None:
    events = file_events(SIDECHAIN)
    task = kinds(events, "tool.started")[0]["data"]
    assert task["name"] == "Task"
    grep = next(e for e in kinds(events, "tool.started") if e["data"]["name"] == "Grep")
    assert grep["agent"] != "main"
    links = defaultdict(set)
    for e in kinds(events, "agent.started"):
        links[e["data"]["agent_id"]].add(e["data"]["parent_call_id"])
    assert task["call_id"] in links[grep["agent"]]
    assert all(task["call_id"] in calls for calls in links.values())


def test_agent_file_beside_the_session() -> None:
    (main,) = LEGACY.glob("3f6a*.jsonl")
    (beside,) = subagent_files(main)
    assert beside.name == "agent-7c1d2e3f.jsonl"
    events = file_events(beside)
    assert events[0]["kind"] == "agent.started"
    assert {e["agent"] for e in events} == {"7c1d2e3f"}
    assert {e["session"] for e in events} == {main.stem}
    assert events[0]["data"]["prompt"] == "Run the test suite"


@pytest.mark.parametrize(("path", "title"), [
    (HOOKS, "Analyse the codebase with the indexer skill"),
    (DEMO, "Set up notes.txt for the demo, then check it."),
    (STEERING, "Start the database migration."),
    (LAYOUT, "Delegate the file count"),
], ids=lambda v: label(v) if isinstance(v, Path) else "")
def test_session_started_first_with_title_and_profile(path: Path, title: str) -> None:
    check_session_started(path, title)


def check_session_started(path: Path, title: str) -> None:
    events = file_events(path)
    start = events[0]
    assert start["kind"] == "session.started"
    assert len(kinds(events, "session.started")) == 1
    recs = records(path)
    assert start["session"] == next(r["sessionId"] for r in recs if r.get("sessionId"))
    data = start["data"]
    assert data["title"] == title
    assert data["cwd"] == next(r["cwd"] for r in recs if r.get("cwd"))
    assert data["capabilities"]["approve"] is False and data["capabilities"]["why"]
    assert data["profile"]["observability"] == data["capabilities"]
    assert data["profile"]["isolation"]["cwd"] == data["cwd"]


def test_2_1_78_interrupt_commands_hooks_and_hidden_thinking() -> None:
    events = file_events(HOOKS)
    origins = Counter(e["data"]["origin"] for e in kinds(events, "message.user"))
    assert origins == {"command": 1, "meta": 2, "prompt": 3}
    (interrupt,) = [e for e in kinds(events, "notice") if e["data"]["code"] == "interrupted"]
    assert interrupt["data"]["text"] == "[Request interrupted by user]"
    thinking = kinds(events, "thinking")
    assert len(thinking) == 3 and all(e["data"]["hidden"] and e["data"]["text"] == "" for e in thinking)
    assert [e["data"]["text"] for e in kinds(events, "message.user") if e["data"]["origin"] == "command"] == ["/clear"]
    assert len([e for e in kinds(events, "notice") if e["data"]["code"] == "stop-hooks"]) == 2
    done = {e["data"]["call_id"]: e["data"]["status"] for e in kinds(events, "tool.finished")}
    assert done == {"toolu_c_skill": "ok", "toolu_c_bash1": "ok", "toolu_c_bash2": "interrupted", "toolu_c_bash3": "ok"}


def test_2_1_207_a_queued_message_taken_back_is_a_notice() -> None:
    events = file_events(STEERING)
    (removed,) = [e for e in kinds(events, "notice") if e["data"]["code"] == "queue-removed"]
    assert "the parser first" in removed["data"]["text"]
    assert [e["data"]["text"] for e in kinds(events, "message.user")] == [
        "Start the database migration.", "Here is the schema you asked for."]


def test_2_1_173_mcp_and_agent_calls() -> None:
    events = file_events(SHOWCASE)
    names = [e["data"]["name"] for e in kinds(events, "tool.started")]
    assert names == ["mcp__plugin_shop_repo__inspect_layout", "mcp__plugin_shop_repo__refresh_index",
                     "ScheduleWakeup", "Agent", "Agent"]
    links = {(e["data"]["agent_id"], e["data"]["parent_call_id"]) for e in kinds(events, "agent.started")}
    assert links == {("webagent1", "toolu_d_web"), ("jobagent2", "toolu_d_jobs")}


# --- usage: the CLI's own accounting, and ccusage -------------------------------------


def usage_totals(events: Events) -> list[int]:
    fields = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
    per = [e["data"] for e in kinds(events, "usage") if not e["data"].get("cumulative")]
    return [sum(d[f] for d in per) for f in fields]


def check_usage_equals_the_clis_own_cost_state(main: Path) -> None:
    events = [e for p in [main, *subagent_files(main)] for e in file_events(p)]
    (state,) = [e for e in kinds(events, "usage") if e["data"].get("cumulative")]
    cost = next(r for r in records(main) if r["type"] == "cost-state")
    models = list(cost["modelUsage"].values())
    expected = [sum(m[k] for m in models) for k in
                ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheCreationInputTokens")]
    assert usage_totals(events) == expected
    assert state["data"]["cost_usd"] == cost["totalCostUSD"]
    assert [state["data"][k] for k in ("input_tokens", "output_tokens", "cache_read_tokens",
                                       "cache_creation_tokens")] == expected


def test_usage_equals_the_clis_own_cost_state() -> None:
    """2.1.332 writes its own running totals (subagents included): ours must add up to them."""
    check_usage_equals_the_clis_own_cost_state(DEMO)


def run_ccusage(home: Path) -> dict[str, list[int]]:
    env = {**os.environ, "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude"), "NO_COLOR": "1"}
    out = subprocess.run([str(ccusage_binary()), "session", "--json", "--offline"], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return {s["sessionId"]: [s["inputTokens"], s["outputTokens"], s["cacheReadTokens"], s["cacheCreationTokens"]]
            for s in json.loads(out.stdout)["sessions"]}


def check_usage_per_session_against_ccusage(files: list[Path], home: Path) -> None:
    """Each file as its own session of a CLAUDE_CONFIG_DIR copy; ccusage reads them.

    Two deliberate differences, both reproduced here from the raw lines: ccusage
    dedupes only lines that have a ``requestId`` (the scripted 2.1.197 run has
    none, so it counts every line of a split message again), and it keeps the
    *first* line of a message where we keep the largest (2.1.7x wrote partial
    ``output_tokens`` on intermediate lines). Where neither applies the totals
    must be equal.
    """
    projects = home / ".claude" / "projects"
    names = {}
    for i, path in enumerate(files):
        dest = projects / f"s{i}" / path.name
        dest.parent.mkdir(parents=True)
        shutil.copy(path, dest)
        names[f"s{i}"] = path
    theirs = run_ccusage(home)
    equal = 0
    for name, path in names.items():
        ours = usage_totals(file_events(path))
        ccusage_rule, our_rule = usage_by_rule(path)
        assert theirs.get(name, [0, 0, 0, 0]) == ccusage_rule, path  # our reading of ccusage is right
        assert ours == our_rule, path
        if ccusage_rule == our_rule:
            assert ours == theirs.get(name, [0, 0, 0, 0])
            equal += 1
    assert equal >= 3
    assert equal < len(names)  # the differences above are real in these transcripts


def test_usage_per_session_against_the_real_ccusage(tmp_path: Path) -> None:
    check_usage_per_session_against_ccusage(claude_transcripts(), tmp_path)


def usage_by_rule(path: Path) -> tuple[list[int], list[int]]:
    """Totals as ccusage counts them (dedupe by message id + request id when both are
    present, first line wins) and as we do (message id alone as fallback, largest wins)."""
    theirs: dict[str, list[int]] = {}
    ours: dict[str, list[int]] = {}
    for i, rec in enumerate(records(path)):
        msg = rec.get("message")
        if rec.get("type") != "assistant" or not isinstance(msg, dict) or not isinstance(msg.get("usage"), dict):
            continue
        u = msg["usage"]
        counts = [u.get("input_tokens") or 0, u.get("output_tokens") or 0, u.get("cache_read_input_tokens") or 0,
                  u.get("cache_creation_input_tokens") or 0]
        mid, rid = msg.get("id"), rec.get("requestId")
        theirs.setdefault(f"{mid}:{rid}" if mid and rid else f"line{i}", counts)
        key = f"{mid}:{rid}" if rid else str(mid)
        ours[key] = [max(a, b) for a, b in zip(ours.get(key, counts), counts, strict=True)]
    return ([sum(c[f] for c in theirs.values()) for f in range(4)],
            [sum(c[f] for c in ours.values()) for f in range(4)])


def check_usage_equals_ccusage_with_request_ids(files: list[Path], home: Path) -> None:
    """Give each line the request id a real API would send: the totals then agree exactly."""
    projects = home / ".claude" / "projects"
    ours = {}
    for i, path in enumerate(files):
        dest = projects / f"s{i}" / path.name
        dest.parent.mkdir(parents=True)
        lines = []
        for rec in records(path):
            if rec.get("type") == "assistant" and not rec.get("requestId"):
                rec["requestId"] = f"req_{i}_{rec['message']['id']}"
            lines.append(json.dumps(rec))
        dest.write_text("\n".join(lines) + "\n")
        ours[f"s{i}"] = usage_totals(file_events(dest))
    theirs = run_ccusage(home)
    assert ours == theirs
    assert len(ours) == len(files)


def test_usage_equals_ccusage_once_every_line_has_a_request_id(tmp_path: Path) -> None:
    files = [p for main in (LAYOUT, DEMO) for p in (main, *subagent_files(main))]
    assert not all(r.get("requestId") for r in records(LAYOUT) if r["type"] == "assistant")
    check_usage_equals_ccusage_with_request_ids(files, tmp_path)


# --- one record shape at a time ----------------------------------------------------------

SID = "sess-0001"


def ts(n: int) -> str:
    return f"2026-01-01T00:00:{n:02d}.000Z"


def user(uuid: str, parent: str | None, content: Any, n: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "user", "uuid": uuid, "parentUuid": parent, "sessionId": SID, "timestamp": ts(n),
            "cwd": "/w", "version": "2.1.197", "message": {"role": "user", "content": content}, **extra}


def assistant(uuid: str, parent: str | None, mid: str, blocks: list[Any], n: int = 0,
              usage: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    msg = {"id": mid, "role": "assistant", "model": "claude-x", "content": blocks,
           "usage": usage or {"input_tokens": 10, "output_tokens": 5}}
    return {"type": "assistant", "uuid": uuid, "parentUuid": parent, "sessionId": SID, "timestamp": ts(n),
            "message": msg, **extra}


def use(call_id: str, name: str = "Bash", **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": args or {"command": "ls"}}


def result(call_id: str, content: Any = "ok", **extra: Any) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, **extra}


def convert(recs: list[Any], path: Path | None = None) -> Events:
    conv = ClaudeCodeConverter(path)
    out: Events = []
    for rec in recs:
        out += conv.feed(rec if isinstance(rec, bytes) else orjson.dumps(rec), 0)
    out += conv.finish()
    for event in out:
        validate_event(event)
    return out


def finished(events: Events) -> dict[str, dict[str, Any]]:
    return {e["data"]["call_id"]: e["data"] for e in kinds(events, "tool.finished")}


def test_split_message_one_usage_every_block_in_order() -> None:
    usage = {"input_tokens": 100, "output_tokens": 40, "cache_read_input_tokens": 7}
    events = convert([
        user("u1", None, "go"),
        assistant("a1", "u1", "m1", [{"type": "thinking", "thinking": "hmm", "signature": "s"}], 1, usage),
        assistant("a2", "a1", "m1", [{"type": "text", "text": "I will run it"}], 1, usage),
        assistant("a3", "a2", "m1", [use("t1"), use("t2")], 1, usage),
    ])
    body = [e for e in events if e["kind"] in ("thinking", "message.assistant", "tool.started")]
    assert [e["kind"] for e in body] == ["thinking", "message.assistant", "tool.started", "tool.started"]
    assert kinds(events, "message.assistant")[0]["data"]["message_id"] == "m1"
    assert {e["data"]["message_id"] for e in kinds(events, "tool.started")} == {"m1"}
    assert usage_totals(events) == [100, 40, 7, 0]


def test_usage_keeps_the_largest_per_message_and_request() -> None:
    events = convert([
        user("u1", None, "go"),
        assistant("a1", "u1", "m1", [{"type": "text", "text": "a"}], usage={"input_tokens": 3, "output_tokens": 8},
                  requestId="r1"),
        assistant("a2", "a1", "m1", [use("t1")], usage={"input_tokens": 3, "output_tokens": 143}, requestId="r1"),
        assistant("a3", "a2", "m1", [{"type": "text", "text": "b"}], usage={"input_tokens": 3, "output_tokens": 9},
                  requestId="r1"),
        assistant("a4", "a3", "m2", [{"type": "text", "text": "c"}], usage={"input_tokens": 1, "output_tokens": 2}),
        assistant("a5", "a4", "m2", [{"type": "text", "text": "d"}], usage={"input_tokens": 1, "output_tokens": 2}),
    ])
    assert usage_totals(events) == [4, 145, 0, 0]
    revisions = [e for e in kinds(events, "usage") if e["data"].get("revision")]
    assert [e["data"]["output_tokens"] for e in revisions] == [135]


def test_a_result_whose_content_is_not_text_is_shown_as_json() -> None:
    events = convert([
        user("u1", None, "go", 1),
        assistant("a1", "u1", "m1", [use("t1"), use("t2")], 2),
        user("r1", "a1", [result("t1", {"weird": True, "n": [1, None]})], 3),
        user("r2", "a1", [result("t2", [{"type": "text", "text": "a"}, ["b", 2], 7])], 4),
    ])
    done = finished(events)
    assert done["t1"]["output"] == '{"weird":true,"n":[1,null]}'
    assert done["t2"]["output"] == 'a\n["b",2]\n7'


def test_results_in_any_order_and_parallel_calls() -> None:
    events = convert([
        user("r0", None, [result("t9", "early")], 0),
        user("u1", None, "go", 1),
        assistant("a1", "u1", "m1", [use("t1"), use("t2"), use("t9")], 2),
        user("r2", "a1", [result("t2", "two")], 5),
        user("r1", "a1", [result("t1", "one")], 7),
        assistant("a2", "r1", "m2", [use("t1")], 8),  # the same id again is the same call
        user("r1b", "a2", [result("t1", "again")], 9),
    ])
    assert [e["data"]["call_id"] for e in kinds(events, "tool.started")] == ["t1", "t2", "t9"]
    done = finished(events)
    assert list(done) == ["t9", "t2", "t1"]
    assert done["t1"]["output"] == "one" and done["t1"]["duration_ms"] == 5000
    assert done["t2"]["duration_ms"] == 3000
    table = CallTable()
    calls = {call.call_id: call for event in events if (call := table.update(event)) is not None}
    assert {c.call_id: (c.name, c.status) for c in calls.values()} == {
        "t1": ("Bash", "ok"), "t2": ("Bash", "ok"), "t9": ("Bash", "ok")}


def test_is_error_true_false_absent_null_and_string_errors() -> None:
    events = convert([
        user("u1", None, "go"),
        assistant("a1", "u1", "m1", [use(f"t{i}") for i in range(7)]),
        user("r0", "a1", [result("t0", "x", is_error=True)]),
        user("r1", "a1", [result("t1", "x", is_error=False)]),
        user("r2", "a1", [result("t2", "x")]),
        user("r3", "a1", [result("t3", "x", is_error=None)]),
        user("r4", "a1", [result("t4", "Error: Exit code 1\nboom")], toolUseResult="Error: Exit code 1\nboom"),
        user("r5", "a1", [result("t5", "PreToolUse:Bash hook error: no", is_error=True)]),
        user("r6", "a1", [result("t6", [{"type": "text", "text": "[Request interrupted by user for tool use]"}],
                                 is_error=True)]),
    ])
    done = finished(events)
    assert [(done[f"t{i}"]["status"], done[f"t{i}"]["is_error"]) for i in range(7)] == [
        ("error", True), ("ok", False), ("ok", False), ("ok", False), ("error", True), ("denied", True),
        ("interrupted", True)]
    assert done["t6"]["output"] == "[Request interrupted by user for tool use]"


def test_big_output_is_cut_and_marked() -> None:
    big = "x" * (OUTPUT_LIMIT + 1000)
    events = convert([user("u1", None, "go"), assistant("a1", "u1", "m1", [use("t1")]),
                      user("r1", "a1", [result("t1", big)])])
    done = finished(events)["t1"]
    assert len(done["output"]) == OUTPUT_LIMIT and done["truncated"] == 1000


def test_interrupt_marker_is_a_notice_and_idle() -> None:
    marker = [{"type": "text", "text": "[Request interrupted by user]"}]
    events = convert([user("u1", None, "go"), user("u2", "u1", marker)])
    assert [e["data"]["code"] for e in kinds(events, "notice")] == ["interrupted"]
    assert [e["data"]["state"] for e in kinds(events, "state")] == ["running", "idle"]
    assert len(kinds(events, "message.user")) == 1


def test_compaction_boundary_and_summary() -> None:
    events = convert([
        {"type": "system", "subtype": "compact_boundary", "uuid": "b1", "parentUuid": None, "sessionId": SID,
         "logicalParentUuid": "x", "timestamp": ts(1), "compactMetadata": {"trigger": "auto", "preTokens": 150000}},
        user("s1", "b1", "This session is being continued… summary", 2, isCompactSummary=True),
        user("u1", "s1", "and now the real question", 3),
    ])
    (notice,) = kinds(events, "notice")
    assert notice["data"]["code"] == "compaction" and notice["data"]["pre_tokens"] == 150000
    assert [e["data"]["origin"] for e in kinds(events, "message.user")] == ["compact-summary", "prompt"]
    assert events[0]["data"]["title"] == "and now the real question"


def test_an_api_error_says_what_the_api_said_and_only_the_retries_it_knows() -> None:
    def error(n: int, **fields: object) -> dict[str, object]:
        return {"type": "system", "subtype": "api_error", "uuid": f"e{n}", "parentUuid": None, "sessionId": SID,
                "timestamp": ts(n), **fields}

    events = convert([
        user("u1", None, "go", 0),
        error(1, error={"status": 529, "error": {"type": "overloaded_error", "message": "Overloaded"}},
              retryAttempt=2, maxRetries=10),
        error(2, error={"message": "socket hang up"}),
        error(3),
    ])
    texts = [e["data"]["text"] for e in kinds(events, "notice")]
    assert texts == ["API error 529: Overloaded, retry 2/10", "API error: socket hang up", "API error"]


def test_title_skips_meta_commands_and_summaries() -> None:
    events = convert([
        user("c0", None, "<local-command-caveat>Caveat</local-command-caveat>", isMeta=True),
        user("c1", "c0", "<command-name>/model</command-name>\n<command-args>opus</command-args>"),
        user("c2", "c1", "<local-command-stdout>Set model</local-command-stdout>"),
        user("u1", "c2", [{"type": "text", "text": "Fix the parser"}]),
    ])
    assert events[0]["kind"] == "session.started" and events[0]["data"]["title"] == "Fix the parser"
    shown = [(e["data"]["origin"], e["data"]["text"]) for e in kinds(events, "message.user")]
    assert shown[:3] == [("meta", "<local-command-caveat>Caveat</local-command-caveat>"),
                         ("command", "/model opus"), ("command-output", "Set model")]


def test_rewind_marks_the_abandoned_branch_once() -> None:
    events = convert([
        user("u1", None, "first", 1),
        assistant("a1", "u1", "m1", [{"type": "text", "text": "answer 1"}], 2),
        user("u2", "a1", "second", 3),
        assistant("a2", "u2", "m2", [use("t1")], 4),
        user("r2", "a2", [result("t1")], 5),
        user("u2b", "a1", "second, edited", 6),  # rewound to after a1
        assistant("a3", "u2b", "m3", [{"type": "text", "text": "answer 2b"}], 7),
        user("u3", "a3", "third", 8),
    ])
    (rewind,) = [e for e in kinds(events, "notice") if e["data"]["code"] == "rewind"]
    assert rewind["data"]["fork"] == "a1"
    assert rewind["data"]["abandoned"] == ["u2", "a2", "r2"]
    assert rewind["data"]["abandoned_calls"] == ["t1"]
    assert events.index(rewind) < events.index(next(e for e in events if e["id"] == "cc:u2b:0"))
    assert [e["data"]["text"] for e in kinds(events, "message.user")] == ["first", "second", "second, edited", "third"]


def test_parallel_results_hanging_off_tool_lines_are_no_rewind() -> None:
    events = convert([
        user("u1", None, "go"),
        assistant("a1", "u1", "m1", [use("t1")]),
        assistant("a2", "a1", "m1", [use("t2")]),
        user("r1", "a1", [result("t1")]),
        user("r2", "a2", [result("t2")]),
        assistant("a3", "r2", "m2", [{"type": "text", "text": "done"}]),
        user("u2", "a3", "next"),
    ])
    assert not [e for e in kinds(events, "notice") if e["data"]["code"] == "rewind"]


def test_unknown_types_garbage_and_non_objects_become_raw() -> None:
    odd = {"type": "brand-new-record", "sessionId": SID, "payload": [1, 2]}
    events = convert([user("u1", None, "go"), odd, b"{not json", b"[1, 2]", b"", b"   "])
    raws = kinds(events, "raw")
    assert [r["data"]["record"] for r in raws] == [odd, "{not json", [1, 2]]
    assert "brand-new-record" in raws[0]["data"]["error"]


def test_bookkeeping_records_of_2_1_33x_are_not_conversation() -> None:
    blob = {"type": "api-request-blob", "sessionId": SID, "hash": "h",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "x"}, use("t1", "Agent")]}}
    events = convert([
        user("u1", None, "go"),
        {"type": "api-request-shape", "sessionId": SID, "shapeHash": "h", "shape": {"system": []}},
        blob,
        {"type": "api-request", "sessionId": SID, "id": "r", "params": {"model": "claude-y"}},
        {"type": "tools-used", "tools": ["Agent"], "sessionId": SID},
        {"type": "atis-latch", "atis": "", "sessionId": SID},
        {"type": "last-prompt", "lastPrompt": "go", "leafUuid": "u1", "sessionId": SID},
    ])
    assert [e["kind"] for e in events] == ["session.started", "message.user", "state"]


def test_cost_state_is_cumulative_and_not_counted_twice() -> None:
    cost = {"type": "cost-state", "sessionId": SID, "totalCostUSD": 0.5, "hasUnknownModelCost": False,
            "modelUsage": {"claude-x": {"inputTokens": 10, "outputTokens": 5, "cacheReadInputTokens": 0,
                                        "cacheCreationInputTokens": 0, "costUSD": 0.5}}}
    events = convert([user("u1", None, "go"), assistant("a1", "u1", "m1", [{"type": "text", "text": "hi"}]), cost])
    usage = kinds(events, "usage")
    assert [u["data"].get("cumulative", False) for u in usage] == [False, True]
    assert usage[1]["data"]["cost_usd"] == 0.5 and usage[1]["data"]["model"] == "claude-x"
    assert usage_totals(events) == [10, 5, 0, 0]


def test_newer_version_gets_one_notice() -> None:
    newer = [dict(user(f"u{i}", None, f"p{i}"), version="2.1.400") for i in range(3)]
    notices = [e for e in kinds(convert(newer), "notice") if e["data"]["code"] == "newer-version"]
    assert len(notices) == 1 and "2.1.400" in notices[0]["data"]["text"]
    assert not [e for e in kinds(convert([user("u1", None, "p")]), "notice")]


def test_events_wait_for_the_session_id() -> None:
    events = convert([
        {"type": "file-history-snapshot", "messageId": "x", "snapshot": {}, "isSnapshotUpdate": False},
        {"type": "summary", "summary": "Earlier work", "leafUuid": "zz"},
        user("u1", None, "go"),
    ], Path("/nowhere/other-name.jsonl"))
    assert events[0]["kind"] == "session.started"
    assert {e["session"] for e in events} == {SID}
    assert kinds(events, "notice")[0]["data"]["text"] == "Earlier work"


def test_a_file_without_session_ids_falls_back_to_its_name() -> None:
    events = convert([{"type": "summary", "summary": "s"}], Path("/p/abc.jsonl"))
    assert [e["kind"] for e in events] == ["session.started", "notice"]
    assert {e["session"] for e in events} == {"abc"}


# --- subagents in every layout ----------------------------------------------------------------


def write(path: Path, recs: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def test_subagent_layouts_and_links(tmp_path: Path) -> None:
    project = tmp_path / "-w"
    main = write(project / f"{SID}.jsonl", [
        user("u1", None, "go"),
        assistant("a1", "u1", "m1", [use("tA", "Task", prompt="count", description="d", subagent_type="gp"),
                                     use("tB", "Agent", prompt="list")]),
        user("r1", "a1", [result("tA", "done\nagentId: aaa1 (use SendMessage)")]),
        user("r2", "a1", [result("tB", "done")], toolUseResult={"status": "completed", "agentId": "bbb2"}),
    ])
    nested = write(project / SID / "subagents" / "agent-aaa1.jsonl",
                   [dict(user("s1", None, "count", isSidechain=True), agentId="aaa1")])
    (project / SID / "subagents" / "agent-aaa1.meta.json").write_text(json.dumps({"toolUseId": "tA"}))
    beside = write(project / "agent-bbb2.jsonl", [dict(user("s2", None, "list", isSidechain=True), agentId="bbb2")])
    write(project / "agent-ccc3.jsonl", [dict(user("s3", None, "x"), sessionId="another-session")])
    assert subagent_files(main) == [nested, beside]
    assert subagent_files(nested) == []

    parent = file_events(main)
    links = {(e["data"]["agent_id"], e["data"]["parent_call_id"]) for e in kinds(parent, "agent.started")}
    assert links == {("aaa1", "tA"), ("bbb2", "tB")}
    assert {e["data"]["agent_id"] for e in kinds(parent, "agent.finished")} == {"aaa1", "bbb2"}
    first = file_events(nested)[0]
    assert (first["agent"], first["data"]["parent_call_id"], first["session"]) == ("aaa1", "tA", SID)
    first = file_events(beside)[0]
    assert (first["agent"], first["data"]["parent_call_id"], first["session"]) == ("bbb2", None, SID)


def test_in_file_sidechains_link_by_prompt_and_wait_as_orphans() -> None:
    side: dict[str, Any] = {"isSidechain": True}
    events = convert([
        user("u1", None, "go"),
        user("o1", None, "orphan task", **side),  # before any Task call
        assistant("a1", "u1", "m1", [use("t1", "Task", prompt="first task"), use("t2", "Task", prompt="orphan task")]),
        user("s1", None, "first task", **side),
        assistant("s2", "s1", "m2", [use("g1", "Grep")], **side),
        user("s3", "s2", [result("g1")], **side),
        user("r1", "a1", [result("t1", "found")]),
    ])
    starts = kinds(events, "agent.started")
    by_agent = defaultdict(set)
    for e in starts:
        by_agent[e["data"]["agent_id"]].add(e["data"]["parent_call_id"])
    grep = kinds(events, "tool.started")[-1]
    assert grep["data"]["name"] == "Grep" and by_agent[grep["agent"]] == {"t1"}
    orphan = next(e["agent"] for e in kinds(events, "message.user") if e["data"]["text"] == "orphan task")
    assert by_agent[orphan] == {None, "t2"}
    assert [e["agent"] for e in kinds(events, "agent.finished")] == [grep["agent"]]


def test_a_hook_outcome_reads_as_one_line_not_its_empty_reply() -> None:
    from watchkeeper.adapters.claude_code.records import attachment_notice

    quiet = {"type": "hook_success", "hookName": "PreToolUse:Bash", "content": "", "stdout": "{}", "stderr": ""}
    assert attachment_notice(quiet) == ("attachment.hook_success", "PreToolUse:Bash hook ok")
    said = {"type": "hook_non_blocking_error", "hookName": "Stop", "stderr": "connection refused", "stdout": ""}
    assert attachment_notice(said) == ("attachment.hook_non_blocking_error",
                                       "Stop hook non blocking error: connection refused")


def test_session_started_carries_the_observe_only_capabilities() -> None:
    """The converter writes ``OBSERVE_ONLY`` out as a literal (so it starts without pydantic): the two agree."""
    from watchkeeper.protocol import OBSERVE_ONLY

    conv = ClaudeCodeConverter(CC_FIXTURES / "-home-dev-project" / "78d01735-0000-49d5-a966-000000000197.jsonl")
    with open(conv.path, "rb") as f:  # type: ignore[arg-type]
        events = [e for line in f for e in conv.feed(line)] + conv.finish()
    started = next(e for e in events if e["kind"] == "session.started")
    assert started["data"]["capabilities"] == OBSERVE_ONLY.model_dump()
    assert started["data"]["profile"]["observability"] == OBSERVE_ONLY.model_dump()
