"""One session's events as the relay keeps them: numbered, deduplicated, in one list.

``seq`` is the event's index in the list, so a range read is a slice and a
subscriber's position is one integer. The events are the adapters' own dicts
(``seq`` and ``epoch`` are set on them in place, no wrapper): per event the
store costs one list slot and one set entry for the id (the id string itself
is shared with the event), so a million events fit in well under 100 MB of overhead.
"""

from __future__ import annotations

from ..protocol import Event
from .summary import Summary


class SessionLog:
    __slots__ = ("events", "ids", "sources", "summary")

    def __init__(self, session: str, agent_kind: str = "unknown") -> None:
        self.events: list[Event] = []
        self.ids: set[str] = set()
        #: key of each source that has emitted into this session -> its name.
        self.sources: dict[int, str] = {}
        self.summary = Summary(session, agent_kind)

    def append(self, ev: Event, epoch: str) -> bool:
        """Number and keep ``ev``; False (and nothing kept) if its id was seen before."""
        eid = ev.get("id")
        if eid is not None:
            if eid in self.ids:
                return False
            self.ids.add(eid)
        ev["seq"] = len(self.events)
        ev["epoch"] = epoch
        self.events.append(ev)
        return True

    def range(self, start: int, stop: int) -> list[Event]:
        start = max(start, 0)
        stop = min(stop, len(self.events))
        return self.events[start:stop] if start < stop else []

    def __len__(self) -> int:
        return len(self.events)
