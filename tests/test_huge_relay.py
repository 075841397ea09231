"""The relay's side of a rebuilt history (``relay/history.py``), with small hand-made events.

A source that binds the history host emits provisional events, rebuilds the
session's history in a worker thread, and commits it; another source adds its
own events to the same session meanwhile. What the session holds afterwards,
and what each kind of subscriber is told, is checked event by event.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from huge_support import WAIT, Collector
from waiting import until

from watchkeeper.protocol import Emit, Event, make_event
from watchkeeper.relay import Relay

S = "sess-1"


def ev(id: str, kind: str = "notice", data: dict | None = None, session: str = S) -> Event:
    return make_event(id, session, kind, data if data is not None else {"level": "info", "text": id},
                      ts="2026-11-27T10:00:00.000Z")


def usage(id: str, n: int) -> Event:
    return ev(id, "usage", {"input_tokens": n, "output_tokens": 1})


class RebuildingSource:
    """Emits ``provisional``, then (when ``go`` is set) rebuilds ``history`` off the loop and commits it."""

    name = "rebuilding"
    agent_kind = "test"

    def __init__(self, provisional: list[Event], history: list[Event], superseded: set[str],
                 late: list[Event] | None = None) -> None:
        self.provisional, self.history, self.superseded = provisional, history, superseded
        #: emitted after ``prepare`` numbered the history: the commit must number it again.
        self.late = late
        self.host = None
        self.go = threading.Event()
        self.emitted = threading.Event()

    def bind_history(self, host) -> None:  # type: ignore[no-untyped-def]
        self.host = host

    async def run(self, emit: Emit) -> None:
        assert self.host is not None, "the relay did not offer a history host"
        emit(self.provisional)
        self.emitted.set()
        self.host.progress(S, 0.5)
        builder = self.host.begin(S)
        while not self.go.is_set():
            await asyncio.sleep(0.01)
        await asyncio.to_thread(builder.add, self.history[: len(self.history) // 2])
        await asyncio.to_thread(builder.add, self.history[len(self.history) // 2:])
        await asyncio.to_thread(builder.prepare)
        if self.late:
            emit(self.late)
        builder.commit(self.superseded)
        self.host.progress(S, None)
        await asyncio.sleep(3600)


class OneBatch:
    name = "hooks"

    def __init__(self, events: list[Event]) -> None:
        self.events = events

    async def run(self, emit: Emit) -> None:
        emit(self.events)


@pytest.fixture
def relay():
    r = Relay().start()
    yield r
    r.stop()


def test_a_rebuilt_history_becomes_a_new_generation(relay: Relay) -> None:
    provisional = [ev("start"), ev("tail-1"), usage("u-tail", 10), ev("only-provisional")]
    history = [ev("start"), ev("h-1"), ev("h-1"), usage("u-1", 5), ev("tail-1"), usage("u-tail", 10)]
    src = RebuildingSource(provisional, history, superseded={"start", "tail-1", "u-tail", "only-provisional"})
    follower, everything = Collector(), Collector()
    relay.subscribe(follower, S, on_resync=follower.resync)
    relay.subscribe(everything)
    relay.add_source(src)
    assert src.emitted.wait(WAIT)
    until(lambda: (relay.session(S) or relay.sessions()[0]).indexing == 0.5)
    relay.add_source(OneBatch([ev("from-hooks")]))
    assert follower.wait(lambda: len(follower.events) == 5)
    info = relay.session(S)
    assert info is not None and info.tokens_in == 10 and info.history_from == 0

    src.go.set()
    assert follower.wait(lambda: bool(follower.resyncs))
    want = ["start", "h-1", "u-1", "tail-1", "u-tail", "from-hooks"]
    assert follower.wait(lambda: len(follower.events) >= 5 + len(want))
    session, start, end, _ = follower.resyncs[0]
    assert (session, start, end) == (S, 5, 5 + len(want))
    new = follower.events[5:]
    assert [e["id"] for e in new] == want and [e["seq"] for e in new] == list(range(start, end))
    assert relay.read_range(S, start, end) == new

    info = relay.session(S)
    assert info is not None and info.indexing is None and info.history_from == start
    assert (info.events, info.tokens_in, info.last_seq) == (len(want), 15, end - 1)

    assert everything.wait(lambda: "h-1" in [e["id"] for e in everything.events])
    seen = [e["id"] for e in everything.events]
    assert sorted(seen) == sorted(set(seen)), "the all-sessions stream repeated an id"
    assert set(seen) == set(want) | {"only-provisional"}

    relay.add_source(OneBatch([ev("h-1"), ev("after")]))
    assert follower.wait(lambda: follower.events[-1]["id"] == "after")
    assert follower.events[-1]["seq"] == end and len(follower.events) == 5 + len(want) + 1


def test_a_late_follower_starts_at_the_current_generation(relay: Relay) -> None:
    src = RebuildingSource([ev("p")], [ev("a"), ev("b")], superseded={"p"})
    src.go.set()
    relay.add_source(src)
    until(lambda: (info := relay.session(S)) is not None and info.history_from == 1)
    late = Collector()
    relay.subscribe(late, S, on_resync=late.resync)
    assert late.wait(lambda: len(late.events) == 2)
    assert [e["id"] for e in late.events] == ["a", "b"] and not late.resyncs
    assert [e["seq"] for e in late.events] == [1, 2]


def test_an_event_between_prepare_and_commit(relay: Relay) -> None:
    src = RebuildingSource([ev("p")], [ev("a"), ev("b")], superseded={"p"}, late=[ev("late")])
    src.go.set()
    got = Collector()
    relay.subscribe(got, S, on_resync=got.resync)
    relay.add_source(src)
    assert got.wait(lambda: bool(got.resyncs) and got.events[-1]["id"] == "late")
    _, start, end, _ = got.resyncs[0]
    new = [e for e in got.events if e["seq"] >= start]
    assert (start, end) == (2, 5)
    assert [(e["id"], e["seq"]) for e in new] == [("a", 2), ("b", 3), ("late", 4)]
