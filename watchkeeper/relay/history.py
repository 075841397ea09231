"""A session's history rebuilt off the relay's loop, then swapped in as a new generation.

A huge transcript is opened tail-first (``adapters/files/tailfirst.py``): its newest
events go through the relay at once, provisionally, while a worker thread
converts the whole file into a :class:`Rebuild`. The rebuild does there what
ingesting would do on the loop — dedupe by id, fold the session's summary,
merge tool calls — and even numbers them, for the log's length when the
conversion ends (``prepare``), so that the commit on the loop only links
them in (~10 ms for a 1 GB file's 400k events; if an event came in between,
it numbers them again there, ~60 ms).

Generations keep ``seq`` monotonic: the new one is appended after everything
the session's log holds, so a subscriber resuming from the last seq it saw
still gets every event after it, and nothing is renumbered under it. Its
events are, in order: the rebuilt history (file order, the ids
``convert_file`` gives), then the events of the previous generation that the
rebuild did not supersede (another source's events, a subagent file's). A
subscriber that passed ``on_resync`` is told where the generation starts and
skips the stale rest of the old one; the all-sessions journal gets only the
events whose ids are new, so a subscriber that knows nothing of generations
still sees each id once. ``SessionInfo.history_from`` is where the current
generation starts; ``SessionInfo.indexing`` the fraction indexed meanwhile.

A rebuild with a *backing* (``adapters.base.Backing``: the transcript itself) keeps
no events: each kept event's place goes to the backing, which the session's log
reads back on demand (``spill.SpillLog.back``), so a 1 GB history costs ~16 bytes
an event in the relay instead of ~1.7 KB.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Protocol

from ..adapters.base import event_key
from ..protocol import Event, fit
from ..protocol.bounds import sized
from ..protocol.calls import TOOL_KINDS
from ..retention import retained
from .idset import IdSet
from .summary import Summary

if TYPE_CHECKING:
    from ..adapters.base import Backing


class Book(Protocol):
    """What a rebuild reads of the session book (``book.py``), from its worker thread."""

    epoch: str

    def log_mark(self, session: str) -> tuple[int, IdSet]: ...

    def merge_calls(self, events: list[Event]) -> None: ...

    def follow(self, session: str, agent_kind: str, backing: Backing) -> None: ...


class Rebuild:
    """One session's history as a source re-reads it; ``add`` from one thread at a time, ``commit`` on the loop."""

    def __init__(self, host: RelayHistoryHost, session: str, backing: Backing | None = None) -> None:
        self.host = host
        #: where the kept events are (their places, not the events), if anywhere: then ``events`` stays empty.
        self.backing = backing
        #: events kept in ``backing``; and those of them (by index) whose ids the log already had.
        self.count = 0
        self.stale: list[int] = []
        self.key = host.key
        self.name = host.name
        self.session = session
        self.events: list[Event] = []
        #: the encoded size of each of ``events`` (``window.Window``'s bound in bytes).
        self.sizes = array("I")
        self.ids = IdSet()
        self.summary = Summary(session, host.agent_kind)
        #: events of another session met on the way: ingested the usual way at the commit.
        self.others: list[Event] = []
        self.closed = False
        #: the seq the events are numbered from, and those with ids new to the session (once prepared).
        self.base = 0
        self.fresh: list[Event] | None = None

    def add(self, events: list[Event], at: list[int] | None = None) -> None:
        """Dedupe by id, number (provisionally), merge tool calls, fold the summary; with a backing,
        ``at[i]`` is where ``events[i]`` can be read again, and only that is kept."""
        if self.backing is not None:
            fresh, tools = self._add_backed(events, at if at is not None else [-1] * len(events))
        else:
            fresh = tools = self._add_held(events)
        # Even backed: the converter's state grows with the file, and full collections would walk it again.
        retained(len(fresh))
        if not fresh:
            return
        self.host.book.merge_calls(tools)
        self.summary.fold_many(fresh, self.host.report)

    def _add_held(self, events: list[Event]) -> list[Event]:
        book = self.host.book
        sid, ids, kept, sizes, epoch, base = self.session, self.ids, self.events, self.sizes, book.epoch, self.base
        old_ids = book.log_mark(sid)[1] if self.fresh is not None else None
        fresh: list[Event] = []
        for ev in events:
            if not isinstance(ev, dict) or ev.get("session") != sid:
                self.others.append(ev)
                continue
            ev, size = sized(ev)
            eid = ev.get("id")
            if eid is not None and not ids.add_new(eid):
                continue
            ev["seq"] = base + len(kept)
            ev["epoch"] = epoch
            kept.append(ev)
            sizes.append(size)
            fresh.append(ev)
            if old_ids is not None and eid not in old_ids:
                self.fresh.append(ev)  # type: ignore[union-attr]
        return fresh

    def _add_backed(self, events: list[Event], at: list[int]) -> tuple[list[Event], list[Event]]:
        """The hot loop of indexing a huge transcript (400k events a GB): what an event leaves behind is its
        record's offset and its ``event_key``, handed to the backing once per batch; and its tool events.
        Only those are fitted (``protocol.fit``): the call table keeps them, the rest are dropped after
        the summary's fold (and the key is taken before, as ``backing.py`` takes it reading them again)."""
        book, backing = self.host.book, self.backing
        assert backing is not None
        sid, epoch, seq = self.session, book.epoch, self.base + self.count
        old_ids = book.log_mark(sid)[1]
        stale, add_new, others, key = self.stale, self.ids.add_new, self.others, event_key
        fresh: list[Event] = []
        tools: list[Event] = []
        places: list[int] = []
        keys: list[int] = []
        try:
            for ev, where in zip(events, at, strict=True):
                if where < 0 or not isinstance(ev, dict) or ev.get("session") != sid:
                    others.append(ev)
                    continue
                eid = ev.get("id")
                if eid is not None and not add_new(eid):
                    continue
                k = key(ev)
                if ev.get("kind") in TOOL_KINDS:
                    ev = fit(ev)
                    tools.append(ev)
                ev["seq"] = seq
                ev["epoch"] = epoch
                if eid in old_ids:
                    stale.append(seq - self.base)
                seq += 1
                places.append(where)
                keys.append(k)
                fresh.append(ev)
        finally:
            backing.extend(places, keys)
            self.count += len(places)
        return fresh, tools

    def prepare(self) -> None:
        """Off the loop, when the conversion has (nearly) caught up: number for the log as it is now."""
        self.number(*self.host.book.log_mark(self.session))

    def number(self, base: int, old_ids: IdSet) -> None:
        """Number from ``base``, and note which events have ids the session's log does not hold."""
        fresh: list[Event] = []
        for i, ev in enumerate(self.events, base):
            ev["seq"] = i
            if ev.get("id") not in old_ids:
                fresh.append(ev)
        self.base, self.fresh = base, fresh

    def commit(self, superseded: Collection[str]) -> None:
        """On the relay's loop: the history is complete; swap it in as the session's new generation."""
        if not self.closed:
            self.closed = True
            self.host.install(self, superseded)

    def abandon(self) -> None:
        self.closed = True
        self.events, self.sizes, self.ids = [], array("I"), IdSet()


class RelayHistoryHost:
    """The relay's ``adapters.base.HistoryHost``, handed to a source with ``bind_history``:
    rebuilds of its sessions, and their progress.

    ``install`` swaps a committed rebuild in (on the relay's loop), ``progress`` records how far
    indexing is, ``report`` tells of an event kept but not summarised; ``index_after`` is the relay's.
    """

    def __init__(self, book: Book, key: int, name: str, agent_kind: str, *,
                 install: Callable[[Rebuild, Collection[str]], None],
                 progress: Callable[[str, float | None], None], report: Callable[[str], None],
                 index_after: float = 0.0) -> None:
        self.book = book
        self.index_after = index_after
        self.key = key
        self.name = name
        self.agent_kind = agent_kind
        self.install = install
        self.report = report
        self._progress = progress

    def begin(self, session: str, backing: Backing | None = None) -> Rebuild:
        return Rebuild(self, session, backing)

    def progress(self, session: str, fraction: float | None) -> None:
        """On the relay's loop; None: nothing is being indexed for ``session`` any more."""
        self._progress(session, fraction)

    def follow(self, session: str, backing: Backing) -> None:
        """On the relay's loop: ``session``'s log may forget events ``backing`` holds (``spill.SpillLog``)."""
        self.book.follow(session, self.agent_kind, backing)
