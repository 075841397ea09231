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
    assert st.state == "waiting" and list(st.held) == ["a", "b"] and st.held["b"].describe() == "breakpoint «rm»"
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


def test_held_calls_say_why_since_and_what_happens_at_expiry() -> None:
    st = SessionState()
    st.fold(ev(1, "tool.waiting", {"call_id": "old", "reason": "breakpoint", "rule": "rm"}))
    st.fold(ev(2, "tool.waiting", {"call_id": "p", "reason": "permission", "why": "permission",
                                   "since": "2026-12-06T09:59:00.000Z", "expires_at": "2026-12-06T10:09:00.000Z",
                                   "on_expiry": "deny"}))
    st.fold(ev(3, "tool.waiting", {"call_id": "c", "reason": "paused", "expires_at": "2026-12-06T10:10:00.000Z",
                                   "on_expiry": "continue"}))
    old, perm, cont = st.held["old"], st.held["p"], st.held["c"]
    assert (old.why, old.since, old.expires_at, old.expiry_text()) == ("breakpoint", STREAM[1]["ts"], None, None), \
        "an older peer's reason gives why; the event's time is when the hold began; no expiry is never"
    assert (perm.why, perm.since, perm.describe(), perm.expiry_text()) == \
        ("permission", "2026-12-06T09:59:00.000Z", "needs permission", "is denied")
    assert cont.why == "pause" and cont.expiry_text() == "goes on under the agent's own rules"


def test_a_queued_prompt_waits_until_delivered_or_removed() -> None:
    st = SessionState()
    assert st.fold(ev(1, "message.user", {"text": "next", "origin": "queued", "queue_id": "q1"}))
    assert st.fold(ev(2, "message.user", {"text": "later", "origin": "queued", "queue_id": "q2"}))
    assert st.queued == {"q1": "next", "q2": "later"} and st.title is None, "a queued prompt is not the title yet"
    assert st.fold(ev(3, "message.user", {"text": "next", "origin": "prompt", "queue_id": "q1"}))
    assert st.title == "next" and list(st.queued) == ["q2"]
    assert st.fold(ev(4, "message.user", {"text": "later", "origin": "queue-removed", "queue_id": "q2"}))
    assert not st.queued
    assert not st.fold(ev(5, "message.user", {"text": "plain"}))


def test_finished_calls_remembered_are_bounded_and_the_newest() -> None:
    from watchkeeper.protocol import make_event
    from watchkeeper.protocol.session import FINISHED_KEPT, SessionState

    st = SessionState(agent_kind="test")
    for i in range(FINISHED_KEPT + 50):
        st.fold(make_event(f"f{i}", "S", "tool.finished", {"call_id": f"c{i}", "status": "ok"}))
    assert len(st.finished) == FINISHED_KEPT
    assert f"c{FINISHED_KEPT + 49}" in st.finished and "c0" not in st.finished


def test_folding_a_batch_at_once_leaves_the_state_folding_each_event_leaves() -> None:
    batch = [
        make_event("s", "x", "session.started", {"agent_kind": "claude-code", "title": "t", "cwd": "/w"},
                   ts="2026-01-01T00:00:02Z"),
        make_event("early", "x", "message.user", {"text": "hello there"}, ts="2026-01-01T00:00:01Z"),
        make_event("w", "x", "tool.waiting", {"call_id": "c", "reason": "approval"}, ts="2026-01-01T00:00:03Z"),
        make_event("u", "x", "usage", {"input_tokens": 5, "output_tokens": 2}, ts="2026-01-01T00:00:04Z"),
        make_event("p", "x", "control.applied", {"control": "pause"}, ts="2026-01-01T00:00:05Z"),
        make_event("odd", "x", "state", {"state": "idle"}, ts=None),
    ]
    one, whole = SessionState(), SessionState()
    changed = [one.fold(dict(e)) for e in batch]  # type: ignore[arg-type]
    assert whole.fold_all([dict(e) for e in batch]) == any(changed)  # type: ignore[misc]
    assert whole.usage.tokens == one.usage.tokens == (5, 2, 0, 0)
    whole.usage = one.usage  # a tally compares by identity
    assert whole == one and whole.events == len(batch) and whole.first_ts == "2026-01-01T00:00:02Z"
    assert whole.last_ts == one.last_ts and whole.paused and "c" in whole.held


def test_a_peers_call_id_or_hold_reason_of_the_wrong_type_is_folded_not_dropped() -> None:
    """A list for a call id or a hold reason (an SDK agent or a peer sends what it likes) raised in the
    relay's fold: the event was kept, but the call was never shown held."""
    from watchkeeper.protocol.calls import CallTable

    odd = [ev(0, "session.started", {"agent_kind": "sdk"}),
           ev(1, "tool.started", {"call_id": ["c2"], "name": "Bash", "input": {}}),
           ev(2, "tool.waiting", {"call_id": "c1", "reason": ["approval"], "why": {"x": 1}, "name": "Bash"}),
           ev(3, "tool.finished", {"call_id": {"id": "c2"}})]
    table = CallTable()
    started, waiting, finished = (table.update(e) for e in odd[1:])
    assert started is None and finished is None and waiting is not None
    summary = Summary(S, "sdk")
    for e in odd:
        summary.fold(e)
    (held,) = summary.info.held
    assert (held.call_id, held.reason, held.why) == ("c1", None, "pause")
