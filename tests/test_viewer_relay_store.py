"""The timeline store over a real relay: events kept as seqs and read back, older calls folded again.

A relay with a small working set spills most of the session to disk, so what
the store reads back comes through the relay's range reads from its spill file.
Every check compares with a store that kept everything as it came.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from test_viewer_support import SESSION, Events, relay_with, screen_text, status_text
from waiting import WAIT, until_app

from watchkeeper.protocol import CallTable, make_event
from watchkeeper.relay import IterSource, Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model import store_calls
from watchkeeper.viewer.model.history_reload import HistoryReload, head_of, read_store, relay_store
from watchkeeper.viewer.model.relay_events import CHUNK, TAIL, RelayEvents
from watchkeeper.viewer.model.timeline_filter import Filter
from watchkeeper.viewer.model.timeline_store import TimelineStore
from watchkeeper.viewer.replay_app import ReplayApp
from watchkeeper.viewer.screens import session as session_screen
from watchkeeper.viewer.screens.replay import ReplayScreen
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.widgets.detail_pane import DetailPane

S = "s"
N = TAIL + 5 * CHUNK + 17


def events(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    i = 0
    while len(out) < n:
        i += 1
        if i % 4 == 0:
            out.append(make_event(f"u{i}", S, "message.user", {"text": f"prompt {i} ünïcode"}))
        elif i % 4 == 1:
            out.append(make_event(f"a{i}", S, "message.assistant", {"text": f"answer {i}"}))
        else:
            call = f"c{i}"
            out.append(make_event(f"{call}:started", S, "tool.started",
                                  {"call_id": call, "name": "Bash" if i % 3 else "Read",
                                   "input": {"command": f"make t{i}"}}))
            out.append(make_event(f"{call}:finished", S, "tool.finished",
                                  {"call_id": call, "status": "error" if i % 7 == 0 else "ok",
                                   "is_error": i % 7 == 0, "output": f"out {i}", "duration_ms": i}))
    return out[:n]


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay(keep=2 * CHUNK).start()
    try:
        yield relay
    finally:
        relay.stop()


def fill(relay: Relay, source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    relay.add_source(IterSource("test", iter([dict(e) for e in source])))
    assert relay.drain(30)
    return relay.read_range(S, 0, len(source))


def test_events_read_back_from_the_relay_equal_the_events_added(relay: Relay) -> None:
    served = fill(relay, events(N))
    log = RelayEvents(lambda a, b: relay.read_range(S, a, b), S)
    for event in served:
        log.append(event)
    assert len(log) == N
    assert log[N - 1] is served[N - 1]  # the newest are kept as they came
    assert log[0] == served[0] and log[0] is not served[0]
    assert log[-N] == served[0] and log[CHUNK + 3] == served[CHUNK + 3]
    assert log[10:20] == served[10:20]
    assert list(log) == served and log == served
    assert log.find_id(served[5]["id"]) == 5 and log.find_id(served[-2]["id"]) == N - 2
    assert log.find_id("nope") is None
    with pytest.raises(IndexError):
        log[N]


def test_an_event_without_seq_is_kept_and_one_the_relay_lost_reads_as_a_notice(relay: Relay) -> None:
    served = fill(relay, events(TAIL + 2 * CHUNK))
    log = RelayEvents(lambda a, b: relay.read_range(S, a, b), S)
    odd = make_event("no-seq", S, "notice", {"text": "came another way"})
    log.append(odd)
    for event in served:
        log.append(event)
    log.append({**served[-1], "id": "gone", "seq": 10_000_000})
    assert log[0] == odd and log[1] == served[0] and log[CHUNK] == served[CHUNK - 1]
    lost = RelayEvents(lambda a, b: [], S)
    for event in served:
        lost.append(event)
    assert lost[0]["kind"] == "notice" and lost[0]["seq"] == 0
    assert "no longer served" in lost[0]["data"]["text"]
    assert lost[len(served) - 1] is served[-1]


def test_a_store_over_the_relay_shows_the_same_rows_filters_and_calls(relay: Relay,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_calls, "KEPT", 8)
    monkeypatch.setattr(store_calls, "REBUILT", 4)
    served = fill(relay, events(N))
    whole = TimelineStore()
    whole.add([dict(e) for e in served])
    store = relay_store(relay, S)
    store.add(served[: N // 2])
    store.add(served[N // 2:])
    table = CallTable()  # every call kept whole, as the relay's book merges them
    for event in served:
        table.update(event)
    assert len(store.calls) < 20, "older finished calls are forgotten"
    assert store.view == whole.view and list(store.heads) == list(whole.heads)
    for head in store.view:
        call = store.call_of(head)
        assert call == (table.get(S, call.call_id) if call else None) == whole.call_of(head)
        assert store.row(head) == whole.row(head)
        assert store.row_events(head) == whole.row_events(head)
    assert store.errors == whole.errors > 0 and store.tools == whole.tools
    for flt in (Filter(errors=True), Filter(tool="Read"), Filter(text="t1"), Filter(kind="user")):
        store.rebuild(flt)
        whole.rebuild(flt)
        assert store.view == whole.view and store.view, flt
    assert head_of(store, served[3]) == head_of(whole, served[3])


def test_a_late_event_of_a_forgotten_call_goes_to_its_own_row(relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_calls, "KEPT", 4)
    source = events(400)
    late = make_event("c3:waiting-late", S, "tool.waiting", {"call_id": "c3", "reason": "late hook"})
    served = fill(relay, [*source, late])
    store = relay_store(relay, S)
    store.add(served)
    table = CallTable()
    for event in served:
        table.update(event)
    head = store.call_head["c3"]
    assert store.call_of(head) == table.get(S, "c3")
    assert store.call_of(head).status == "ok", "a finished call stays finished"  # type: ignore[union-attr]
    assert [e["id"] for e in store.row_events(head)] == ["c3:started", "c3:finished", "c3:waiting-late"]
    assert sum(1 for h in store.view if store.call_of(h) and store.call_of(h).call_id == "c3") == 1  # type: ignore[union-attr]


def test_read_store_reads_a_range_and_stops_when_cancelled(relay: Relay) -> None:
    served = fill(relay, events(N))
    reload = HistoryReload(0, N - 100)
    store = read_store(relay, S, reload, lambda: False)
    assert store is not None and reload.complete
    assert list(store.events) == served[: N - 100]
    reload = HistoryReload(0, N)
    reload.cancel()
    assert read_store(relay, S, reload, lambda: False) is None


class GatedRelay(Relay):
    """The real relay; its range reads wait until the test opens the gate (the worker's history read)."""

    def __init__(self) -> None:
        super().__init__(keep=2 * CHUNK)
        self.gate = threading.Event()

    def read_range(self, session: str, start: int, stop: int) -> list[dict[str, Any]]:
        assert self.gate.wait(WAIT)
        return super().read_range(session, start, stop)


async def test_a_long_history_opens_on_its_newest_events_then_the_whole_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_screen, "BULK", 600)
    monkeypatch.setattr(session_screen, "TAIL_FIRST", 50)
    relay = GatedRelay().start()
    try:
        relay.gate.set()
        served = fill(relay, events(1000))
        relay.gate.clear()
        app = WatchkeeperApp(relay, open_session=S)
        async with app.run_test(size=(120, 40)) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            await until_app(pilot, lambda: len(screen.timeline.store.events) == 50)
            assert [e["id"] for e in screen.timeline.store.events] == [e["id"] for e in served[-50:]]
            await until_app(pilot, lambda: "loading earlier history" in status_text(app))
            relay.add_source(IterSource("later", iter([make_event("late", S, "message.user", {"text": "meanwhile"})])))
            await until_app(pilot, lambda: screen.timeline.store.events[-1]["id"] == "late")
            relay.gate.set()
            await until_app(pilot, lambda: len(screen.timeline.store.events) == 1001)
            store = screen.timeline.store
            assert [e["id"] for e in store.events] == [e["id"] for e in served] + ["late"]
            whole = TimelineStore()
            whole.add([dict(e) for e in relay.read_range(S, 0, 1001)])
            assert store.view == whole.view and store.errors == whole.errors and store.tools == whole.tools
            assert [store.row(h) for h in store.view[:40]] == [whole.row(h) for h in whole.view[:40]]
            await until_app(pilot, lambda: "loading earlier history" not in status_text(app))
            await pilot.press("home")
            assert screen.timeline.selected_head == whole.view[0]
            assert "prompt" in screen_text(app) or "Bash" in screen_text(app)
    finally:
        relay.stop()


async def test_the_detail_pane_keeps_rows_it_rendered_until_the_theme_changes() -> None:
    relay = relay_with(Events().whole_session())
    try:
        app = WatchkeeperApp(relay, open_session=SESSION)
        async with app.run_test(size=(120, 40)) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            await until_app(pilot, lambda: len(screen.timeline.store.events) == screen.info.events)  # type: ignore[union-attr]
            pane = screen.query_one(DetailPane)
            await pilot.press("home")
            await pilot.pause()
            first = pane_text(pane)
            await pilot.press("down")
            await pilot.pause()
            second = pane_text(pane)
            assert second != first
            kept = len(pane._kept)
            await pilot.press("up")
            await pilot.pause()
            assert pane_text(pane) == first and len(pane._kept) == kept, "shown again from what was kept"
            app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
            await until_app(pilot, lambda: len(pane._kept) == 1, what="only the row shown, drawn in the new theme")
            await pilot.press("down")
            await pilot.pause()
            assert pane_text(pane) == second and len(pane._kept) == 2
    finally:
        relay.stop()


def pane_text(pane: DetailPane) -> str:
    return "\n".join(strip.text for strip in pane._strips)


async def test_a_replay_of_a_long_history_takes_every_event_through_its_playhead(
    relay: Relay, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(session_screen, "BULK", 600)
    monkeypatch.setattr(session_screen, "TAIL_FIRST", 50)
    served = fill(relay, events(1000))
    app = ReplayApp(relay, open_session=S, speed=0.0, looked_in=[])
    async with app.run_test(size=(120, 40)) as pilot:
        await until_app(pilot, lambda: isinstance(app.screen, ReplayScreen))
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        playhead = screen.playhead
        await until_app(pilot, lambda: playhead.ended and playhead.shown == len(screen.timeline.store.events) == 1000)
        assert [e["id"] for e in screen.timeline.store.events] == [e["id"] for e in served]


def held_and_let_go() -> list[dict[str, Any]]:
    """Calls in every state a history can leave them: held then approved (running, never finished),
    still held, denied, failed, unfinished, and finished after a hold."""
    def call(cid: str, name: str = "Bash") -> dict[str, Any]:
        data = {"call_id": cid, "name": name, "input": {"command": cid}}
        return make_event(f"{cid}:started", S, "tool.started", data)

    def wait(cid: str) -> dict[str, Any]:
        return make_event(f"{cid}:waiting", S, "tool.waiting", {"call_id": cid, "reason": "approval"})

    def done(cid: str, status: str, error: bool = False) -> dict[str, Any]:
        return make_event(f"{cid}:finished", S, "tool.finished",
                          {"call_id": cid, "status": status, "is_error": error, "output": cid})

    def applied(n: int, control: str, *cids: str) -> dict[str, Any]:
        return make_event(f"ctl{n}", S, "control.applied", {"control": control, "call_id": cids[0],
                                                           "call_ids": list(cids[1:])})

    return [
        call("approved"), wait("approved"), applied(1, "approve", "approved"),
        {**call("approved"), "id": "approved:started-by-the-transcript"},  # another source's copy, after
        call("held"), wait("held"),
        call("denied"), wait("denied"), applied(2, "deny", "denied"), done("denied", "denied"),
        call("failed", "Read"), done("failed", "error", True),
        call("unfinished"),
        call("later"), wait("later"), applied(3, "approve", "later", "held-elsewhere"), done("later", "ok"),
        *events(600),
        make_event("late-wait", S, "tool.waiting", {"call_id": "failed", "reason": "a hook's late copy"}),
    ]


def test_a_history_read_whole_folds_its_calls_as_the_live_store_does(relay: Relay,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_calls, "KEPT", 4)
    served = fill(relay, held_and_let_go())
    live = TimelineStore()
    for event in served:
        live.add([dict(event)])  # one at a time, as a live session arrives
    reload = HistoryReload(0, len(served))
    read = read_store(relay, S, reload, lambda: False)
    assert read is not None and not read.call_index.light
    assert len(read.calls) < 20, "only the unfinished calls and the newest are kept whole"
    assert read.view == live.view
    for head in read.view:
        assert read.call_of(head) == live.call_of(head), read.call_of(head)
    statuses = {c: read.call_of(read.call_head[c]).status for c in  # type: ignore[union-attr]
                ("approved", "held", "denied", "failed", "unfinished", "later")}
    assert statuses == {"approved": "running", "held": "waiting", "denied": "denied", "failed": "error",
                        "unfinished": "running", "later": "ok"}
    assert read.errors == live.errors and read.tools == live.tools
    for flt in (Filter(errors=True), Filter(tool="Read"), Filter(text="approved")):
        read.rebuild(flt)
        live.rebuild(flt)
        assert read.view == live.view and read.view, flt
