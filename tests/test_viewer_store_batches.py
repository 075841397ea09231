"""The timeline's store folds a batch a column at a time: any batching gives the same store, and the view
it keeps as rows arrive is the view a rebuild makes from scratch."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

import orjson
import pytest
from test_viewer_support import SESSION, SUB, Events

from watchkeeper.protocol import Event
from watchkeeper.relay import IterSource, Relay
from watchkeeper.retention import collections_paused
from watchkeeper.viewer.model import batch_columns, history_reload, rows
from watchkeeper.viewer.model.timeline_filter import Filter
from watchkeeper.viewer.model.timeline_store import TimelineStore


def session() -> list[Event]:
    """Every kind the fold treats apart: calls, a subagent (announced before and after its rows), queued
    prompts (delivered, taken back), usage and state rows (hidden), errors, raw records, notices."""
    ev = Events()
    out = [*ev.whole_session()]
    late = "agent-late"
    out += [
        ev.call_start("toolu_spawn", "Task", {"description": "Late one"}),
        ev.ev("message.user", {"text": "inside", "origin": "prompt"}, late),
        *ev.call("toolu_in", "Read", {"file_path": "/w/a.py"}, "x", agent=late),
        ev.ev("agent.started", {"agent_id": late, "parent_call_id": "toolu_spawn"}),
        ev.call_end("toolu_spawn", "done"),
        ev.ev("message.user", {"text": "later", "origin": "queued", "queue_id": "q1"}),
        ev.ev("message.user", {"text": "gone", "origin": "queued", "queue_id": "q2"}),
        ev.ev("state", {"state": "idle"}),
        ev.ev("message.user", {"text": "later", "origin": "prompt", "queue_id": "q1"}),
        ev.ev("message.user", {"text": "gone", "origin": "queue-removed", "queue_id": "q2"}),
        ev.ev("notice", {"level": "error", "text": "boom"}),
        *ev.call("toolu_fail", "Bash", {"command": "false"}, "no", "error"),
    ]
    for i in range(40):
        agent = SUB if i % 5 else "main"
        out += [ev.ev("message.assistant", {"text": f"step {i}"}), ev.usage(10, 1),
                *ev.call(f"toolu_{i}", "Bash" if i % 2 else "Read", {"command": f"c{i}"}, agent=agent)]
    return out


def folded(events: list[Event], size: int, flt: Filter | None = None) -> TimelineStore:
    store = TimelineStore()
    if flt is not None:
        store.filter = flt
    for i in range(0, len(events), size):
        added = store.add([dict(e) for e in events[i:i + size]])  # type: ignore[misc]
        if added.rebuild:
            store.rebuild()
    return store


def columns(store: TimelineStore) -> dict[str, Any]:
    return {"kinds": list(store.event_kinds), "agents": list(store.row_agents), "heads": list(store.heads),
            "view": list(store.view), "kind_counts": +store.kinds, "agent_rows": +store.agent_rows,
            "tools": +store.tools, "errors": store.errors, "superseded": set(store.superseded),
            "names": dict(store.agent_names)}


@pytest.mark.parametrize("flt", [None, Filter(hide=frozenset({"usage", "state"})), Filter(tool="Bash")],
                         ids=["all", "hidden-kinds", "a-filter"])
def test_any_batching_folds_the_same_store(flt: Filter | None) -> None:
    events = session()
    one = columns(folded(events, 1, flt))
    for size in (2, 7, 64, len(events)):
        assert columns(folded(events, size, flt)) == one, f"batches of {size}"


def test_the_counts_and_the_view_are_what_the_rows_say() -> None:
    events = session()
    store = folded(events, 16, Filter(hide=frozenset({"usage"})))
    shown = [h for h in store.heads if h not in store.superseded]
    assert +store.kinds == Counter(rows.KIND_LABELS.get(store.event_kinds[h], store.event_kinds[h]) for h in shown)
    assert +store.agent_rows == Counter(store.row_agents[h] for h in shown)
    assert "agent-late" in store.agent_rows and store.agent_names["agent-late"] == "Late one"
    kept = list(store.view)
    assert kept and all(store.event_kinds[h] != "usage" for h in kept)
    store.rebuild()
    assert store.view == kept, "the view kept as rows arrived is the one a rebuild makes"


def test_collections_pause_and_resume_nested() -> None:
    assert gc.isenabled()
    with collections_paused():
        assert not gc.isenabled()
        with collections_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the outer pause still holds"
    assert gc.isenabled()
    gc.disable()
    try:
        with collections_paused():
            pass
        assert not gc.isenabled(), "collection stays off when it was off before"
    finally:
        gc.enable()


def calls_of(store: TimelineStore) -> dict[str, Any]:
    """The call index's columns: which event is which call's, each call's name and outcome."""
    index = store.call_index
    return {"number": list(index.number), "next": list(index.next), "ids": list(index.ids),
            "first": list(index.first), "last": list(index.last), "flags": bytes(index.flags),
            "names": [index.name(no) for no in range(len(index))], "sessions": list(index.sessions)}


def state_of(store: TimelineStore) -> dict[str, Any]:
    st = store.session
    return {"events": st.events, "first_ts": st.first_ts, "last_ts": st.last_ts, "title": st.title, "cwd": st.cwd,
            "model": st.model, "state": st.state, "tokens": st.tokens, "cost": st.cost_usd, "held": dict(st.held),
            "queued": dict(st.queued), "finished": list(st.finished), "raw": st.raw, "paused": st.paused}


def test_a_history_read_back_from_the_spill_folds_as_it_came(monkeypatch: pytest.MonkeyPatch) -> None:
    """``read_store`` over a relay that spilled most of the session: the same store, event for event, as
    the session folded one event at a time — calls, rows and the session's state, which is the relay's own
    fold, not folded again — and collection is on again afterwards."""
    monkeypatch.setattr(history_reload, "SLICE", 37)  # slices that cut calls and subagents apart
    events = session() * 3
    events += [e for _ in range(3) for e in session()[-200:]]  # batches with no subagent start nor control
    for i, event in enumerate(events):
        event = events[i] = dict(event)  # type: ignore[assignment]
        event["id"] = f"{event['id']}#{i}"
        data = event.get("data")
        if isinstance(data, dict) and "call_id" in data:
            event["data"] = {**data, "call_id": f"{data['call_id']}#{i // len(session())}"}
    ev, early = Events(), "agent-early"
    events += [ev.ev("agent.started", {"agent_id": early, "parent_call_id": "toolu_pre"}),  # before its call
               *(ev.ev("message.assistant", {"text": f"early {i}"}, early) for i in range(3)),
               *(ev.ev("message.assistant", {"text": f"filler {i}"}) for i in range(80)),
               *ev.call("toolu_pre", "Task", {"description": "Early one"}, "done"),
               *(ev.ev("message.assistant", {"text": f"after {i}"}) for i in range(80))]
    relay = Relay(keep=64).start()
    try:
        relay.add_source(IterSource("test", iter([dict(e) for e in events])))
        assert relay.drain(30)
        served = relay.read_range(SESSION, 0, len(events))
        assert len(served) == len(events) and relay.in_memory() < len(events) // 2, "most of it spilled"
        live = TimelineStore()
        for event in served:
            if live.add([dict(event)]).rebuild:  # type: ignore[list-item]
                live.rebuild()
        reload = history_reload.HistoryReload(0, len(events) - 20)
        read = history_reload.read_store(relay, SESSION, reload, lambda: False)
        assert read is not None and gc.isenabled()
        assert read.fold_from == len(events), "the relay's fold, to its last event"
        if read.add(served[-20:]).rebuild:  # the live tail the screen adds before it adopts the store
            read.rebuild()
        assert columns(read) == columns(live)
        assert calls_of(read) == calls_of(live)
        assert state_of(read) == state_of(live)
        assert [read.row(h).summary for h in read.view] == [live.row(h).summary for h in live.view]
        relay.add_source(IterSource("later", iter([dict(session()[-1], id="later-1")])))
        assert relay.drain(30)
        read.add(relay.read_range(SESSION, len(events), len(events) + 1))
        assert read.session.events == live.session.events + 1 and read.fold_from == 0, "a later event is folded"
    finally:
        relay.stop()


def test_a_batch_read_as_columns_shares_equal_strings_and_marks_what_is_missing() -> None:
    def decoded(events: list[dict[str, Any]]) -> list[Event]:
        return orjson.loads(orjson.dumps(events))  # type: ignore[no-any-return]  # each string a copy of its own

    ev, shared = Events(), dict[str, str]()
    plain = decoded([ev.ev("message.assistant", {"text": "a"}), ev.ev("agent.started", {"agent_id": "sub-1"}),
                     ev.ev("message.assistant", {"text": "b"}, "sub-1")])
    kinds, agents = batch_columns.columns(plain, shared)
    assert kinds == ["message.assistant", "agent.started", "message.assistant"]
    assert agents == ["main", "sub-1", "sub-1"] and agents[1] is agents[2] and kinds[0] is kinds[2]
    odd = decoded([{"id": "no-kind", "agent": "sub-1"}, {"id": "no-agent", "kind": "message.user"},
                   {"id": "int-agent", "kind": "message.user", "agent": 7}])
    kinds2, agents2 = batch_columns.columns(odd, shared)
    assert kinds2 == ["?", "message.user", "message.user"] and agents2 == ["sub-1", "main", 7]
    assert agents2[0] is agents[1] and kinds2[1] is kinds2[2], "one copy of each equal string, across batches"
    assert batch_columns.columns(decoded(plain), shared)[0][0] is kinds[0]
