"""CodexSteering's own rules, on payloads shaped as Codex 0.171.0 sends them (seen on the real CLI):
approve is no decision at PreToolUse and allows the permission prompt that follows; a permission prompt is held
only where answers are taken here; it is matched to its call by turn, tool and command, unattached when ambiguous."""

from __future__ import annotations

import asyncio
from typing import Any

from watchkeeper.adapters.codex import hooks as X
from watchkeeper.adapters.codex.steering import CodexSteering
from watchkeeper.protocol import validate_control

SESSION = "01a24bd7-1123-7783-89c2-482c3b2c6ef4"


def payload(event: str, command: str = "echo hi > /tmp/x", call: str | None = "c1", turn: str = "t1") -> dict[str, Any]:
    out: dict[str, Any] = {"session_id": SESSION, "turn_id": turn, "hook_event_name": event, "tool_name": "Bash",
                           "tool_input": {"command": command}, "cwd": "/w", "permission_mode": "default"}
    if event == "PermissionRequest":
        out["tool_input"]["description"] = "needs to write outside"
    elif call is not None:
        out["tool_use_id"] = call
    return out


def control(kind: str, call: str | None = None, n: list[int] = [0], **extra: Any) -> Any:  # noqa: B006
    n[0] += 1
    return validate_control({"v": 1, "type": "control", "id": f"k{n[0]}", "session": SESSION, "control": kind,
                             "call_id": call, "by": "test", **extra})


def watched() -> CodexSteering:
    return CodexSteering(viewers=lambda session: 1)


def test_approve_at_pre_tool_use_is_no_decision_and_allows_the_prompt_that_follows() -> None:
    s = watched()
    s.on_hook(payload("UserPromptSubmit"))
    s.control(control("pause"))
    result = s.on_hook(payload("PreToolUse"))
    assert result.hold is not None
    s.control(control("approve", "c1"))
    assert result.hold.reply == {}
    asked = s.on_hook(payload("PermissionRequest"), prompts_here=True)
    assert asked.hold is None and asked.reply == X.permission(True)


def test_a_prompt_is_held_here_and_answered_by_deny() -> None:
    s = watched()
    s.on_hook(payload("PreToolUse"))
    asked = s.on_hook(payload("PermissionRequest"), prompts_here=True)
    assert asked.hold is not None and asked.reply is None
    (waiting,) = asked.events
    assert waiting["kind"] == "tool.waiting" and waiting["data"]["why"] == "permission"
    assert waiting["data"]["call_id"] == "c1" and waiting["data"]["attached"] is True
    assert waiting["data"]["on_expiry"] == "continue" and waiting["data"]["expires_at"]
    outcome = s.control(control("deny", "c1", reason="not outside the workspace"))
    assert outcome.outcome["kind"] == "control.applied"
    assert asked.hold.reply == X.permission(False, "not outside the workspace")
    assert any(e["kind"] == "tool.finished" and e["data"]["status"] == "denied" for e in outcome.events)


def test_a_prompt_is_not_held_where_answers_are_not_taken_here() -> None:
    s = watched()
    s.on_hook(payload("PreToolUse"))
    asked = s.on_hook(payload("PermissionRequest"), prompts_here=False)
    assert asked.hold is None and asked.reply == {}
    (notice,) = asked.events
    assert notice["kind"] == "notice" and "needs permission — answer in the agent's terminal" in notice["data"]["text"]


def test_a_prompt_nobody_watches_is_left_to_the_terminal() -> None:
    s = CodexSteering(viewers=lambda session: 0)
    s.on_hook(payload("PreToolUse"))
    asked = s.on_hook(payload("PermissionRequest"), prompts_here=True)
    assert asked.hold is None and asked.reply == {}


def test_parallel_identical_calls_leave_the_prompt_unattached() -> None:
    s = watched()
    s.on_hook(payload("PreToolUse", call="c1"))
    s.on_hook(payload("PreToolUse", call="c2"))
    asked = s.on_hook(payload("PermissionRequest"), prompts_here=True)
    assert asked.hold is not None and asked.hold.call_id.startswith("permission-")
    assert asked.events[0]["data"]["attached"] is False


def test_a_finished_call_is_not_matched_and_another_turn_is_not_either() -> None:
    s = watched()
    s.on_hook(payload("PreToolUse", call="c1"))
    s.on_hook({**payload("PostToolUse", call="c1"), "tool_response": ""})
    s.on_hook(payload("PreToolUse", call="c2", turn="t2"))
    asked = s.on_hook(payload("PermissionRequest", turn="t2"), prompts_here=True)
    assert asked.hold is not None and asked.hold.call_id == "c2"


def test_resume_answers_a_held_prompt_with_no_decision_and_cancel_denies_it() -> None:
    s = watched()
    s.on_hook(payload("PreToolUse", call="c1"))
    first = s.on_hook(payload("PermissionRequest"), prompts_here=True)
    s.control(control("resume"))
    assert first.hold is not None and first.hold.reply == {}
    s.on_hook(payload("PreToolUse", call="c2", command="rm -rf /tmp/y"))
    second = s.on_hook(payload("PermissionRequest", command="rm -rf /tmp/y"), prompts_here=True)
    s.control(control("cancel", reason="stop"))
    assert second.hold is not None and second.hold.reply == X.permission(False, "stop")


def test_a_cancel_sent_while_a_call_runs_denies_the_next_call_and_never_says_the_turn_ended() -> None:
    """The running call's PostToolUse took the cancel and answered nothing (Codex cannot end a turn there),
    while the outcome said "the turn ends" and an idle state was shown: the next call ran."""
    s = watched()
    s.on_hook(payload("UserPromptSubmit"))
    assert s.on_hook(payload("PreToolUse", call="c1")).reply == {}
    outcome = s.control(control("cancel", reason="stop"))
    assert outcome.outcome["kind"] == "control.applied"
    assert "the turn ends" not in outcome.outcome["data"]["reason"]
    assert "next tool call is denied" in outcome.outcome["data"]["reason"]
    after = s.on_hook(payload("PostToolUse", call="c1"))
    assert after.reply == {} and not any(e["kind"] == "state" for e in after.events)
    denied = s.on_hook(payload("PreToolUse", call="c2", command="rm -rf build"))
    assert denied.reply == X.cancel("stop")
    assert [(e["kind"], e["data"].get("status")) for e in denied.events] == [("tool.finished", "denied")]
    assert s.on_hook(payload("PreToolUse", call="c3")).reply == {}, "one call denied: the cancel is spent"


def test_codex_replies_never_carry_what_codex_drops_whole() -> None:
    assert "permissionDecision" not in str(X.allow("ctx")) and "ctx" in str(X.allow("ctx"))
    assert "continue" not in X.cancel("stop") and X.cancel("stop")["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_a_breakpoint_holds_a_codex_call_by_its_command() -> None:
    rule = "Bash(rm *)"

    def breakpoint(p: dict[str, Any]) -> str | None:
        return rule if str(p["tool_input"]["command"]).startswith("rm ") else None

    s = CodexSteering(viewers=lambda session: 1, breakpoint=breakpoint)
    assert s.on_hook(payload("PreToolUse", command="ls", call="c1")).hold is None
    held = s.on_hook(payload("PreToolUse", command="rm -rf build", call="c2"))
    assert held.hold is not None
    (waiting,) = held.events
    assert (waiting["data"]["why"], waiting["data"]["rule"], waiting["data"]["call_id"]) == ("breakpoint", rule, "c2")


def test_approve_says_codexs_own_policy_still_decides() -> None:
    s = watched()
    s.on_hook(payload("UserPromptSubmit"))
    s.control(control("pause"))
    s.on_hook(payload("PreToolUse"))
    outcome = s.control(control("approve", "c1")).outcome
    assert "under Codex's own sandbox and approval policy" in outcome["data"]["reason"]
    assert "if Codex asks to run it (outside its sandbox, say), that prompt is answered yes" in \
        outcome["data"]["reason"], "the person learns that approve also answers Codex's own prompt for the call"


def test_always_allow_is_never_offered_for_codex_even_if_its_prompt_suggests_rules() -> None:
    s = watched()
    s.on_hook(payload("PreToolUse"))
    prompt = {**payload("PermissionRequest"), "permission_suggestions": [{"type": "addRules", "behavior": "allow"}]}
    asked = s.on_hook(prompt, prompts_here=True)
    assert asked.hold is not None and asked.events[0]["data"]["always_rule"] is None, "Codex takes no rules"
    refused = s.control(control("approve", "c1", always=True))
    assert refused.outcome["kind"] == "control.rejected" and asked.hold.reply is None, \
        "never reported as a rule added when the agent will not add it"
    assert s.control(control("approve", "c1")).outcome["kind"] == "control.applied"
    assert asked.hold.reply == X.permission(True)


async def test_a_breakpoint_matching_typed_input_is_said_not_held_once_and_nothing_else_is() -> None:
    from watchkeeper.adapters.codex.unhooked import Unhooked
    from watchkeeper.breakpoints import Book, Matcher, Rule
    from watchkeeper.protocol import make_event

    s = CodexSteering(viewers=lambda session: 1, breakpoint=Matcher(Book(None, [Rule("wipe", pattern="rm -rf")])))
    s.on_hook(payload("UserPromptSubmit"))
    told: list[Any] = []
    watch = Unhooked(s, told.extend)

    def typed(call: str, chars: str, name: str = "write_stdin") -> Any:
        return make_event(f"rollout:{call}", SESSION, "tool.started",
                          {"call_id": call, "name": name, "input": {"session_id": 7, "chars": chars}})

    odd = make_event("odd", SESSION, "tool.started", {"call_id": "w0", "name": {"not": "a name"}, "input": {}})
    batch = [odd, typed("w1", "rm -rf /\n"), typed("w2", "ls\n"), typed("w3", "rm -rf ~\n", name="exec_command"),
             make_event("other", "another-session", "tool.started",
                        {"call_id": "w4", "name": "write_stdin", "input": {"chars": "rm -rf x"}})]
    watch(batch)
    watch(batch)
    await asyncio.sleep(0)
    assert [n["id"] for n in told] == [f"hook:codex:{SESSION}:w1:not-held"]
    assert "breakpoint 'wipe' matched it" in told[0]["data"]["text"]
