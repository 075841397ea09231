"""Claude Code hook payloads -> events, decisions -> replies, and the hook settings merge. Pure, no I/O.

Payload shapes are the ones the real CLI 2.1.332 posted to an http hook,
re-checked while writing these tests.
"""

from __future__ import annotations

import copy
from typing import Any

from watchkeeper.adapters.claude_code import hooks as H
from watchkeeper.adapters.claude_code import settings as S
from watchkeeper.protocol import validate_event

SID = "4be35e28-bfc3-4be1-ac89-d265d8f2e3f3"
COMMON = {"session_id": SID, "transcript_path": f"/h/.claude/projects/-w/{SID}.jsonl", "cwd": "/w",
          "prompt_id": "94760dae", "permission_mode": "default"}


def payload(event: str, **extra: Any) -> dict[str, Any]:
    return {**COMMON, "hook_event_name": event, **extra}


def pre(call: str = "toolu_01", **extra: Any) -> dict[str, Any]:
    return payload("PreToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_use_id=call, **extra)


def test_pre_tool_use_is_the_transcripts_tool_started() -> None:
    (ev,) = H.payload_events(pre(), "k1")
    assert ev["id"] == "tool:toolu_01:started"
    assert ev["kind"] == "tool.started" and ev["session"] == SID and ev["agent"] == "main"
    assert ev["data"] == {"call_id": "toolu_01", "name": "Bash", "input": {"command": "ls"}}
    validate_event(ev)


def test_subagent_calls_carry_the_agent_id() -> None:
    (ev,) = H.payload_events(pre(agent_id="a42", agent_type="general-purpose"), "k1")
    assert ev["agent"] == "a42"


def test_post_tool_use_finishes_the_call_with_the_shell_output() -> None:
    p = payload("PostToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_use_id="toolu_01",
                duration_ms=28, tool_response={"stdout": "a.txt", "stderr": "warn", "interrupted": False})
    (ev,) = H.payload_events(p, "k2")
    assert ev["id"] == "tool:toolu_01:finished"
    assert ev["data"]["status"] == "ok" and ev["data"]["is_error"] is False
    assert ev["data"]["output"] == "a.txt\nwarn"
    assert ev["data"]["duration_ms"] == 28.0
    assert ev["data"]["result"]["stderr"] == "warn"
    validate_event(ev)


def test_structured_responses_become_json_text_and_huge_ones_are_cut() -> None:
    write = {"type": "create", "filePath": "/w/b.txt", "content": "b" * 300_000}
    p = payload("PostToolUse", tool_name="Write", tool_input={}, tool_use_id="toolu_02", tool_response=write)
    (ev,) = H.payload_events(p, "k")
    assert ev["data"]["output"].startswith('{"type":"create"')
    assert ev["data"]["truncated"] > 0
    assert ev["data"]["result"]["filePath"] == "/w/b.txt"


def test_failure_hook_is_an_error_or_an_interrupt() -> None:
    failed = payload("PostToolUseFailure", tool_name="Bash", tool_use_id="toolu_03", error="exit 2")
    interrupted = {**failed, "is_interrupt": True}
    assert H.payload_events(failed, "k")[0]["data"]["status"] == "error"
    assert H.payload_events(interrupted, "k")[0]["data"]["status"] == "interrupted"


def test_lifecycle_hooks_become_state_notice_and_end() -> None:
    kinds = {name: H.payload_events(p, name)[0] for name, p in {
        "prompt": payload("UserPromptSubmit", prompt="go"),
        "stop": payload("Stop", stop_hook_active=False, last_assistant_message="done"),
        "end": payload("SessionEnd", reason="other"),
        "note": payload("Notification", message="Claude needs your permission", notification_type="perm"),
    }.items()}
    assert kinds["prompt"]["data"]["state"] == "running"
    assert kinds["stop"]["data"]["state"] == "idle"
    assert kinds["end"]["kind"] == "session.ended" and kinds["end"]["data"]["reason"] == "other"
    assert kinds["note"]["kind"] == "notice" and kinds["note"]["data"]["code"] == "perm"
    for ev in kinds.values():
        validate_event(ev)
    assert len({ev["id"] for ev in kinds.values()}) == 4


def test_requests_without_an_id_get_distinct_ids_by_key() -> None:
    a = H.payload_events(payload("Stop", stop_hook_active=False), "p-1")[0]
    b = H.payload_events(payload("Stop", stop_hook_active=False), "p-2")[0]
    assert a["id"] != b["id"]


def test_bad_payloads_become_raw_events_not_exceptions() -> None:
    for bad in (None, [], "text", 7, payload("Whatever"), payload("PreToolUse", tool_name="Bash")):
        (ev,) = H.payload_events(bad, "k")
        assert ev["kind"] == "raw"
        assert ev["data"]["record"] == bad
        validate_event(ev)


def test_announce_says_the_session_is_steerable() -> None:
    ev = H.announce(pre())
    assert ev["kind"] == "session.started" and ev["id"] == f"hook:{SID}:session"
    caps = ev["data"]["capabilities"]
    assert all(caps[c] for c in ("pause", "resume", "approve", "deny", "inject", "cancel", "step"))
    assert ev["data"]["cwd"] == "/w"
    validate_event(ev)


def test_waiting_and_denied_events_use_the_call_ids() -> None:
    waiting = H.waiting_event(pre(), "breakpoint", "Bash(rm *)")
    assert waiting["id"] == "tool:toolu_01:waiting"
    assert waiting["data"]["reason"] == "breakpoint" and waiting["data"]["rule"] == "Bash(rm *)"
    denied = H.denied_event(SID, "main", "toolu_01", "no")
    assert denied["id"] == "tool:toolu_01:finished" and denied["data"]["status"] == "denied"
    validate_event(waiting)
    validate_event(denied)


# --- replies, as Claude Code reads them --------------------------------------------


def test_no_decision_is_empty_unless_it_carries_context() -> None:
    assert H.no_decision() == {}
    assert H.no_decision("Stop", "ignored") == {}
    assert H.no_decision("PostToolUse", "hi") == {
        "hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "hi"}}


def test_allow_deny_block_cancel() -> None:
    assert H.allow() == {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
    assert H.deny("why", "ctx")["hookSpecificOutput"] == {
        "hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": "why",
        "additionalContext": "ctx"}
    assert H.stop_block("keep going") == {"decision": "block", "reason": "keep going"}
    cancel = H.cancel("stop now")
    assert cancel["continue"] is False and cancel["stopReason"] == "stop now"
    assert cancel["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert H.cancel("stop now", "PostToolUse") == {"continue": False, "stopReason": "stop now"}


# --- settings -------------------------------------------------------------------------

URL = "http://127.0.0.1:47717/hook"


def ours(fail_closed: bool = False) -> dict[str, Any]:
    return H.steering_hooks(URL, "WATCHKEEPER_TOKEN", 600, fail_closed)


def test_only_the_steering_events_are_hooked_with_the_token_as_a_variable() -> None:
    hooks = ours()
    assert sorted(hooks) == ["PermissionRequest", "PostToolUse", "PreToolUse", "Stop",
                             "UserPromptSubmit"]  # as the README says
    pre_hook = hooks["PreToolUse"][0]["hooks"][0]
    assert pre_hook["headers"] == {"Authorization": "Bearer $WATCHKEEPER_TOKEN"}
    assert pre_hook["allowedEnvVars"] == ["WATCHKEEPER_TOKEN"]
    assert pre_hook["timeout"] > 600
    assert "onFailure" not in pre_hook
    closed = H.steering_hooks(URL, "WATCHKEEPER_TOKEN", 600, True)
    assert closed["PreToolUse"][0]["hooks"][0]["onFailure"] == "block"
    assert all("onFailure" not in g["hooks"][0] for e in ("PostToolUse", "Stop", "PermissionRequest")
               for g in closed[e]), "a prompt without an answer falls back on the CLI's own prompt, never blocks"


def test_merge_keeps_everything_else_and_is_idempotent() -> None:
    theirs = {"model": "opus", "permissions": {"allow": ["Bash(ls)"]}, "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}],
        "SessionStart": [{"hooks": [{"type": "command", "command": "hello.sh"}]}]}}
    before = copy.deepcopy(theirs)
    once = S.merge_hooks(theirs, ours(), "WATCHKEEPER_TOKEN")
    twice = S.merge_hooks(once, ours(), "WATCHKEEPER_TOKEN")
    assert theirs == before
    assert once == twice
    assert once["model"] == "opus" and once["permissions"] == before["permissions"]
    assert once["hooks"]["PreToolUse"][0] == before["hooks"]["PreToolUse"][0]
    assert once["hooks"]["SessionStart"] == before["hooks"]["SessionStart"]
    assert S.installed(once, "WATCHKEEPER_TOKEN")["url"] == URL
    switched = S.merge_hooks(once, ours(fail_closed=True), "WATCHKEEPER_TOKEN")
    assert len(switched["hooks"]["PreToolUse"]) == 2
    assert S.installed(switched, "WATCHKEEPER_TOKEN")["fail_closed"] is True
    assert S.remove_hooks(switched, "WATCHKEEPER_TOKEN") == before


def test_remove_takes_only_our_hook_out_of_a_shared_group() -> None:
    mine = ours()["PreToolUse"][0]["hooks"][0]
    shared = {"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [
        {"type": "command", "command": "audit.sh"}, mine]}]}}
    assert S.remove_hooks(shared, "WATCHKEEPER_TOKEN") == {"hooks": {"PreToolUse": [
        {"matcher": "*", "hooks": [{"type": "command", "command": "audit.sh"}]}]}}
    assert S.installed({"hooks": "junk"}, "WATCHKEEPER_TOKEN") is None
    assert S.remove_hooks({"hooks": {"Stop": "junk"}}, "WATCHKEEPER_TOKEN") == {"hooks": {"Stop": "junk"}}
