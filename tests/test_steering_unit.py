"""The steering state machine on its own: hook payloads and controls in, replies and events out."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.adapters.claude_code.steering import INJECT_HEADING, Hold, HookResult, Policy, Steering
from watchkeeper.protocol import ControlModel, Event

SID = "s-1"


def hook(event: str, **extra: Any) -> dict[str, Any]:
    return {"session_id": SID, "cwd": "/w", "hook_event_name": event, **extra}


def pre(call: str, tool: str = "Bash", **extra: Any) -> dict[str, Any]:
    return hook("PreToolUse", tool_name=tool, tool_input={"command": "ls"}, tool_use_id=call, **extra)


def ctl(id: str, control: str, **kw: Any) -> ControlModel:
    return ControlModel(id=id, session=SID, control=control, by="tester", **kw)


class Harness:
    """A Steering with a settable viewer count, recording every reply a hold's waker gets."""

    def __init__(self, viewers: int = 1, **kw: Any) -> None:
        self.viewers = viewers
        self.steering = Steering(viewers=lambda s: self.viewers, **kw)
        self.woken: dict[str, list[dict[str, Any]]] = {}

    def hook(self, payload: dict[str, Any], fail_closed: bool | None = None) -> HookResult:
        result = self.steering.on_hook(payload, fail_closed)
        if result.hold is not None:
            hold: Hold = result.hold
            self.woken[hold.call_id] = []
            hold.wakers.append(self.woken[hold.call_id].append)
        return result

    def pause(self, first_tool: str = "Bash") -> None:
        """The session's hooks have come (a first call, not held), and it is paused: its next call waits."""
        self.hook(pre("t0", tool=first_tool))
        assert self.control("c1", "pause")[0] == "control.applied"

    def control(self, id: str, control: str, **kw: Any) -> tuple[str, str, list[Event]]:
        result = self.steering.control(ctl(id, control, **kw))
        return result.outcome["kind"], result.outcome["data"]["reason"], result.events


def decision(reply: dict[str, Any]) -> str | None:
    return reply.get("hookSpecificOutput", {}).get("permissionDecision")


def test_a_pause_or_step_nobody_watches_is_rejected_and_holds_nothing() -> None:
    h = Harness(viewers=0)
    h.hook(hook("UserPromptSubmit", prompt="go"))
    for n, control in enumerate(("pause", "step")):
        kind, reason, events = h.control(f"c{n}", control)
        assert kind == "control.rejected" and "nobody watches this session" in reason, reason
        assert [e["kind"] for e in events] == ["control.rejected"]
    assert h.steering.state(SID)["paused"] is False and h.steering.state(SID)["step"] is False
    result = h.hook(pre("t1"))
    assert result.hold is None and result.reply == {}
    h.viewers = 1
    assert h.control("c2", "pause")[0] == "control.applied"
    assert h.hook(pre("t2")).hold is not None


def test_the_holds_end_only_when_nobody_watches_and_a_grace_notice_names_them() -> None:
    h = Harness(viewers=2, policy=Policy(fail_closed=True))
    h.pause()
    h.hook(pre("t1"))
    assert h.steering.unwatched(SID) == [] and h.steering.nobody_watching() == []
    (notice,) = h.steering.grace(30)
    assert notice["kind"] == "notice" and "1 held call wait 30 s" in notice["data"]["text"]
    assert "denied (fail-closed)" in notice["data"]["text"]
    assert h.woken["t1"] == []
    h.viewers = 0
    events = h.steering.nobody_watching()
    assert [e["kind"] for e in events] == ["control.applied", "tool.finished"]
    assert decision(h.woken["t1"][0]) == "deny"
    assert h.steering.grace(30) == []


def test_a_control_hooks_cannot_carry_out_is_rejected_with_why_and_holds_stay() -> None:
    """``end`` (stop an agent watchkeeper started) has no meaning for an agent started elsewhere: it raised."""
    h = Harness()
    h.pause()
    assert h.hook(pre("t1")).hold is not None
    kind, reason, _ = h.control("c2", "end")
    assert (kind, reason) == ("control.rejected", "a session steered through its hooks cannot end")
    assert h.steering.state(SID)["held"] == ["t1"] and h.woken["t1"] == []


def test_pause_holds_the_next_call_and_resume_gives_no_decision() -> None:
    h = Harness()
    assert h.hook(pre("t0")).reply == {}
    kind, _, events = h.control("c1", "pause")
    assert kind == "control.applied"
    assert [e["data"].get("state") for e in events if e["kind"] == "state"] == ["paused"]
    held = h.hook(pre("t1"))
    assert held.reply is None and held.hold is not None
    assert [e["kind"] for e in held.events] == ["tool.waiting"]
    assert held.events[0]["data"]["reason"] == "paused"
    assert h.steering.state(SID)["held"] == ["t1"]
    kind, _, events = h.control("c2", "resume")
    assert kind == "control.applied"
    assert events[0]["data"]["call_id"] == "t1"
    assert h.woken["t1"] == [{}]
    assert h.hook(pre("t2")).reply == {}


def test_a_call_without_a_usable_id_is_held_by_a_pause_and_a_breakpoint_all_the_same() -> None:
    """A PreToolUse whose ``tool_use_id`` is missing or not a string used to get ``{}`` at once: the call ran
    while the pause said "the next tool call waits". It is held under an id of its own, and answered by it."""
    h = Harness(breakpoint=lambda p: "rm" if "rm" in str(p.get("tool_input")) else None)
    h.pause()
    for n, odd in enumerate((None, 123, ["toolu_1"], {"id": "x"}, "")):
        held = h.hook(pre(odd))  # type: ignore[arg-type]
        assert held.reply is None and held.hold is not None, odd
        (waiting,) = held.events
        cid = held.hold.call_id
        assert cid.startswith("hook-") and waiting["data"]["call_id"] == cid
        assert waiting["kind"] == "tool.waiting" and waiting["data"]["reason"] == "paused"
        kind, _, _ = h.control(f"d{n}", "deny", call_id=cid, reason="not now")
        assert kind == "control.applied" and decision(h.woken[cid][0]) == "deny"
    h.control("c2", "resume")
    assert h.hook(pre(None)).reply == {}  # type: ignore[arg-type]
    held = h.hook(hook("PreToolUse", tool_name="Bash", tool_input={"command": "rm -rf ~"}, tool_use_id=7))
    assert held.hold is not None and held.events[0]["data"]["reason"] == "breakpoint"


def test_approve_allows_only_the_held_call_and_first_decision_wins() -> None:
    h = Harness()
    h.pause()
    h.hook(pre("t1"))
    kind, _, _ = h.control("c2", "approve", call_id="t1")
    assert kind == "control.applied"
    assert decision(h.woken["t1"][0]) == "allow"
    kind, reason, _ = h.control("c3", "deny", call_id="t1", reason="too late")
    assert kind == "control.rejected" and "first decision wins" in reason
    assert len(h.woken["t1"]) == 1


def test_deny_tells_the_agent_the_persons_reason() -> None:
    h = Harness()
    h.pause()
    h.hook(pre("t1"))
    kind, _, events = h.control("c2", "deny", reason="use a read-only command")
    assert kind == "control.applied"
    reply = h.woken["t1"][0]
    assert decision(reply) == "deny"
    assert reply["hookSpecificOutput"]["permissionDecisionReason"] == "use a read-only command"
    finished = [e for e in events if e["kind"] == "tool.finished"]
    assert finished[0]["id"] == "tool:t1:finished" and finished[0]["data"]["status"] == "denied"
    assert events[0]["data"]["message"] == "use a read-only command"


def test_a_repeated_control_acts_once_and_reports_the_same_outcome() -> None:
    h = Harness()
    h.pause()
    h.hook(pre("t1"))
    h.hook(pre("t2"))
    first = h.steering.control(ctl("c2", "approve", call_id="t1"))
    again = h.steering.control(ctl("c2", "approve", call_id="t1"))
    assert again.repeated and again.events == [] and again.outcome is first.outcome
    assert first.outcome["data"]["call_id"] == "t1"
    assert h.woken["t2"] == []
    assert h.steering.state(SID)["held"] == ["t2"]


def test_a_decision_that_names_no_call_is_refused_while_several_are_held() -> None:
    """Which of two held calls an unnamed approve meant cannot be known: it decides neither."""
    h = Harness()
    h.pause()
    h.hook(pre("t1"))
    h.hook(pre("t2"))
    for n, control in enumerate(("approve", "deny", "step")):
        kind, reason, _ = h.control(f"u{n}", control)
        assert kind == "control.rejected" and "2 calls are held (t1, t2): name the one to" in reason, reason
    assert h.woken == {"t1": [], "t2": []} and h.steering.state(SID)["held"] == ["t1", "t2"]
    h.control("d1", "deny", call_id="t1")
    kind, _, _ = h.control("u3", "approve")
    assert kind == "control.applied" and decision(h.woken["t2"][0]) == "allow", "one held: it is the one"


def test_the_same_call_asked_again_waits_on_its_hold_and_never_lets_it_go() -> None:
    """Two hook entries for one call (an installed hook and ``run``'s), or a request replayed by the agent
    with its own credential: the second waits on the first's hold; neither answers the other, and the
    stricter policy holds. Only the person's decision (or the policy) ends it, for both."""
    h = Harness(policy=Policy(hold_timeout=5))
    h.pause()
    first = h.hook(pre("t1"), fail_closed=False).hold
    woken_first = h.woken["t1"]
    again = h.steering.on_hook(pre("t1"), fail_closed=True)
    assert again.hold is first and again.reply is None, "the repeat waits on the same hold"
    assert [e["data"]["code"] for e in again.events] == ["hold-fail-closed"]
    assert woken_first == [] and h.steering.state(SID)["held"] == ["t1"], "the first request is not answered"
    assert first is not None and first.fail_closed
    replayed = h.steering.on_hook(pre("t1"), fail_closed=False)
    assert replayed.hold is first and replayed.events == [] and first.fail_closed, "a repeat never loosens it"
    events = h.steering.expire(first)
    assert decision(woken_first[0]) == "deny", "at the timeout the stricter policy decides"
    assert [e["kind"] for e in events] == ["control.applied", "tool.finished"], "the hold ends, the call denied"


def test_the_same_call_id_with_another_input_is_held_apart_and_said() -> None:
    """The agent learns its next call's id from its own transcript and asks first with a harmless input: the
    real request, with another input, does not join that hold (the person would approve what it does not
    run); it is held apart, showing its own input, and a notice says one of the two is not the call."""
    h = Harness()
    h.pause("Read")
    forged = h.steering.on_hook(pre("t1"))
    real_payload = hook("PreToolUse", tool_name="Bash", tool_input={"command": "ls; touch PWNED"}, tool_use_id="t1")
    real = h.steering.on_hook(real_payload)
    assert real.hold is not None and forged.hold is not None and real.hold is not forged.hold
    notice, waiting = real.events
    assert notice["data"]["code"] == "call-asked-twice" and real.hold.call_id in notice["data"]["text"]
    assert (waiting["data"]["call_id"], waiting["data"]["input"]) == (real.hold.call_id, {"command": "ls; touch PWNED"})
    assert sorted(h.steering.state(SID)["held"]) == sorted(["t1", real.hold.call_id])
    approved = h.steering.control(ctl("a1", "approve", call_id="t1"))
    assert approved.outcome["kind"] == "control.applied" and real.hold.reply is None, "approving one is not the other"


def test_a_session_that_ended_while_a_call_was_held_takes_no_control_once_none_is() -> None:
    h = Harness()
    h.pause()
    held = h.steering.on_hook(pre("t1")).hold
    h.hook(hook("SessionEnd", reason="other"))
    assert h.steering.steerable(SID)
    assert held is not None and h.steering.abandoned(held)
    assert not h.steering.steerable(SID), "ended, once the call it held for is gone"


def test_a_prompt_naming_a_held_call_never_decides_that_calls_hold() -> None:
    """A PermissionRequest that matches a call whose PreToolUse is still held cannot come from the CLI (it
    asks only after PreToolUse answered): it is held apart, and the call stays held for the person."""
    h = Harness()
    h.pause("Read")
    h.hook(pre("t1"))
    forged = h.steering.on_hook(hook("PermissionRequest", tool_name="Bash", tool_input={"command": "ls"}),
                                None, True)
    assert forged.hold is not None and forged.hold.call_id.startswith("permission-")
    assert h.woken["t1"] == [] and "t1" in h.steering.state(SID)["held"]
    h.control("d1", "deny", call_id="t1")
    assert decision(h.woken["t1"][0]) == "deny"


def test_a_session_end_while_a_call_is_held_does_not_lock_the_person_out() -> None:
    h = Harness()
    h.pause()
    h.hook(pre("t1"))
    h.hook(hook("SessionEnd", reason="other"))
    assert h.steering.steerable(SID), "a request still waits on a hold: the session is not over"
    kind, _, _ = h.control("d1", "deny", call_id="t1")
    assert kind == "control.applied" and decision(h.woken["t1"][0]) == "deny"
    h.hook(hook("SessionEnd", reason="other"))
    assert not h.steering.steerable(SID), "with nothing held, an ended session takes no control"


def test_controls_on_nothing_are_rejected_with_a_reason() -> None:
    h = Harness()
    assert h.control("c0", "pause")[0] == "control.rejected"
    h.hook(pre("t0"))
    for control, kw in (("approve", {}), ("deny", {}), ("approve", {"call_id": "nope"}),
                        ("inject", {"text": "  "})):
        kind, reason, events = h.control(f"x-{control}-{kw}", control, **kw)
        assert kind == "control.rejected" and reason
        assert [e["kind"] for e in events] == ["control.rejected"]


def test_step_lets_one_call_go_and_holds_the_next() -> None:
    h = Harness()
    h.hook(pre("t0"))
    kind, _, _ = h.control("c1", "step")
    assert kind == "control.applied"
    assert h.hook(pre("t1")).hold is not None
    h.control("c2", "step")
    assert decision(h.woken["t1"][0]) == "allow"
    second = h.hook(pre("t2"))
    assert second.hold is not None and second.events[0]["data"]["reason"] == "step"
    h.control("c3", "resume")
    assert h.woken["t2"] == [{}]
    assert h.hook(pre("t3")).hold is None


def test_breakpoint_rule_holds_matching_calls_only() -> None:
    h = Harness(breakpoint=lambda p: "Bash(rm *)" if "rm" in str(p.get("tool_input")) else None)
    assert h.hook(pre("t1")).hold is None
    held = h.hook(hook("PreToolUse", tool_name="Bash", tool_input={"command": "rm -rf x"}, tool_use_id="t2"))
    assert held.hold is not None
    assert held.events[0]["data"]["rule"] == "Bash(rm *)"


def test_a_failing_breakpoint_rule_holds_rather_than_raises() -> None:
    h = Harness(breakpoint=lambda p: 1 / 0)
    held = h.hook(pre("t1"))
    assert held.hold is not None and "ZeroDivisionError" in held.events[0]["data"]["rule"]


def test_injection_rides_on_the_next_reply_once() -> None:
    h = Harness()
    h.hook(pre("t0"))
    h.control("c1", "inject", text="also run the tests")
    result = h.hook(hook("PostToolUse", tool_name="Bash", tool_use_id="t0", tool_response={}))
    context = result.reply["hookSpecificOutput"]["additionalContext"]
    assert context == INJECT_HEADING + "also run the tests"
    assert result.reply["hookSpecificOutput"]["hookEventName"] == "PostToolUse"
    (delivered,) = result.events
    assert delivered["kind"] == "message.user" and delivered["data"]["origin"] == "injected"
    assert h.hook(pre("t1")).reply == {}


def test_injection_goes_with_a_held_calls_decision() -> None:
    h = Harness()
    h.pause()
    h.hook(pre("t1"))
    h.control("c2", "inject", text="careful")
    h.control("c3", "resume")
    assert h.woken["t1"][0]["hookSpecificOutput"]["additionalContext"].endswith("careful")
    assert decision(h.woken["t1"][0]) is None


def test_injection_blocks_stop_but_never_twice_in_a_row() -> None:
    h = Harness()
    h.hook(pre("t0"))
    h.control("c1", "inject", text="one more thing")
    blocked = h.hook(hook("Stop", stop_hook_active=False))
    assert blocked.reply == {"decision": "block", "reason": INJECT_HEADING + "one more thing"}
    assert [e["kind"] for e in blocked.events] == ["message.user", "state"]
    h.control("c2", "inject", text="and another")
    assert h.hook(hook("Stop", stop_hook_active=True)).reply == {}
    later = h.hook(hook("UserPromptSubmit", prompt="next"))
    assert later.reply["hookSpecificOutput"]["additionalContext"].endswith("and another")


def test_cancel_denies_the_held_call_and_ends_the_turn() -> None:
    h = Harness()
    h.pause()
    h.hook(pre("t1"))
    kind, _, events = h.control("c2", "cancel")
    assert kind == "control.applied"
    reply = h.woken["t1"][0]
    assert decision(reply) == "deny" and reply["continue"] is False
    assert "tool.finished" in [e["kind"] for e in events]


def test_cancel_says_how_many_held_calls_it_denied() -> None:
    h = Harness()
    h.pause()
    h.hook(pre("t1"))
    h.hook(pre("t2"))
    kind, reason, _ = h.control("c2", "cancel")
    assert kind == "control.applied" and reason == "cancelled: the 2 held calls are denied and the turn ends"
    assert [decision(h.woken[c][0]) for c in ("t1", "t2")] == ["deny", "deny"]


def test_cancel_with_nothing_held_waits_for_the_next_tool_call() -> None:
    h = Harness(viewers=0)
    h.hook(pre("t0"))
    h.control("c1", "cancel", reason="enough")
    reply = h.hook(pre("t1")).reply
    assert reply["continue"] is False and decision(reply) == "deny"
    assert h.hook(pre("t2")).reply == {}
    h.control("c2", "cancel")
    assert h.hook(hook("Stop", stop_hook_active=False)).reply == {}
    assert h.hook(pre("t3")).reply == {}


def test_timeout_ends_a_hold_by_the_policy() -> None:
    h = Harness(policy=Policy(hold_timeout=5))
    h.pause()
    open_hold = h.hook(pre("t1")).hold
    closed_hold = h.hook(pre("t2"), fail_closed=True).hold
    assert open_hold is not None and closed_hold is not None
    events = h.steering.expire(open_hold)
    assert h.woken["t1"] == [{}]
    assert events[0]["kind"] == "control.applied" and events[0]["data"]["call_id"] == "t1"
    h.steering.expire(closed_hold)
    assert decision(h.woken["t2"][0]) == "deny"
    assert "5 s" in h.woken["t2"][0]["hookSpecificOutput"]["permissionDecisionReason"]
    assert h.steering.expire(open_hold) == []
    assert h.control("c2", "approve", call_id="t1")[0] == "control.rejected"


def test_last_viewer_leaving_releases_the_holds() -> None:
    h = Harness(policy=Policy(fail_closed=True))
    h.pause()
    h.hook(pre("t1"))
    h.viewers = 0
    events = h.steering.unwatched(SID)
    assert decision(h.woken["t1"][0]) == "deny"
    assert [e["kind"] for e in events] == ["control.applied", "tool.finished"]
    assert h.steering.state(SID)["held"] == []
    assert h.steering.state(SID)["paused"] is True


# --- invariants over any sequence -------------------------------------------------------

ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("hook"), st.sampled_from(["t1", "t2", "t3", "t4"])),
    st.tuples(st.just("ctl"), st.sampled_from(["pause", "resume", "approve", "deny", "step", "cancel",
                                               "inject"]), st.sampled_from(["a", "b", "c", "d", "e"])),
    st.tuples(st.just("viewers"), st.integers(0, 2)),
    st.tuples(st.just("expire")),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(ACTIONS)
def test_every_control_one_outcome_and_allow_only_when_asked(actions: list[tuple[Any, ...]]) -> None:
    h = Harness()
    holds: list[Hold] = []
    outcomes: dict[str, list[Event]] = {}
    first: dict[str, str] = {}
    allowed_by: set[str] = set()
    h.hook(pre("t0"))
    for action in actions:
        if action[0] == "hook":
            result = h.hook(pre(f"{action[1]}-{len(holds)}"))
            if result.hold is not None:
                holds.append(result.hold)
            else:
                assert decision(result.reply or {}) != "allow"
        elif action[0] == "ctl":
            control, cid = action[1], action[2]
            result = h.steering.control(ctl(cid, control, text="hi", reason="no"))
            for ev in result.events:
                if ev["kind"] in ("control.applied", "control.rejected"):
                    outcomes.setdefault(ev["data"]["control_id"], []).append(ev)
            first.setdefault(cid, control)
            if result.applied and first[cid] in ("approve", "step"):
                allowed_by.add(cid)
        elif action[0] == "viewers":
            h.viewers = action[1]
            if h.viewers == 0:
                h.steering.unwatched(SID)
        else:
            for hold in holds:
                h.steering.expire(hold)
    for cid in first:
        assert len(outcomes[cid]) == 1
    for hold in holds:
        replies = h.woken[hold.call_id]
        assert len(replies) <= 1
        if replies and decision(replies[0]) == "allow":
            assert hold.decided_by in allowed_by
