"""Claude Code's permission prompts (the PermissionRequest hook) in the steering state machine.

The prompt carries no ``tool_use_id``: it is matched to the PreToolUse that
came before it, or shown unattached when two calls are alike.
"""

from __future__ import annotations

from typing import Any

from test_steering_unit import SID, Harness, hook, pre

from watchkeeper.adapters.claude_code import permission as P
from watchkeeper.protocol import Event
from watchkeeper.protocol.session import SessionState


def prompt(tool: str = "Bash", command: str = "ls") -> dict[str, Any]:
    return hook("PermissionRequest", tool_name=tool, tool_input={"command": command},
                permission_suggestions=[{"type": "addRules", "rules": [{"toolName": tool}], "behavior": "allow"}])


def ask(h: Harness, payload: dict[str, Any], here: bool = True) -> Any:
    result = h.steering.on_hook(payload, None, here)
    if result.hold is not None:
        h.woken[result.hold.call_id] = []
        result.hold.wakers.append(h.woken[result.hold.call_id].append)
    return result


def behavior(reply: dict[str, Any]) -> dict[str, Any] | None:
    out = reply.get("hookSpecificOutput", {})
    assert not out or out.get("hookEventName") == "PermissionRequest", reply
    return out.get("decision")


def held(events: list[Event]) -> SessionState:
    state = SessionState()
    for e in events:
        state.fold(e)
    return state


def test_a_prompt_is_held_on_its_call_and_approve_allows_it_once() -> None:
    h = Harness()
    assert h.hook(pre("t1")).reply == {}
    result = ask(h, prompt())
    assert result.hold is not None and result.hold.call_id == "t1", "matched through the PreToolUse before it"
    state = held(result.events)
    call = state.held["t1"]
    assert (call.why, call.describe(), call.name) == ("permission", "needs permission", "Bash")
    assert call.expires_at is not None and call.expiry_text() == "goes on under the agent's own rules"
    kind, _, _ = h.control("c1", "approve", call_id="t1")
    assert kind == "control.applied"
    assert h.woken["t1"] == [P.allow()] and behavior(P.allow()) == {"behavior": "allow"}, \
        "allow once: no updatedPermissions, no rule added"
    assert "updatedPermissions" not in str(h.woken["t1"])


def test_deny_answers_the_prompt_with_the_reason_the_model_reads() -> None:
    h = Harness()
    h.hook(pre("t1"))
    ask(h, prompt())
    kind, _, events = h.control("c1", "deny", call_id="t1", reason="use a read-only command")
    assert kind == "control.applied"
    assert behavior(h.woken["t1"][0]) == {"behavior": "deny", "message": "use a read-only command"}
    finished = [e for e in events if e["kind"] == "tool.finished"]
    assert [(e["data"]["call_id"], e["data"]["status"]) for e in finished] == [("t1", "denied")]


def test_two_calls_alike_leave_the_prompt_unattached_and_no_phantom_call_is_finished() -> None:
    h = Harness()
    h.hook(pre("t1"))
    h.hook(pre("t2"))
    result = ask(h, prompt())
    assert result.hold is not None and result.hold.call_id.startswith("permission-"), "never a guess"
    kind, _, events = h.control("c1", "deny", call_id=result.hold.call_id)
    assert kind == "control.applied" and not [e for e in events if e["kind"] == "tool.finished"]
    other = ask(h, prompt(command="pwd"))
    assert other.hold is not None and other.hold.call_id.startswith("permission-"), "no PreToolUse fits"


def test_resume_and_the_timeout_answer_nothing_so_the_clis_own_prompt_decides() -> None:
    h = Harness()
    h.hook(pre("t1"))
    ask(h, prompt())
    assert h.control("c1", "resume")[0] == "control.applied"
    assert h.woken["t1"] == [{}]
    h.hook(hook("PreToolUse", tool_name="Bash", tool_input={"command": "rm x"}, tool_use_id="t2"))
    result = ask(h, prompt(command="rm x"))
    assert result.hold is not None
    h.steering.expire(result.hold)
    assert result.hold.reply == {}, "a permission prompt never fails closed: the CLI's prompt or rules decide"


def test_a_call_approved_at_pre_tool_use_is_not_asked_about_twice() -> None:
    h = Harness()
    h.hook(hook("UserPromptSubmit", prompt="go"))
    assert h.control("p", "pause")[0] == "control.applied"
    assert h.hook(pre("t1")).hold is not None
    h.control("a", "approve", call_id="t1")
    h.control("r", "resume")
    result = ask(h, prompt())
    assert result.hold is None and result.reply == P.allow()


def test_off_here_or_unwatched_the_prompt_is_left_to_the_terminal_with_a_notice() -> None:
    for here, viewers, why in ((False, 1, "answering prompts here is off"), (True, 0, "nobody watches")):
        h = Harness(viewers=viewers)
        h.hook(pre("t1"))
        result = ask(h, prompt(), here=here)
        assert result.hold is None and result.reply == {}
        [notice] = result.events
        assert notice["kind"] == "notice" and P.ELSEWHERE in notice["data"]["text"] and why in notice["data"]["text"]


def test_answered_in_the_agents_terminal_lets_the_held_prompt_go() -> None:
    h = Harness()
    h.hook(pre("t1"))
    ask(h, prompt())
    result = h.hook(hook("PostToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_use_id="t1",
                         tool_response={"stdout": ""}))
    assert h.woken["t1"] == [{}]
    assert [e["data"].get("reason") for e in result.events if e["kind"] == "control.applied"] == \
        ["answered in the agent's terminal"]
    assert not held(result.events).held
    assert h.control("late", "approve", call_id="t1")[0] == "control.rejected"


def test_cancel_denies_a_held_prompt_and_interrupts() -> None:
    h = Harness()
    h.hook(pre("t1"))
    ask(h, prompt())
    assert h.control("c", "cancel")[0] == "control.applied"
    decision = behavior(h.woken["t1"][0])
    assert decision is not None and decision["behavior"] == "deny" and decision["interrupt"] is True


def test_the_session_says_whether_prompts_are_answered_here() -> None:
    from watchkeeper.adapters.claude_code import hooks as H

    assert H.announce(hook("PreToolUse"), True)["data"]["capabilities"]["permission"] is True
    assert H.announce(hook("PreToolUse"))["data"]["capabilities"]["permission"] is False
    assert H.payload_events(prompt(), "k") == [], "steering reports the prompt, not the raw hook"
    assert SID


def test_always_allow_is_its_own_choice_and_adds_exactly_the_offered_rule() -> None:
    h = Harness()
    h.hook(pre("t1"))
    result = ask(h, prompt())
    call = held(result.events).held["t1"]
    assert call.always_rule == '[{"type":"addRules","rules":[{"toolName":"Bash"}],"behavior":"allow"}]', \
        "the rule shown verbatim before the person picks it"
    assert h.control("c1", "approve", call_id="t1", always=True)[0] == "control.applied"
    assert behavior(h.woken["t1"][0]) == {"behavior": "allow", "updatedPermissions": [
        {"type": "addRules", "rules": [{"toolName": "Bash"}], "behavior": "allow"}]}


def test_always_is_refused_where_no_rule_is_offered_and_never_on_a_paused_call() -> None:
    h = Harness()
    h.hook(hook("UserPromptSubmit", prompt="go"))
    h.control("p", "pause")
    assert h.hook(pre("t1")).hold is not None
    kind, reason, _ = h.control("a1", "approve", call_id="t1", always=True)
    assert kind == "control.rejected" and "offers none" in reason
    assert h.woken["t1"] == [], "a refused always-allow decides nothing"
    h.control("r", "resume")
    bare = hook("PermissionRequest", tool_name="Bash", tool_input={"command": "ls"})
    result = ask(h, bare)
    assert result.hold is not None and held(result.events).held["t1"].always_rule is None
    assert h.control("a2", "approve", call_id="t1", always=True)[0] == "control.rejected"
    assert h.control("a3", "approve", call_id="t1")[0] == "control.applied"
    assert h.woken["t1"] == [P.allow()]


def test_a_prompt_for_an_input_too_deep_to_encode_is_shown_unattached() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = {"a": deep}
    h = Harness()
    assert h.hook(hook("PreToolUse", tool_name="Bash", tool_input=deep, tool_use_id="t1")).reply == {}
    result = ask(h, hook("PermissionRequest", tool_name="Bash", tool_input=deep))
    assert result.hold is not None and result.hold.call_id.startswith("permission-")
