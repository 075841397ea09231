"""The timeline's store and its rows rendered without an app."""

from __future__ import annotations

from test_viewer_support import SUB, Events

from watchkeeper.viewer.model.timeline_store import Filter, TimelineStore
from watchkeeper.viewer.widgets.timeline import Timeline


def summaries(store: TimelineStore) -> list[str]:
    return ["".join(t for t, _ in store.row(h).summary) for h in store.view]


def test_a_tool_call_is_one_row_updated_in_place() -> None:
    ev = Events()
    store = TimelineStore()
    store.add(ev.started())
    added = store.add([ev.call_start("c1", "Bash", {"command": "make"})])
    assert added.appended == 1
    head = store.view[-1]
    assert store.call_of(head) is not None and store.call_of(head).status == "running"  # type: ignore[union-attr]
    before = store.stamp(head, None)
    added = store.add([ev.call_end("c1", "done")])
    assert added.rows == 0 and added.changed == {head}
    assert len(store.view) == 3
    assert store.call_of(head).status == "ok"  # type: ignore[union-attr]
    assert store.stamp(head, None) != before
    assert [e["kind"] for e in store.row_events(head)] == ["tool.started", "tool.finished"]


def test_only_a_running_call_ticks() -> None:
    """A live timeline repaints each second only the rows whose elapsed time runs on."""
    ev = Events()
    store = TimelineStore()
    store.add([*ev.started(), ev.call_start("c1", "Bash", {"command": "make"})])
    prompt, call = store.view[-2], store.view[-1]
    assert store.ticking(call) and not store.ticking(prompt)
    assert store.stamp(call, 100.0) != store.stamp(call, 101.0)
    store.add([ev.call_end("c1", "done")])
    assert not store.ticking(call) and store.stamp(call, 100.0) == store.stamp(call, 101.0)


def test_subagent_rows_sit_under_the_spawning_call_and_collapse() -> None:
    store = TimelineStore()
    store.add(Events().whole_session())
    kinds = [store.kind_label(h) for h in store.view]
    task = next(h for h in store.view if (c := store.call_of(h)) is not None and c.name == "Task")
    at = store.view.index(task)
    under = store.view[at + 1 : at + 6]
    assert [store.events[h]["kind"] for h in under] == [
        "agent.started", "message.user", "tool.started", "message.assistant", "agent.finished",
    ]
    assert all(store.row(h).summary[0] == ("┆ ", "dim") for h in under)
    assert "▾" in store.spawn_marker(task)
    store.toggle_collapsed("toolu_task")
    store.rebuild()
    assert len(store.view) == len(kinds) - 5
    assert store.spawn_marker(task).startswith("▸")
    # Collapsed: a live event of the subagent is counted on the call's row, not shown.
    assert store.add([Events().ev("thinking", {"text": "more"}, agent=SUB)]).appended == 0
    store.toggle_collapsed("toolu_task")
    store.rebuild()
    assert len(store.view) == len(kinds) + 1


def test_subagent_events_before_their_link_move_under_the_call_on_rebuild() -> None:
    ev = Events()
    store = TimelineStore()
    store.add(ev.started())
    sub_rows = [ev.ev("message.user", {"text": "sub prompt"}, agent=SUB)]
    assert not store.add(sub_rows).rebuild
    store.add([ev.call_start("toolu_task", "Task", {"description": "d"})])
    main_after = ev.ev("message.assistant", {"text": "waiting on the subagent"})
    store.add([main_after])
    added = store.add([ev.ev("agent.started", {"agent_id": SUB, "parent_call_id": "toolu_task"})])
    assert added.rebuild
    store.rebuild()
    texts = summaries(store)
    assert texts.index("Task  d  ▾ subagent (2)") < texts.index("┆ sub prompt") < texts.index(
        "waiting on the subagent"
    )
    # A later subagent row goes in the middle, before the main agent's newer row.
    added = store.add([ev.ev("message.assistant", {"text": "sub answer"}, agent=SUB)])
    assert added.inserted_at and summaries(store)[added.inserted_at[0]] == "┆ sub answer"


def test_filters_errors_tool_agent_kind_and_text() -> None:
    store = TimelineStore()
    store.add(Events().whole_session())

    def shown(flt: Filter) -> list[str]:
        store.rebuild(flt)
        return summaries(store)

    assert shown(Filter(errors=True)) == [
        "Bash  pytest -q tests/test_app.py",
        "not JSON: {this is not json",
    ]
    assert shown(Filter(tool="Glob")) == ["┆ Glob  **/*.py"]
    assert len(shown(Filter(agent=SUB))) == 5
    assert shown(Filter(kind="assistant"))[0] == "I'll run the tests first."
    assert shown(Filter(text="TYPEERROR")) == ["Bash  pytest -q tests/test_app.py"]
    assert shown(Filter(text="skips none")) == ["Fixed: `total` now skips None."]
    assert shown(Filter(errors=True, tool="Edit")) == []
    assert len(shown(Filter(hide=frozenset()))) == len(store.heads)
    quiet = store.kinds["usage"] + store.kinds["state"]
    assert quiet and len(shown(Filter())) == len(store.heads) - quiet, "usage and state rows are hidden by default"


def test_a_call_that_fails_later_joins_an_errors_only_view() -> None:
    ev = Events()
    store = TimelineStore()
    store.add(ev.started())
    store.add([ev.call_start("c1", "Bash", {"command": "make"})])
    store.rebuild(Filter(errors=True))
    assert store.view == []
    added = store.add([ev.call_end("c1", "make: *** Error 2", "error")])
    assert len(store.view) == 1 and added.inserted_at == [0]


def test_totals_sum_usage_and_count_raw_and_errors() -> None:
    store = TimelineStore()
    store.add(Events().whole_session())
    t = store.session
    assert t.tokens == (2000, 120, 2000, 20)
    assert t.cost_usd is not None and abs(t.cost_usd - 0.02) < 1e-9
    assert (t.raw, store.errors, t.title, t.cwd) == (1, 1, "Fix the failing test", "/home/dev/project")
    assert t.capabilities["why"].startswith("observe-only")
    assert t.events == len(store.events) and len(store.heads) < t.events


def test_build_view_stops_when_cancelled() -> None:
    store = TimelineStore()
    store.add(Events().whole_session())
    assert store.build_view(Filter(), frozenset(), len(store.heads), cancelled=lambda: True) is None


def test_render_row_without_an_app() -> None:
    ev = Events()
    timeline = Timeline(live=False)
    timeline.store.add([*ev.started(), *ev.call("c1", "Bash", {"command": "pytest"}, "boom", "error",
                                                duration_ms=1500)])
    head = timeline.store.view[-1]
    strip = timeline.render_row(head, 80)
    assert strip.cell_length == 80
    assert strip.text.split()[1:] == ["main", "tool", "Bash", "pytest", "✗", "error", "1.5s"]
    narrow = timeline.render_row(timeline.store.view[1], 35)
    assert narrow.cell_length == 35 and narrow.text.rstrip().endswith("user      Fix …")


def test_odd_events_become_rows_without_raising() -> None:
    ev = Events()
    odd: list[dict] = [
        {"v": 1, "id": "x1", "ts": "not a time", "session": "s", "agent": "main", "kind": "future.kind",
         "data": {"anything": [1, 2]}},
        {"v": 1, "id": "x2", "ts": "2026-11-27T18:00:00.000Z", "session": "s", "kind": "tool.started",
         "data": ["not", "a", "dict"]},
        {"v": 1, "id": "x3", "session": "s", "data": {}},
    ]
    store = TimelineStore()
    store.add([*ev.started(), *odd])  # type: ignore[list-item]
    assert len(store.view) == 5
    texts = [store.row(h) for h in store.view]
    assert texts[2].kind == "future.kind" and texts[2].time == "not a ti"
    assert texts[3].kind == "tool" and store.call_of(store.view[3]) is None
    assert texts[4].kind == "?"
    store.rebuild(Filter(text="anything"))
    assert len(store.view) == 1


def test_a_held_call_shows_the_session_waiting_until_it_is_let_go() -> None:
    from watchkeeper.protocol import make_event
    from watchkeeper.protocol.session import SessionState

    t = SessionState()
    t.fold(make_event("s1", "s", "state", {"state": "running"}))
    t.fold(make_event("w1", "s", "tool.waiting", {"call_id": "c1", "reason": "paused"}))
    t.fold(make_event("w2", "s", "tool.waiting", {"call_id": "c2", "reason": "paused"}))
    assert t.state == "waiting"
    t.fold(make_event("a1", "s", "control.applied", {"control_id": "x", "control": "approve", "call_id": "c1"}))
    assert t.state == "waiting"
    t.fold(make_event("a2", "s", "control.applied", {"control_id": "y", "control": "resume", "call_ids": ["c2"]}))
    assert t.state == "running"
