"""Control routing in the relay, with the hook endpoint as a real source and hook requests over loopback.

No agent CLI here: hook payloads are posted the way Claude Code posts them,
so routing, viewer counting and the merged stream are checked fast; the CLI
tests (test_steering_live.py) check the same against the real agent.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import until

from watchkeeper.protocol import Event, ProtocolError, make_event
from watchkeeper.relay import IterSource, Relay
from watchkeeper.relay.recorder import Recorder
from watchkeeper.relay.servers.hookserver import HookSource, serve_hooks

TOKEN = "relay-test-token"
SID = "hooked-1"
WAIT = 20.0


@pytest.fixture
def relay() -> Iterator[Relay]:
    r = Relay().start()
    yield r
    r.stop()


@pytest.fixture
def hooks(relay: Relay) -> HookSource:
    source = serve_hooks(relay, TOKEN)
    assert source.ready.wait(WAIT) and source.error is None
    return source


def post(port: int, payload: dict[str, Any], path: str = "/hook") -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("POST", path, json.dumps(payload).encode(),
                     {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        conn.close()


def pre(call: str, session: str = SID) -> dict[str, Any]:
    return {"session_id": session, "cwd": "/w", "hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": "ls"}, "tool_use_id": call}


def control(id: str, kind: str, session: str = SID, **kw: Any) -> dict[str, Any]:
    return {"id": id, "session": session, "control": kind, "by": "tester", **kw}


def send(relay: Relay, c: dict[str, Any]) -> Event:
    return relay.control(c).result(WAIT)


def in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    thread.start()
    return thread, box


def stream(relay: Relay, session: str = SID) -> list[Event]:
    return relay.read_range(session, 0, 10_000)




def outcomes(events: list[Event]) -> list[tuple[str, str]]:
    return [(e["data"]["control_id"], e["kind"]) for e in events if e["kind"].startswith("control.")]


def test_controls_route_to_the_hook_source_once_each(relay: Relay, hooks: HookSource) -> None:
    post(hooks.port, pre("t0"))
    viewer = relay.subscribe(lambda b: None, session=SID)
    assert send(relay, control("p", "pause"))["kind"] == "control.applied"
    thread, box = in_thread(lambda: post(hooks.port, pre("t1")))
    until(lambda: any(e["kind"] == "tool.waiting" for e in stream(relay)), "a held call")
    assert relay.call(SID, "t1").status == "waiting"
    assert relay.session(SID).needs_attention
    first = send(relay, control("a", "approve"))
    again = send(relay, control("a", "approve"))
    thread.join(WAIT)
    assert box == [{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}]
    assert again == first and first["data"]["call_id"] == "t1"
    assert relay.call(SID, "t1").status == "running"
    assert outcomes(stream(relay)) == [("p", "control.applied"), ("a", "control.applied")]
    viewer.close()


def test_observe_only_and_unknown_sessions_are_rejected_with_the_reason(relay: Relay, hooks: HookSource) -> None:
    started = make_event("t:1", "tailed", "session.started", {
        "agent_kind": "claude-code", "capabilities": {"why": "observe-only: a transcript can be watched"}})
    relay.add_source(IterSource("transcript", [started]))
    until(lambda: stream(relay, "tailed"), "the tailed session's events")
    rejected = send(relay, control("x", "pause", "tailed"))
    assert rejected["kind"] == "control.rejected"
    assert "observe-only" in rejected["data"]["reason"]
    assert outcomes(relay.read_range("tailed", 0, 100)) == [("x", "control.rejected")]
    assert send(relay, control("x", "pause", "tailed")) == rejected
    assert outcomes(relay.read_range("tailed", 0, 100)) == [("x", "control.rejected")]
    unknown = send(relay, control("y", "pause", "nobody"))
    assert unknown["kind"] == "control.rejected" and "unknown session" in unknown["data"]["reason"]
    with pytest.raises(ProtocolError):
        send(relay, {"id": "z", "session": SID, "control": "launch"})


def test_last_viewer_leaving_lets_held_calls_go(relay: Relay, hooks: HookSource) -> None:
    post(hooks.port, pre("t0"))
    one = relay.subscribe(lambda b: None, session=SID)
    two = relay.subscribe(lambda b: None, session=SID)
    send(relay, control("p", "pause"))
    thread, box = in_thread(lambda: post(hooks.port, pre("t1")))
    until(lambda: any(e["kind"] == "tool.waiting" for e in stream(relay)), "a held call")
    one.close()
    threading.Event().wait(0.2)
    assert not box
    two.close()
    thread.join(WAIT)
    assert box == [{}]
    until(lambda: any(e["data"].get("control") == "unwatched" for e in stream(relay)), "the unwatched release")
    assert relay.call(SID, "t1").status == "running"
    assert post(hooks.port, pre("t2")) == {}


def test_resume_releases_every_held_call(relay: Relay, hooks: HookSource) -> None:
    post(hooks.port, pre("t0"))
    relay.subscribe(lambda b: None, session=SID)
    send(relay, control("p", "pause"))
    threads = [in_thread(lambda c=c: post(hooks.port, pre(c))) for c in ("t1", "t2")]
    until(lambda: sum(e["kind"] == "tool.waiting" for e in stream(relay)) == 2, "two held calls")
    resumed = send(relay, control("r", "resume"))
    for thread, _ in threads:
        thread.join(WAIT)
    assert [box for _, box in threads] == [[{}], [{}]]
    assert sorted(resumed["data"]["call_ids"]) == ["t1", "t2"], "the two holds arrive in either order"
    assert [relay.call(SID, c).status for c in ("t1", "t2")] == ["running", "running"]


def test_the_control_api_goes_through_the_relay(relay: Relay, hooks: HookSource) -> None:
    post(hooks.port, pre("t0"))
    answer = post(hooks.port, control("c1", "inject", text="hello"), "/control")
    assert answer["outcome"]["kind"] == "control.applied"
    assert outcomes(stream(relay)) == [("c1", "control.applied")]
    conn = http.client.HTTPConnection("127.0.0.1", hooks.port, timeout=WAIT)
    conn.request("GET", "/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    sessions = json.loads(conn.getresponse().read())["sessions"]
    conn.close()
    (row,) = [s for s in sessions if s["session"] == SID]
    assert row["steering"]["queued_injections"] == 1
    assert row["capabilities"]["inject"] is True


def test_recorder_writes_the_hooked_sessions_merged_stream(relay: Relay, hooks: HookSource, tmp_path: Path) -> None:
    from watchkeeper.adapters.files.feed import convert_file

    relay.add_source(IterSource("transcript", [make_event("m:1", SID, "message.user", {"text": "hi"}),
                                               make_event("m:2", "other", "message.user", {"text": "x"})]))
    until(lambda: len(stream(relay)) == 1, "one event")
    recorder = Recorder(tmp_path, want=hooks.steering.knows, read_range=relay.read_range)
    relay.subscribe(recorder)
    relay.subscribe(lambda b: None, session=SID)
    post(hooks.port, pre("t0"))
    send(relay, control("c1", "pause"))
    until(lambda: len(stream(relay)) >= 4, "four events")
    expected = [e["id"] for e in stream(relay)]
    recording = tmp_path / f"{SID}.jsonl"
    for _ in range(int(WAIT / 0.02)):
        if recording.exists() and [e["id"] for e in convert_file(recording)] == expected:
            break
        threading.Event().wait(0.02)
    replayed = list(convert_file(recording))
    assert [e["id"] for e in replayed] == expected
    assert replayed[0]["id"] == "m:1"
    assert [e["data"]["by"] for e in replayed if e["kind"] == "control.applied"] == ["tester"]
    assert not (tmp_path / "other.jsonl").exists()


def test_the_control_api_answers_a_control_passed_on_with_the_far_sides_own_outcome(
        relay: Relay, hooks: HookSource) -> None:
    """``POST /control`` (what ``ctl`` uses) answered a control for a followed relay's session with the
    provisional "sent; its outcome follows" as ``control.applied``: ``ctl`` said applied, and exited 0, for a
    control the far side refused."""
    from remote_support import TOKEN as REMOTE_TOKEN
    from remote_support import Served

    from watchkeeper.adapters.remote import RemoteSource

    far = Served()
    try:
        far_hooks = serve_hooks(far.relay, TOKEN)
        assert far_hooks.ready.wait(WAIT) and far_hooks.error is None
        post(far_hooks.port, {"session_id": "far", "cwd": "/w", "hook_event_name": "SessionStart"})
        relay.add_source(RemoteSource(far.url, REMOTE_TOKEN))
        until(lambda: relay.session("far") is not None, "the far session, followed")
        answer = post(hooks.port, control("c-far", "approve", "far", call_id="nope"), "/control")
        assert answer["outcome"]["kind"] == "control.rejected"
        assert answer["outcome"]["data"]["reason"] == "call nope is not held"
        answer = post(hooks.port, control("c-far-2", "inject", "far", text="hello"), "/control")
        assert answer["outcome"]["kind"] == "control.applied" and "queued" in answer["outcome"]["data"]["reason"]
    finally:
        far.stop()


def test_a_hooked_session_that_ended_rejects_every_control_until_a_hook_says_it_is_back(
        relay: Relay, hooks: HookSource) -> None:
    """After SessionEnd, inject, pause, cancel and step were each ``control.applied`` ("queued: the agent gets
    it with its next hook reply") for an agent that would send no hook again."""
    post(hooks.port, {"session_id": SID, "cwd": "/w", "hook_event_name": "SessionStart"})
    post(hooks.port, {"session_id": SID, "cwd": "/w", "hook_event_name": "SessionEnd", "reason": "other"})
    until(lambda: any(e["kind"] == "session.ended" for e in stream(relay)), "the session's end")
    relay.subscribe(lambda batch: None, session=SID)
    for n, (kind, extra) in enumerate((("inject", {"text": "hi"}), ("pause", {}), ("cancel", {}), ("step", {}))):
        outcome = send(relay, control(f"late-{n}", kind, **extra))
        assert outcome["kind"] == "control.rejected" and "the session ended" in outcome["data"]["reason"], kind
    (row,) = [r for r in relay.listing() if r["id"] == SID]
    assert row["steerable"] is False
    post(hooks.port, {"session_id": SID, "cwd": "/w", "hook_event_name": "UserPromptSubmit", "prompt": "again"})
    until(lambda: send(relay, control(f"back-{len(stream(relay))}", "inject", text="hi"))["kind"]
          == "control.applied", "the session steerable again")
