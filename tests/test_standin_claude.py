"""The Messages API stand-in on its own, then the real Claude Code CLI run offline against it.

The CLI tests check that what the CLI wrote is exactly what the script said: the scripted tool calls and
their results, the failing Bash as an error, the subagent in its own file linked to its parent call, and
the tool results sent back to the stand-in.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import CLAUDE_VERSIONS
from standins.anthropic import ScriptedAnthropic, text, thinking, tool_use
from standins.claude import (
    DEMO_PROMPT,
    SUBAGENT_KEY,
    ClaudeRun,
    demo_api,
    read_jsonl,
    run_claude,
    start_claude,
)
from waiting import until

T = TypeVar("T")


def _post(url: str, body: Any, path: str = "/v1/messages") -> tuple[int, bytes]:
    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _sse(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in data.decode().splitlines() if line.startswith("data: ")]


TOOLS = [{"name": "Agent", "input_schema": {}}, {"name": "Bash", "input_schema": {}}]


def _conversation(n_assistant: int, first: str = "hi") -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": first}]
    for _ in range(n_assistant):
        messages += [{"role": "assistant", "content": "..."}, {"role": "user", "content": "go on"}]
    return messages


def test_stream_follows_script_by_turn() -> None:
    script = [[thinking("plan"), tool_use("Bash", {"command": "ls -la"})], [text("all done")]]
    with ScriptedAnthropic(script) as api:
        _, first = _post(
            api.url, {"model": "m", "stream": True, "tools": TOOLS, "messages": _conversation(0)}
        )
        _, second = _post(
            api.url, {"model": "m", "stream": True, "tools": TOOLS, "messages": _conversation(1)}
        )
    events = _sse(first)
    assert [e["type"] for e in events][:2] == ["message_start", "ping"]
    assert events[-1]["type"] == "message_stop"
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in starts] == ["thinking", "tool_use"]
    assert starts[1]["id"] == "toolu_01"
    partial = "".join(
        e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta"
    )
    assert json.loads(partial) == {"command": "ls -la"}
    deltas = "".join(e["delta"].get("text", "") for e in _sse(second) if e["type"] == "content_block_delta")
    assert deltas == "all done"
    assert [r.turn for r in api.requests] == [0, 1]


def test_side_requests_and_subagents_do_not_consume_the_script() -> None:
    script = [[text("main answer")]]
    with ScriptedAnthropic(script, subagents={"SUBTASK": [[text("sub answer")]]}) as api:
        _, side = _post(api.url, {"model": "haiku", "messages": _conversation(0, "Write a title")})
        _, sub = _post(
            api.url, {"model": "m", "tools": TOOLS, "messages": _conversation(0, "do SUBTASK now")}
        )
        _, main = _post(api.url, {"model": "m", "tools": TOOLS, "messages": _conversation(0)})
    assert json.loads(side)["content"] == [{"type": "text", "text": "OK."}]
    assert json.loads(sub)["content"][0]["text"] == "sub answer"
    assert json.loads(main)["content"][0]["text"] == "main answer"
    assert [r.route for r in api.requests] == ["side", "subagent:SUBTASK", "main"]
    assert len(api.requests_containing("Write a title")) == 1


def test_unknown_paths_get_404_json_and_count_tokens_answers() -> None:
    with ScriptedAnthropic([]) as api:
        status, body = _post(api.url, {"x": 1}, "/v1/nothing")
        count_status, count = _post(
            api.url, {"model": "m", "messages": _conversation(0)}, "/v1/messages/count_tokens"
        )
    assert status == 404
    assert json.loads(body)["type"] == "error"
    assert count_status == 200
    assert json.loads(count)["input_tokens"] > 0


@pytest.fixture(scope="module", params=CLAUDE_VERSIONS)
def demo_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ClaudeRun, Any]:
    base = tmp_path_factory.mktemp(f"claude-{request.param}")
    cwd, home = base / "work", base / "home"
    with demo_api(cwd) as api:
        run = run_claude(request.param, DEMO_PROMPT, api=api, cwd=cwd, home=home, timeout=90)
    return run, api


def _blocks(records: list[dict[str, Any]], record_type: str, block_type: str) -> list[dict[str, Any]]:
    return [
        block
        for r in records
        if r.get("type") == record_type and isinstance((r.get("message") or {}).get("content"), list)
        for block in r["message"]["content"]
        if block.get("type") == block_type
    ]


@pytest.mark.node
def test_cli_exits_cleanly_and_does_the_work(demo_run: tuple[ClaudeRun, Any]) -> None:
    run, _ = demo_run
    assert run.returncode == 0, run.stderr
    assert run.result is not None and run.result["subtype"] == "success"
    assert (run.cwd / "notes.txt").read_text() == "alpha\nbeta (edited)\ngamma\n"
    assert run.transcript.exists()
    init = next(m for m in run.messages if m.get("subtype") == "init")
    assert init["session_id"] == run.session_id


@pytest.mark.node
def test_transcript_holds_exactly_the_scripted_calls(demo_run: tuple[ClaudeRun, Any]) -> None:
    run, api = demo_run
    records = run.records()
    scripted = api.tool_use_ids("main")
    assert [b["id"] for b in _blocks(records, "assistant", "tool_use")] == scripted
    results = {b["tool_use_id"]: b for b in _blocks(records, "user", "tool_result")}
    assert sorted(results) == sorted(scripted)
    failing = scripted[3]
    assert results[failing]["is_error"] is True
    assert all(not results[i].get("is_error") for i in scripted if i != failing)


@pytest.mark.node
def test_subagent_has_its_own_file_linked_to_the_call(demo_run: tuple[ClaudeRun, Any]) -> None:
    run, api = demo_run
    agent_call = api.tool_use_ids("main")[4]
    (sub_file,) = run.subagent_files()
    meta = json.loads(sub_file.with_name(sub_file.stem + ".meta.json").read_text())
    assert meta["toolUseId"] == agent_call
    sub_records = read_jsonl(sub_file)
    assert [b["id"] for b in _blocks(sub_records, "assistant", "tool_use")] == api.tool_use_ids(SUBAGENT_KEY)
    assert all(r.get("isSidechain") for r in sub_records if r.get("type") in ("user", "assistant"))


@pytest.mark.node
def test_stand_in_saw_the_tool_results(demo_run: tuple[ClaudeRun, Any]) -> None:
    _, api = demo_run
    main_ids = api.tool_use_ids("main")
    for turn, call_id in enumerate(main_ids, start=1):
        (later,) = [r for r in api.requests_for("main") if r.turn == turn]
        assert call_id in {b["tool_use_id"] for b in later.tool_results()}
    assert "hello from bash" in str(api.tool_result(main_ids[0])["content"])
    assert "missing-dir" in str(api.tool_result(main_ids[3])["content"])
    assert "notes.txt has 3 lines." in str(api.tool_result(main_ids[4])["content"])
    (sub_bash,) = api.tool_use_ids(SUBAGENT_KEY)
    assert "3" in str(api.tool_result(sub_bash)["content"])
    assert [r.path for r in api.requests if r.method == "CONNECT"] == []


@pytest.mark.node
def test_transcript_can_be_read_while_the_cli_runs(tmp_path: Path) -> None:
    version = CLAUDE_VERSIONS[-1]
    cwd, home = tmp_path / "work", tmp_path / "home"
    with demo_api(cwd) as api:
        release = api.hold(turn=2)
        with start_claude(version, DEMO_PROMPT, api=api, cwd=cwd, home=home) as process:
            api.wait_for_request("main", turn=2)
            # The CLI writes its transcript in batches, a moment after the request that follows a line.
            so_far = until(lambda: ids if len(ids := _tool_use_ids(process.transcript)) >= 2 else None,
                           what="two tool calls in the transcript", seen=lambda: _tool_use_ids(process.transcript))
            held = process.running
            release.set()
            run = process.wait(timeout=60)
    assert held
    assert so_far == api.tool_use_ids("main")[:2]
    assert run.returncode == 0, run.stderr


def _tool_use_ids(path: Path) -> list[str]:
    return [b["id"] for b in _blocks(read_jsonl(path), "assistant", "tool_use")] if path.exists() else []
