"""One row per subagent, however many ``agent.started`` events announce it (its own file, its parent's)."""

from __future__ import annotations

from conftest import CC_FIXTURES
from test_viewer_support import SUB, Events

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.viewer.model.timeline_store import MERGED_STARTS, Filter, TimelineStore


def started_rows(store: TimelineStore) -> list[int]:
    return [h for h in store.view if store.events[h]["kind"] == "agent.started"]


def test_a_second_agent_started_updates_the_first_row() -> None:
    ev = Events()
    store = TimelineStore()
    store.add([*ev.started(), ev.call_start("toolu_task", "Task", {"description": "Count files"})])
    # Its own file first (no parent known yet), then the parent's link, as the adapter emits them.
    own = ev.ev("agent.started", {"agent_id": SUB, "parent_call_id": None, "prompt": "Count the .py files"},
                agent=SUB, id=f"cc:agent:{SUB}:started")
    store.add([own, ev.ev("message.user", {"text": "Count the .py files"}, agent=SUB)])
    head = started_rows(store)[0]
    before = store.stamp(head, None)
    link = ev.ev("agent.started", {"agent_id": SUB, "parent_call_id": "toolu_task", "description": "Count files",
                                   "prompt": "ignored: the first value wins"}, agent=SUB,
                 id=f"cc:agent:{SUB}:link:toolu_task")
    added = store.add([link])
    assert added.rows == 0 and head in added.changed and added.rebuild
    store.rebuild()
    assert started_rows(store) == [head]
    assert store.parent_call[SUB] == "toolu_task"
    assert store.prefix(SUB) != ()  # now under the Task call
    assert store.stamp(head, None) != before
    row = store.row(head)
    assert "".join(t for t, _ in row.summary) == f"┆ started  Count files  ({SUB})"
    assert [e["id"] for e in store.row_events(head)] == [own["id"], link["id"]]
    assert store.head_event(head)["data"]["prompt"] == "Count the .py files"
    assert store.agent_rows[SUB] == 2 and store.kinds["subagent"] == 1
    # A third one naming another parent does not move it: the first parent stays.
    store.add([ev.ev("agent.started", {"agent_id": SUB, "parent_call_id": "toolu_other"}, agent=SUB)])
    assert store.parent_call[SUB] == "toolu_task" and len(started_rows(store)) == 1


def test_a_subagent_with_its_own_file_has_one_started_row() -> None:
    path = CC_FIXTURES / "-home-dev-project" / "78d01735-0000-49d5-a966-000000000197.jsonl"
    events = list(convert_file(path))
    starts = [e for e in events if e["kind"] == "agent.started"]
    assert len(starts) == 2 and len({e["data"]["agent_id"] for e in starts}) == 1
    store = TimelineStore()
    store.add(events)
    store.rebuild()
    rows = started_rows(store)
    assert len(rows) == 1
    store.rebuild(Filter(kind="subagent"))
    assert len(started_rows(store)) == 1 and len(store.view) == 2  # started, finished



class Counted(list):  # type: ignore[type-arg]
    """The store's events, counting which are read."""

    def __init__(self) -> None:
        super().__init__()
        self.read: set[int] = set()

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, int):
            self.read.add(index if index >= 0 else len(self) + index)
        return super().__getitem__(index)


def test_an_agent_started_thousands_of_times_reads_a_bounded_few_of_its_starts() -> None:
    """A grown or crafted transcript can reuse one agent id thousands of times: its row must not read them all
    (a history read back from disk chunk by chunk would never finish drawing that row)."""
    ev = Events()
    store = TimelineStore(Counted())
    starts = [ev.ev("agent.started", {"agent_id": SUB, "parent_call_id": None, "prompt": f"run {i}"}, agent=SUB,
                    id=f"start-{i}") for i in range(2_000)]
    store.add([*ev.started(), *starts])
    (head,) = started_rows(store)
    log = store.events
    assert isinstance(log, Counted)
    log.read.clear()
    assert store.head_event(head)["data"]["prompt"] == "run 0"
    assert len(store.row_events(head)) == MERGED_STARTS
    assert len(log.read) <= MERGED_STARTS, f"{len(log.read)} events read for one row"
