"""A session's rebuilt history, loaded into a fresh timeline store off the UI loop.

When the relay swaps in a session's full history (a huge transcript opened
tail-first, indexed in the background: ``relay/history.py``), the screen keeps
showing what it has — the newest events, and live ones as they come — while
a thread worker folds the history into a new :class:`TimelineStore`. Then the
timeline adopts the new store in one UI turn, with the selected event still
selected (or still following the newest). Folding 400k events takes seconds;
done on the UI loop it would freeze the app, here it only shares the GIL.

The feed routes the new generation's history (seq below ``end``) to a
:class:`HistoryReload` and live events to the screen as before; the screen
adds those live events to the new store too before adopting it.

A session opened with a long history already in the relay loads the same way
(:func:`read_store`): the screen follows only its newest ``TAIL_FIRST`` events,
shown at once, while a worker reads the rest with range reads into a store that
keeps only seqs (``relay_events.py``), then adopts it. That store folds its calls a
column at a time (``store_special.py``) and takes the session's state (title, usage,
held calls) from the relay, which has folded every event already
(``RelayAPI.folded``), instead of folding a million events again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ...protocol import Event
from ...relay.api import RelayAPI, SessionInfo
from ...retention import collections_paused, retained
from .relay_events import RelayEvents
from .rows import Cell
from .timeline_store import TimelineStore

#: Events folded between looks at cancellation.
SLICE = 5_000
#: A session with more history than this is opened on its newest ``TAIL_FIRST`` events, the rest read
#: in a worker (:func:`read_store`).
BULK = 20_000
TAIL_FIRST = 2_000


class HistoryReload:
    """The events ``start`` … ``end - 1`` of a new generation, as the relay delivers them; thread-safe."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = start, end
        self.received = 0
        self._events: list[Event] = []
        self._cond = threading.Condition()
        self.cancelled = False

    @property
    def total(self) -> int:
        return self.end - self.start

    @property
    def complete(self) -> bool:
        return self.received >= self.total

    @property
    def fraction(self) -> float:
        return min(1.0, self.received / self.total) if self.total else 1.0

    def put(self, events: list[Event]) -> None:
        with self._cond:
            self._events.extend(events)
            self.received += len(events)
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self.cancelled = True
            self._cond.notify_all()

    def take(self, limit: int = SLICE, timeout: float = 0.1) -> list[Event] | None:
        """Up to ``limit`` events (waiting up to ``timeout`` for some); None once all were taken."""
        with self._cond:
            if not self._events and not self.complete and not self.cancelled:
                self._cond.wait(timeout)
            if not self._events:
                return None if self.complete or self.cancelled else []
            out, self._events = self._events[:limit], self._events[limit:]
            return out


def relay_store(relay: RelayAPI, session: str) -> TimelineStore:
    """An empty store for a session the relay holds: it keeps the events' seqs and reads them back."""
    return TimelineStore(RelayEvents(lambda start, stop: relay.read_range(session, start, stop), session))


def read_store(relay: RelayAPI, session: str, reload: HistoryReload,
               cancelled: Callable[[], bool]) -> TimelineStore | None:
    """In a worker thread: seq ``reload.start`` … ``reload.end - 1``, read from the relay, in a new store;
    None if cancelled first."""
    store = relay_store(relay, session)
    store.call_index.light = True
    folded = relay.folded(session)
    if folded is not None and folded.start == reload.start and folded.stop >= reload.end:
        store.session, store.fold_from = folded.state, folded.stop  # the relay's fold: not again here
    at, rebuild = reload.start, False
    with collections_paused():
        while at < reload.end:
            if cancelled() or reload.cancelled:
                return None
            stop = min(at + SLICE, reload.end)
            rebuild |= store.add(relay.read_range(session, at, stop), folded=stop <= store.fold_from).rebuild
            at = stop
            reload.received = at - reload.start
        store.call_index.settle()
        if rebuild:  # a subagent linked after its rows, a queued prompt delivered: the view as rows came is stale
            store.rebuild()
    retained(reload.total)  # what the store keeps (its tail, the calls kept whole) leaves the collector's sight
    return store


def load_store(reload: HistoryReload, cancelled: Callable[[], bool],
               store: TimelineStore | None = None) -> TimelineStore | None:
    """In a worker thread: the whole history in ``store`` (default a new one); None if cancelled first."""
    store = store if store is not None else TimelineStore()
    while not cancelled():
        batch = reload.take()
        if batch is None:
            return None if reload.cancelled else store
        if batch:
            store.add(batch)
            retained(len(batch))
    return None


def head_of(store: TimelineStore, event: Event | None) -> int | None:
    """The row (head index) that shows ``event`` in ``store``: its call's row, or the event's own."""
    if event is None:
        return None
    data = event.get("data")
    call_id = data.get("call_id") if isinstance(data, dict) else None
    if call_id and call_id in store.call_head:
        return store.call_head[call_id]
    return store.events.find_id(event.get("id"))


def history_note(info: SessionInfo | None, reload: HistoryReload | None) -> Cell | None:
    """What the status bar says while earlier history is on its way, if it is."""
    if info is not None and info.indexing is not None:
        return f"  indexing earlier history… {int(info.indexing * 100)}%", "warning"
    if reload is not None:
        return f"  loading earlier history… {int(reload.fraction * 100)}%", "warning"
    return None
