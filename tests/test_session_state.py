"""The one session-state fold (``protocol.session``), and that the relay and the viewer both read it.

The relay's ``SessionInfo`` and the viewer store's state are fed the same
stream here and must agree on every fact they both show.
"""

from __future__ import annotations

from typing import Any

from watchkeeper.protocol import Event, make_event
from watchkeeper.protocol.session import SessionState, merge_capabilities, title_from_text
from watchkeeper.relay.summary import Summary
from watchkeeper.viewer.model.timeline_store import TimelineStore

S = "s1"


def ev(n: int, kind: str, data: dict[str, Any]) -> Event:
    return {**make_event(f"e{n}", S, kind, data), "ts": f"2026-12-06T10:00:{n:02d}.000Z", "seq": n}  # type: ignore[typeddict-item]


STREAM = [
    ev(0, "session.started", {"agent_kind": "claude-code", "cwd": "/w", "capabilities": {"pause": True, "why": "x"}}),
    ev(1, "message.user", {"text": "\n  Fix   the build\nand more"}),
    ev(2, "message.assistant", {"text": "ok", "model": "m-1"}),
    ev(3, "usage", {"input_tokens": 10, "output_tokens": 2, "cost_usd": 0.5}),
    ev(4, "state", {"state": "running"}),
    ev(5, "tool.waiting", {"call_id": "a", "reason": "approval", "name": "Bash", "input": {"command": "ls"}}),
    ev(6, "tool.waiting", {"call_id": "b", "reason": "breakpoint", "rule": "rm"}),
    ev(7, "control.applied", {"control_id": "c1", "control": "resume", "call_id": "a", "call_ids": ["a", "b"]}),
    ev(8, "tool.finished", {"call_id": "a"}),
    ev(9, "tool.waiting", {"call_id": "a", "reason": "approval"}),
    ev(10, "raw", {"record": "?"}),
]


def test_the_fold_reads_title_model_usage_state_and_held_calls() -> None:
    st = SessionState()
    changed = [st.fold(e) for e in STREAM[:7]]
    assert changed == [False] * 5 + [True, True]
    assert (st.title, st.model, st.cwd, st.agent_kind) == ("Fix the build", "m-1", "/w", "claude-code")
    assert st.tokens == (10, 2, 0, 0) and st.cost_usd == 0.5
    assert st.state == "waiting" and list(st.held) == ["a", "b"] and st.held["b"].why() == "breakpoint «rm»"
    assert st.fold(STREAM[7]) and not st.held and st.state == "running", "one resume let both calls go"
    for e in STREAM[8:]:
        st.fold(e)
    assert not st.held, "a finished call is not held again by a late copy of its waiting event"
    assert (st.events, st.raw, st.first_ts, st.last_ts) == (11, 1, STREAM[0]["ts"], STREAM[-1]["ts"])


def test_session_end_lets_every_held_call_go() -> None:
    st = SessionState()
    for e in STREAM[:6]:
        st.fold(e)
    assert st.fold(ev(11, "session.ended", {})) and st.state == "finished" and not st.held


def test_the_relay_and_the_viewer_agree() -> None:
    summary, store = Summary(S, "unknown"), TimelineStore()
    for i in range(len(STREAM)):
        summary.fold(STREAM[i])
        store.add([STREAM[i]])
        info, st = summary.info, store.session
        assert (info.title, info.model, info.cwd, info.agent_kind) == (st.title, st.model, st.cwd, st.agent_kind)
        assert (info.tokens_in, info.tokens_out, info.cost_usd) == (*st.tokens[:2], st.cost_usd)
        assert info.state == (st.state or "idle") and info.needs_attention == bool(st.held)
        assert info.events == st.events and info.last_ts == st.last_ts and info.capabilities == st.capabilities
    held_then_resumed = store.calls.get(S, "b")
    assert held_then_resumed is not None and held_then_resumed.status == "running", "the store let the call go"


def test_titles_and_capabilities() -> None:
    assert title_from_text("\n\n  a  b \n c") == "a b" and title_from_text(3) is None
    assert title_from_text("x" * 300) == "x" * 199 + "…"
    assert merge_capabilities({"pause": True, "why": "a"}, {"pause": False, "step": True, "why": None}) == {
        "pause": True, "step": True, "why": "a"}
