"""The viewer's event log: older events kept as their JSON read back equal, and the store works the same over them."""

from __future__ import annotations

from typing import Any

from watchkeeper.protocol import make_event
from watchkeeper.viewer.model.event_log import CHUNK, TAIL, EventLog
from watchkeeper.viewer.model.history_reload import head_of
from watchkeeper.viewer.model.timeline_filter import Filter
from watchkeeper.viewer.model.timeline_store import TimelineStore

N = TAIL + 900


def events(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % 3 == 0:
            out.append(make_event(f"u{i}", "s", "message.user", {"text": f"prompt {i} ünïcode"}))
        elif i % 3 == 1:
            out.append(make_event(f"t{i}:started", "s", "tool.started",
                                  {"call_id": f"c{i}", "name": "Bash", "input": {"command": f"make t{i}"}}))
        else:
            out.append(make_event(f"t{i - 1}:finished", "s", "tool.finished",
                                  {"call_id": f"c{i - 1}", "status": "error" if i % 30 == 2 else "ok",
                                   "output": f"out {i}"}))
    return out


def test_older_events_are_kept_encoded_and_read_back_equal() -> None:
    source = events(N)
    log = EventLog(source)
    assert len(log) == N
    assert len(log._chunks) == (N - TAIL) // CHUNK and all(isinstance(c, bytes) for c in log._chunks)
    assert log[N - 1] is source[N - 1]  # the newest stay as they came
    assert log[0] == source[0] and log[0] is not source[0]
    assert log[-N] == source[0] and log[-1] == source[-1]
    assert log[10:20] == source[10:20]
    assert list(log) == source and log == source
    assert log != source[:-1]


def test_an_event_orjson_cannot_encode_is_kept_as_it_came() -> None:
    odd = make_event("big", "s", "notice", {"text": "x", "n": 1 << 70})
    source = [odd, *events(TAIL + 2 * CHUNK)]
    log = EventLog(source)
    assert log[0] is odd and isinstance(log._chunks[0], list) and isinstance(log._chunks[1], bytes)
    assert log[CHUNK + 3] == source[CHUNK + 3] and log == source


def test_find_id_finds_the_newest_event_with_that_id_decoding_only_matches() -> None:
    source = events(N)
    log = EventLog(source)
    assert log.find_id("u0") == 0
    assert log.find_id("t4:finished") == 5
    assert log.find_id(f"t{N - 3}:finished") == N - 2  # in the tail, as it came
    assert log.find_id("nope") is None
    log._recent.clear()
    assert log.find_id(f"u{CHUNK + 2}") == CHUNK + 2
    assert list(log._recent) == [1]  # only the chunk that holds it was decoded


def test_the_store_over_encoded_events_shows_the_same_rows_and_views() -> None:
    source = events(N)
    store = TimelineStore()
    for i in range(0, N, 1000):
        store.add(source[i : i + 1000])
    plain = TimelineStore()
    plain.events = EventLog()
    plain.add(source)
    assert isinstance(store.events._chunks[0], bytes)
    now = None
    assert [store.row(h, now) for h in store.view[:50]] == [plain.row(h, now) for h in plain.view[:50]]
    call = store.call_of(4)
    assert call is not None and call.status == "ok" and call.output == "out 5"
    assert len(store.row_events(1)) == 2
    store.rebuild(Filter(errors=True))
    assert store.view and all(store.is_error(h) for h in store.view)
    assert store.view[0] == 1  # the first failed call: c1 (its result at index 2)
    store.rebuild(Filter(text="prompt 9 "))
    assert [store.events[h]["id"] for h in store.view] == ["u9"]
    assert head_of(store, source[6]) == 6
    assert head_of(store, source[8]) == 7  # a call's result: its call's row
