"""The Codex rollout adapter: rollouts of each version (0.77, 0.104 and 0.129 hand-made in tests/fixtures,
0.171 recorded from the real CLI; the corpus suite adds real ones) and small inline records for each shape.
Expected figures are computed here from the raw JSON, independently of the adapter."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import codex_rollouts

from watchkeeper.adapters.codex import CodexConverter
from watchkeeper.adapters.codex.hooks import normalized
from watchkeeper.adapters.registry import detect
from watchkeeper.protocol import validate_event

CALL_RECORDS = {"function_call", "custom_tool_call", "local_shell_call", "web_search_call"}
OUTPUT_RECORDS = {"function_call_output", "custom_tool_call_output"}
EXIT_TEXT = re.compile(r"^(?:Process exited with code|Exit code:)\s*(-?\d+)", re.MULTILINE)


def convert_bytes(data: bytes, path: Path | None = None) -> list[dict[str, Any]]:
    conv = CodexConverter(path)
    events: list[Any] = []
    offset = 0
    for line in data.splitlines(keepends=True):
        events += conv.feed(line.rstrip(b"\r\n"), offset)
        offset += len(line)
    events += conv.finish()
    return events


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def payload_types(recs: list[dict[str, Any]], top: str) -> list[dict[str, Any]]:
    return [r["payload"] for r in recs if r.get("type") == top]


def last_total(recs: list[dict[str, Any]]) -> dict[str, int]:
    """The thread's last cumulative usage, from whichever record the version writes."""
    total: dict[str, int] = {}
    for r in recs:
        p = r["payload"]
        if r["type"] == "event_msg" and p.get("type") == "token_count" and p.get("info"):
            total = p["info"]["total_token_usage"]
        elif r["type"] == "token_usage_record" and p.get("thread_token_usage"):
            total = p["thread_token_usage"]
    return total


def exit_codes(recs: list[dict[str, Any]]) -> dict[str, set[int]]:
    """Every exit code the file records for each call, in any of the three conventions."""
    codes: dict[str, set[int]] = {}
    for r in recs:
        p = r["payload"]
        if r["type"] == "event_msg" and p.get("type") == "item_completed":
            item = p["item"]
            if item.get("type") == "CommandExecution" and item.get("exit_code") is not None:
                codes.setdefault(item["id"], set()).add(item["exit_code"])
        if r["type"] == "response_item" and p.get("type") in OUTPUT_RECORDS and isinstance(p["output"], str):
            out = p["output"]
            try:
                code = json.loads(out)["metadata"]["exit_code"]
            except (ValueError, KeyError, TypeError):
                m = EXIT_TEXT.search(out[:600])
                code = int(m.group(1)) if m else None
            if code is not None:
                codes.setdefault(p["call_id"], set()).add(code)
    return codes


# --- real rollouts ------------------------------------------------------------------


@pytest.mark.parametrize("path", codex_rollouts(), ids=lambda p: p.name[:40])
def test_rollout_converts(path: Path) -> None:
    check_rollout_converts(path)


@pytest.mark.corpus
def test_every_corpus_rollout_converts(samples: Path) -> None:
    files = sorted((samples / "codex").glob("*.jsonl"))
    assert files
    for path in files:
        try:
            check_rollout_converts(path)
        except AssertionError as e:
            raise AssertionError(f"{path.name}: {e}") from e


def test_the_repository_holds_every_rollout_version() -> None:
    versions = {records(p)[0]["payload"]["cli_version"].split("-")[0] for p in codex_rollouts()}
    assert {"0.77.0", "0.104.0", "0.129.0", "0.171.0"} <= versions
    items = {r["payload"].get("type") for p in codex_rollouts() for r in records(p) if r["type"] == "response_item"}
    assert {"function_call", "custom_tool_call", "web_search_call", "reasoning", "message"} <= items


def check_rollout_converts(path: Path) -> None:
    recs = records(path)
    events = convert_bytes(path.read_bytes(), path)
    kinds = Counter(e["kind"] for e in events)

    assert not [e for e in events if e["kind"] == "raw"], "every record type in a real rollout is understood"
    for e in events:
        validate_event(e)
    assert kinds["session.started"] == 1 and events[0]["kind"] == "session.started"
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), "the relay drops repeated ids, so none may repeat by accident"

    items = payload_types(recs, "response_item")
    calls = [p for p in items if p.get("type") in CALL_RECORDS]
    started = [e for e in events if e["kind"] == "tool.started"]
    assert len(started) == len(calls)
    finished = Counter(e["data"]["call_id"] for e in events if e["kind"] == "tool.finished")
    for call_id in {p["call_id"] for p in items if p.get("type") in OUTPUT_RECORDS}:
        assert finished[call_id] == 1, call_id
    assert max(finished.values(), default=1) == 1
    assert set(finished) <= {e["data"]["call_id"] for e in started}

    status = {e["data"]["call_id"]: e["data"]["status"] for e in events if e["kind"] == "tool.finished"}
    for call_id, codes in exit_codes(recs).items():
        assert status[call_id] == ("ok" if codes == {0} else "error"), (call_id, codes)

    total = last_total(recs)
    usage = [e["data"] for e in events if e["kind"] == "usage"]
    summed = Counter()
    for u in usage:
        summed.update({k: v for k, v in u.items() if k.endswith("_tokens")})
    assert (
        summed["input_tokens"] + summed["cache_read_tokens"] + summed["cache_creation_tokens"]
        == (total["input_tokens"])
    )
    assert summed["cache_read_tokens"] == total["cached_input_tokens"]
    assert summed["output_tokens"] == total["output_tokens"]
    assert summed["reasoning_tokens"] == total["reasoning_output_tokens"]

    prompts = [p["message"] for p in payload_types(recs, "event_msg") if p.get("type") == "user_message"]
    prompts += [
        "".join(c["text"] for c in p["item"]["content"] if c.get("type") == "text")
        for p in payload_types(recs, "event_msg")
        if p.get("type") == "item_completed" and p["item"].get("type") == "UserMessage"
    ]
    assert events[0]["data"]["title"] == " ".join(prompts[0].split())[:200]
    assert [e["data"]["text"] for e in events if e["kind"] == "message.user"] == prompts
    assert events[0]["data"]["version"] == recs[0]["payload"]["cli_version"]

    # Every version here writes the model's own copy of each text (response items): one event per copy.
    said = [p for p in items if p.get("type") == "message" and p.get("role") == "assistant"]
    assert kinds["message.assistant"] == len(said)
    reasoning = [p for p in items if p.get("type") == "reasoning"]
    parts = [
        len([s for s in (p.get("summary") or []) + (p.get("content") or []) if s["text"].strip()])
        for p in reasoning
    ]
    assert kinds["thinking"] == sum(max(1, n) for n in parts)

    assert [e["id"] for e in convert_bytes(path.read_bytes(), path)] == ids


def test_registry_reads_rollouts_with_this_adapter() -> None:
    path = codex_rollouts()[0]
    spec = detect(path)
    assert spec is not None and spec.agent_kind == "codex"
    assert isinstance(spec.converter(path), CodexConverter)


# --- inline records -----------------------------------------------------------------

SID = "019a0000-0000-7000-8000-000000000001"


def line(kind: str, payload: dict[str, Any], ts: str = "2026-05-01T10:00:00.000Z") -> bytes:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}).encode()


def ri(kind: str, /, **fields: Any) -> bytes:
    return line("response_item", {"type": kind, **fields})


def ev(kind: str, /, **fields: Any) -> bytes:
    return line("event_msg", {"type": kind, **fields})


def done(kind: str, /, **fields: Any) -> bytes:
    return ev("item_completed", item={"type": kind, **fields})


def msg(role: str, text: str, **fields: Any) -> bytes:
    part = "output_text" if role == "assistant" else "input_text"
    return ri("message", role=role, content=[{"type": part, "text": text}], **fields)


def header(prompt: str = "fix the bug", **meta: Any) -> list[bytes]:
    return [
        line("session_meta", {"id": SID, "cwd": "/w", "cli_version": "0.171.0", "source": "exec", **meta}),
        line("turn_context", {"cwd": "/w", "model": "gpt-test", "approval_policy": "never"}),
        ev("user_message", message=prompt),
    ]


def call(call_id: str, name: str = "exec_command", arguments: str = '{"cmd": "ls"}') -> bytes:
    return ri("function_call", name=name, arguments=arguments, call_id=call_id)


def output(call_id: str, out: str, kind: str = "function_call_output") -> bytes:
    return line(
        "response_item", {"type": kind, "call_id": call_id, "output": out}, "2026-05-01T10:00:01.500Z"
    )


def tokens(inp: int, cached: int, out: int) -> dict[str, int]:
    return dict(
        input_tokens=inp, cached_input_tokens=cached, cache_write_input_tokens=0,
        output_tokens=out, reasoning_output_tokens=out // 4, total_tokens=inp + out,
    )  # fmt: skip


def token_count(total: dict[str, int], last: dict[str, int] | None = None) -> bytes:
    return ev("token_count", info={"total_token_usage": total, "last_token_usage": last or total})


def convert(*lines: bytes) -> list[dict[str, Any]]:
    return convert_bytes(b"\n".join(lines) + b"\n")


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["kind"] == kind]


def test_session_started_carries_title_model_and_capabilities() -> None:
    start = convert(*header("  please\n fix   the bug  "))[0]
    assert start["kind"] == "session.started" and start["session"] == SID
    data = start["data"]
    assert (data["title"], data["model"], data["cwd"]) == ("please fix the bug", "gpt-test", "/w")
    assert (data["agent_kind"], data["version"]) == ("codex", "0.171.0")
    assert not data["capabilities"]["pause"] and "observe-only" in data["capabilities"]["why"]
    assert data["profile"]["isolation"]["permission_mode"] == "never"


def test_scaffolding_user_items_are_not_prompts() -> None:
    events = convert(
        line("session_meta", {"id": SID, "cli_version": "0.77.0"}),
        msg("user", "# AGENTS.md instructions for /w\n..."),
        msg("user", "<environment_context>x</environment_context>"),
        msg("developer", "<permissions instructions>"),
        msg("user", "what is this repo?"),
        ev("user_message", message="what is this repo?"),
        line("turn_context", {"model": "m"}),
    )
    assert [e["data"]["text"] for e in of(events, "message.user")] == ["what is this repo?"]
    assert events[0]["data"]["title"] == "what is this repo?"


def test_harness_provenance_marks_scaffolding_and_user_item_is_the_prompt() -> None:
    harness = {"content_item_metadata": [{"provenance": {"type": "harness"}}]}
    events = convert(
        line("session_meta", {"id": SID, "cli_version": "0.171.0"}),
        msg("user", "skills list", internal_chat_message_metadata_passthrough=harness),
        done("UserMessage", id="u1", content=[{"type": "text", "text": "hello"}]),
        msg("assistant", "hi"),
    )
    assert [e["data"]["text"] for e in of(events, "message.user")] == ["hello"]


def test_prompt_only_in_response_items_is_used_when_no_ui_copy_exists() -> None:
    events = convert(
        line("session_meta", {"id": SID}),
        msg("user", "# AGENTS.md instructions for /w\n<INSTRUCTIONS>be brief</INSTRUCTIONS>"),
        msg("user", "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"),
        msg("user", "<user_instructions>x</user_instructions>"),
        msg("user", "do X"),
        msg("assistant", "ok"),
    )
    assert [e["kind"] for e in events] == ["session.started", "message.user", "message.assistant"]
    assert events[0]["data"]["title"] == "do X"


def test_output_convention_07x_json_metadata() -> None:
    ok = '{"output":"a\\nb\\n","metadata":{"exit_code":0,"duration_seconds":0.4}}'
    bad = '{"output":"boom\\n","metadata":{"exit_code":2,"duration_seconds":0.1}}'
    events = convert(*header(), call("c1", "shell", '{"command":["ls"]}'), output("c1", ok))
    events += convert(*header(), call("c2", "shell"), output("c2", bad))
    fin = {e["data"]["call_id"]: e["data"] for e in of(events, "tool.finished")}
    assert (fin["c1"]["status"], fin["c1"]["output"], fin["c1"]["duration_ms"]) == ("ok", "a\nb\n", 400)
    assert (fin["c2"]["status"], fin["c2"]["is_error"], fin["c2"]["exit_code"]) == ("error", True, 2)
    assert of(events, "tool.started")[0]["data"]["input"] == {"command": ["ls"]}


def test_output_convention_0104_plain_text() -> None:
    events = convert(
        *header(),
        call("c1"),
        output("c1", "Exit code: 1\nWall time: 0.2 seconds\nOutput:\nno such file\n"),
        call("c2"),
        output("c2", "Chunk ID: ab\nWall time: 0.0100 seconds\nProcess exited with code 0\nOutput:\nok\n"),
        call("c3"),
        output("c3", "Success. Updated the following files:\nM a.py\n"),
    )
    fin = {e["data"]["call_id"]: e["data"] for e in of(events, "tool.finished")}
    assert (fin["c1"]["status"], fin["c1"]["exit_code"], fin["c1"]["duration_ms"]) == ("error", 1, 200)
    assert (fin["c2"]["status"], fin["c2"]["exit_code"]) == ("ok", 0)
    assert fin["c2"]["output"].endswith("Output:\nok\n")
    assert fin["c3"]["status"] == "ok" and "exit_code" not in fin["c3"]


def test_output_convention_0171_item_completed_wins_and_finishes_once() -> None:
    text = "Chunk ID: 1\nWall time: 0.0 seconds\nProcess exited with code 1\nOutput:\ncat: x: No such file\n"
    events = convert(
        *header(),
        call("c1", arguments='{"cmd": "cat x"}'),
        ev(
            "item_completed",
            started_at_ms=1,
            completed_at_ms=9,
            item={
                "type": "CommandExecution",
                "id": "c1",
                "command": ["/bin/bash", "-lc", "cat x"],
                "status": "failed",
                "aggregated_output": "cat: x: No such file\n",
                "exit_code": 1,
                "duration": {"secs": 0, "nanos": 5_000_000},
            },
        ),
        output("c1", text),
    )
    fin = of(events, "tool.finished")
    assert len(fin) == 1 and fin[0]["id"] == "tool:c1:finished"
    data = fin[0]["data"]
    assert (data["status"], data["exit_code"], data["duration_ms"]) == ("error", 1, 5.0)
    assert data["output"] == "cat: x: No such file\n"
    started = of(events, "tool.started")
    assert started[0]["id"] == "tool:c1:started" and started[0]["data"]["input"] == {"cmd": "cat x"}


def test_declined_command_is_denied() -> None:
    events = convert(
        *header(), call("c1"), done("CommandExecution", id="c1", command=["rm"], status="declined")
    )
    assert of(events, "tool.finished")[0]["data"]["status"] == "denied"


def test_arguments_that_are_not_json_are_kept_as_text() -> None:
    events = convert(*header(), call("c1", arguments="[REDACTED_ARGUMENTS len=12]"))
    assert of(events, "tool.started")[0]["data"]["input"] == "[REDACTED_ARGUMENTS len=12]"


def test_custom_tool_call_apply_patch() -> None:
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n-x\n+y\n*** End Patch"
    result = '{"output":"Success. Updated a.py\\n","metadata":{"exit_code":0,"duration_seconds":0.0}}'
    events = convert(
        *header(),
        ri("custom_tool_call", status="completed", call_id="p1", name="apply_patch", input=patch),
        output("p1", result, "custom_tool_call_output"),
    )
    started, fin = of(events, "tool.started")[0]["data"], of(events, "tool.finished")[0]["data"]
    assert (started["name"], started["input"]) == ("apply_patch", patch)
    assert (fin["status"], fin["output"]) == ("ok", "Success. Updated a.py\n")


def test_web_search_without_call_id_gets_a_stable_id_and_local_shell_pairs() -> None:
    lines = [
        *header(),
        ri("web_search_call", status="completed", action={"type": "search", "query": "textual"}),
        ri("local_shell_call", call_id="ls1", status="completed", action={"type": "exec", "command": ["ls"]}),
        output("ls1", '{"output":"x\\n","metadata":{"exit_code":0,"duration_seconds":0.1}}'),
    ]
    events = convert(*lines)
    started = of(events, "tool.started")
    assert [s["data"]["name"] for s in started] == ["web_search", "local_shell"]
    assert started[0]["data"]["input"] == {"type": "search", "query": "textual"}
    assert len(of(events, "tool.finished")) == 2
    assert [e["id"] for e in convert(*lines)] == [e["id"] for e in events]


def test_token_count_repeats_are_not_double_counted() -> None:
    events = convert(
        *header(),
        ev("token_count", info=None),
        token_count(tokens(1000, 400, 50)),
        token_count(tokens(1000, 400, 50)),
        token_count(tokens(1000, 400, 50)),
        token_count(tokens(2500, 1400, 90)),
        token_count(tokens(2500, 1400, 90)),
    )
    usage = [e["data"] for e in of(events, "usage")]
    assert len(usage) == 2
    assert sum(u["input_tokens"] for u in usage) == 2500 - 1400
    assert sum(u["cache_read_tokens"] for u in usage) == 1400
    assert sum(u["output_tokens"] for u in usage) == 90
    assert usage[0]["model"] == "gpt-test"


@pytest.mark.parametrize("with_thread_totals", [True, False])
def test_token_usage_record_and_token_count_together_count_once(with_thread_totals: bool) -> None:
    def record(resp: str, usage: dict[str, int], thread: dict[str, int]) -> bytes:
        totals = {"thread_token_usage": thread} if with_thread_totals else {}
        return line("token_usage_record", {"response_id": resp, "turn_id": "t", "usage": usage, **totals})

    first, second, both = tokens(2200, 1500, 80), tokens(3000, 2500, 40), tokens(5200, 4000, 120)
    events = convert(
        *header(),
        record("r1", first, first),
        token_count(first),
        record("r2", second, both),
        token_count(both, second),
        token_count(both, second),
    )
    usage = [e["data"] for e in of(events, "usage")]
    assert [u["message_id"] for u in usage] == ["r1", "r2"]
    assert sum(u["input_tokens"] + u["cache_read_tokens"] for u in usage) == 5200
    assert sum(u["output_tokens"] for u in usage) == 120
    assert sum(u["reasoning_tokens"] for u in usage) == both["reasoning_output_tokens"]


def test_turn_boundaries_and_an_aborted_turn() -> None:
    events = convert(
        *header(),
        ev("task_started", turn_id="t1"),
        ev("task_complete", turn_id="t1", last_agent_message="done"),
        ev("task_started", turn_id="t2"),
        call("c9", arguments='{"cmd": "sleep 100"}'),
        ev("turn_aborted", turn_id="t2", reason="interrupted"),
    )
    assert [e["data"]["state"] for e in of(events, "state")] == ["running", "idle", "running", "idle"]
    assert [e["data"]["text"] for e in of(events, "message.assistant")] == ["done"]
    fin = of(events, "tool.finished")
    assert len(fin) == 1 and fin[0]["data"]["status"] == "interrupted"
    notice = of(events, "notice")
    assert len(notice) == 1 and notice[0]["data"]["code"] == "codex.turn_aborted"


def test_sub_agent_activity_and_parent_link() -> None:
    def activity(kind: str) -> bytes:
        return ev(
            "sub_agent_activity", event_id=kind, agent_thread_id="child-1", agent_path="/root/x", kind=kind
        )

    events = convert(*header(), activity("started"), activity("interacted"), activity("interrupted"))
    assert of(events, "agent.started")[0]["data"]["agent_id"] == "child-1"
    assert of(events, "agent.finished")[0]["data"]["status"] == "interrupted"
    assert of(events, "notice")[0]["data"]["code"] == "codex.sub_agent"

    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": "parent-9", "agent_nickname": "Ada"}}}
    child = convert(*header(source=spawn))[0]["data"]
    assert (child["parent_session"], child["agent_nickname"]) == ("parent-9", "Ada")
    assert child["profile"]["coordination"] == "orchestrated"
    forked = convert(*header(forked_from_id="old-1", parent_thread_id="parent-2"))[0]["data"]
    assert (forked["parent_session"], forked["forked_from"]) == ("parent-2", "old-1")


def test_messages_between_agents_are_told_by_who_sent_them() -> None:
    """Multi-agent v2 writes a message between agents into the rollout of the thread it reaches."""
    def agent_message(author: str, text: str, *parts: dict[str, Any]) -> bytes:
        return ri("agent_message", author=author, recipient="/root",
                  content=[{"type": "input_text", "text": text}, *parts])

    envelope = "Message Type: FINAL_ANSWER\nTask name: /root\nSender: /root/x\nPayload:\n"
    hostile = "/root/\x1b]0;owned\x07[bold]y"
    events = convert(
        *header(),
        done("SubAgentActivity", id="call_spawn", kind="started", agent_thread_id="child-1", agent_path="/root/x"),
        agent_message("/root/x", envelope + "all done"),
        agent_message(hostile, "no envelope here"),
        agent_message("/root/z", envelope, {"type": "encrypted_content", "encrypted_content": "gAAAA"}),
        agent_message("/root/z", ""),
        line("inter_agent_communication_metadata", {"trigger_turn": False}),
    )
    assert of(events, "raw") == []
    (answer,) = [e for e in of(events, "message.assistant") if e["agent"] == "child-1"]
    assert (answer["data"]["text"], answer["data"]["message_type"]) == ("all done", "FINAL_ANSWER")
    from_others = [(e["agent"], e["data"]["origin"], e["data"]["text"]) for e in of(events, "message.user")][1:]
    assert from_others == [("main", f"agent {hostile}", "no envelope here"),
                           ("main", "agent /root/z", "(encrypted)")]  # the ciphertext is never shown
    assert all(validate_event(e) for e in events)


def test_a_sub_agents_session_is_titled_by_its_name_and_path() -> None:
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": "p", "agent_path": "/root/x", "agent_nickname": "Ada"}}}
    events = convert(line("session_meta", {"id": SID, "cwd": "/w", "cli_version": "0.171.0", "source": spawn}),
                     line("turn_context", {"cwd": "/w", "model": "gpt-test"}), ri("reasoning", summary=[]))
    assert of(events, "session.started")[0]["data"]["title"] == "Ada (/root/x)"


def test_a_namespaced_call_is_named_as_codexs_hooks_name_it() -> None:
    """A breakpoint written from the timeline must match the hook's name for the same call, and back."""
    def namespaced(call_id: str, namespace: str, name: str) -> bytes:
        return ri("function_call", name=name, namespace=namespace, arguments="{}", call_id=call_id)

    events = convert(*header(), namespaced("c1", "mcp__touch", "touch"), namespaced("c2", "mcp__x__", "y"),
                     namespaced("c3", "collaboration", "spawn_agent"))
    assert [e["data"]["name"] for e in of(events, "tool.started")] == [
        "mcp__touch__touch", "mcp__x__y", "collaboration.spawn_agent"]
    assert [normalized({"tool_name": n})["tool_name"] for n in (
        "collaborationspawn_agent", "collaboration.wait_agent", "collaboration", "Bash", "mcp__touch__touch")] == [
        "collaboration.spawn_agent", "collaboration.wait_agent", "collaboration", "Bash", "mcp__touch__touch"]


def test_compaction_is_one_notice() -> None:
    events = convert(
        *header(),
        line("compacted", {"message": "summary of the work", "replacement_history": []}),
        ev("context_compacted"),
    )
    notices = of(events, "notice")
    assert len(notices) == 1 and notices[0]["data"]["summary"] == "summary of the work"


def test_mirrored_texts_are_shown_once() -> None:
    summary = [{"type": "summary_text", "text": "**Plan** look first"}]
    events = convert(
        *header(),
        ev("agent_reasoning", text="**Plan** look first"),
        ri("reasoning", summary=summary, encrypted_content="gAAA"),
        ri("reasoning", summary=[], encrypted_content="gAAB"),
        ev("agent_message", message="Looking."),
        msg("assistant", "Looking."),
        done("AgentMessage", id="m2", content=[{"type": "Text", "text": "Done."}]),
        msg("assistant", "Done.", id="m2"),
    )
    thinking = [(e["data"]["text"], e["data"]["hidden"]) for e in of(events, "thinking")]
    assert thinking == [("**Plan** look first", False), ("", True)]
    assert [e["data"]["text"] for e in of(events, "message.assistant")] == ["Looking.", "Done."]


def test_world_state_and_thread_settings_are_bookkeeping() -> None:
    events = convert(
        line("session_meta", {"id": SID}),
        line("world_state", {"full": True, "state": {"model": "from-world", "agents_md": {}}}),
        ev("thread_settings_applied", thread_settings={"model": "from-settings"}),
        done("UserMessage", id="u", content=[{"type": "text", "text": "go"}]),
    )
    assert [e["kind"] for e in events] == ["session.started", "message.user"]
    assert events[0]["data"]["model"] == "from-settings"


def test_unknown_types_become_raw_with_the_record_kept() -> None:
    unknown = [
        line("brand_new_record", {"x": 1}),
        ev("brand_new_event"),
        ri("brand_new_item"),
        done("BrandNew"),
        ri("message", role="critic", content=[{"type": "output_text", "text": "a role never seen"}]),
    ]
    known = [ri("message", role=role, content=[{"type": "input_text", "text": "context"}])
             for role in ("developer", "system")]
    raws = of(convert(*header(), *unknown, *known), "raw")
    assert len(raws) == 5, "a message of a role not known is kept raw; developer and system context is not shown"
    assert raws[4]["data"]["record"]["payload"]["role"] == "critic"
    assert raws[0]["data"]["record"]["payload"] == {"x": 1}
    assert "brand_new_event" in raws[1]["data"]["error"]
    assert raws[3]["data"]["error"] == "unknown item_completed item type 'BrandNew'"
    assert raws[3]["data"]["record"]["payload"]["item"]["type"] == "BrandNew"
    assert all(r["session"] == SID for r in raws)


def test_an_item_completed_says_which_item_it_did_not_know() -> None:
    raws = of(convert(*header(), ev("item_completed", item={"id": "x"}), ev("item_completed", item=[1])), "raw")
    assert [r["data"]["error"] for r in raws] == ["an item_completed whose item has no type"] * 2
    assert raws[0]["data"]["record"]["payload"]["item"] == {"id": "x"}


def test_garbage_never_raises_and_becomes_raw() -> None:
    garbage = [
        b"{not json",
        b"\x00\xff\xfe garbage",
        b"[1, 2]",
        b'{"type": "event_msg", "payload": 7}',
        b'"s"',
    ]
    events = convert(*header(), *garbage)
    for e in events:
        validate_event(e)
    raws = of(events, "raw")
    assert len(raws) == len(garbage)
    assert raws[0]["data"]["record"] == "{not json" and raws[0]["data"]["error"].startswith("not JSON")
    assert len({r["id"] for r in raws}) == len(raws)
    twice = convert(*header(), b"{not json", b"{not json")
    assert len({e["id"] for e in of(twice, "raw")}) == 2, "two identical bad lines are two events"


def test_any_truncation_of_real_lines_never_raises() -> None:
    path = codex_rollouts()[0]
    lines = path.read_bytes().splitlines()[:12]
    for ln in lines:
        for cut in range(0, len(ln), max(1, len(ln) // 25)):
            conv = CodexConverter(path)
            for prior in lines[:3]:
                conv.feed(prior, 0)
            events = conv.feed(ln[:cut], 0) + conv.finish()
            assert not [e for e in events if "adapter error" in str(e["data"].get("error"))]


def test_converting_twice_yields_the_same_ids() -> None:
    lines = [
        *header(),
        call("c1"),
        output("c1", "Exit code: 0\nOutput:\n"),
        b"junk",
        ev("agent_message", message="k"),
    ]
    first, second = convert(*lines), convert(*lines)
    assert [e["id"] for e in first] == [e["id"] for e in second]
    assert len({e["id"] for e in first}) == len(first)


def test_huge_output_is_cut_and_marked() -> None:
    big = "x" * (300 * 1024)
    data = of(convert(*header(), call("c1"), output("c1", big)), "tool.finished")[0]["data"]
    assert len(data["output"].encode()) == 256 * 1024 and data["truncated"] == len(big) - 256 * 1024


def test_session_without_prompt_still_starts_at_finish() -> None:
    events = convert(line("session_meta", {"id": SID, "cwd": "/w"}))
    assert [e["kind"] for e in events] == ["session.started"]
    assert events[0]["data"]["title"] is None and events[0]["id"].startswith(f"cx:{SID}:")
