"""Control routing: each control goes to the session's source that can honour it, and has one outcome.

The outcome (``control.applied`` or ``control.rejected``, with the reason),
and what the control did, go into the session's stream under the source that
acted. Controls are idempotent by id: one seen before is answered with its
first outcome and acts no more (a re-send after a reconnect is safe).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from ..protocol import ControlModel, Event, Kind, make_event
from .sources import Steerable

#: A session's sources as (key, name) pairs, its agent kind, and why it cannot be steered (if it says).
SessionSources = tuple[list[tuple[int, str]], str, str | None]
#: The relay's ingest: (source key, source name, agent kind, events).
Ingest = Callable[[int, str, str, list[Event]], None]
OUTCOMES_KEPT = 10_000


class ControlRouter:
    """Lives on the relay's loop; knows the running steerable sources by key."""

    def __init__(self, sources_of: Callable[[str], SessionSources | None], ingest: Ingest) -> None:
        self._sources_of = sources_of
        self._ingest = ingest
        self._steerable: dict[int, Steerable] = {}
        self._outcomes: OrderedDict[tuple[str, str], Event] = OrderedDict()

    def add(self, key: int, source: object) -> None:
        if isinstance(source, Steerable):
            self._steerable[key] = source

    def remove(self, key: int) -> None:
        self._steerable.pop(key, None)

    def route(self, control: ControlModel) -> Event:
        key = (control.session, control.id)
        outcome = self._outcomes.get(key)
        if outcome is not None:
            return outcome
        found = self._sources_of(control.session)
        sources, agent_kind, why = found if found is not None else ([], "unknown", None)
        for k, _ in sources:
            source = self._steerable.get(k)
            if source is not None and source.can_steer(control.session):
                result = source.control(control)
                outcome = result.outcome
                self._ingest(k, source.name, source.agent_kind, result.events)
                break
        else:
            reason = (f"unknown session {control.session}" if found is None else
                      f"this session cannot be steered: {why or 'none of its sources honours controls'}")
            outcome = make_event(f"control:{control.id}", control.session, Kind.CONTROL_REJECTED, {
                "control_id": control.id, "control": str(control.control), "by": control.by, "reason": reason,
                "call_id": control.call_id, "sent_ts": control.ts})
            if sources:
                self._ingest(sources[0][0], sources[0][1], agent_kind, [outcome])
        self._outcomes[key] = outcome
        if len(self._outcomes) > OUTCOMES_KEPT:
            self._outcomes.popitem(last=False)
        return outcome

    def unwatched(self, session: str) -> None:
        """The last viewer of ``session`` left: the sources that hold its calls let them go."""
        found = self._sources_of(session)
        for k, _ in found[0] if found is not None else []:
            source = self._steerable.get(k)
            if source is not None:
                events = source.unwatched(session)
                if events:
                    self._ingest(k, source.name, source.agent_kind, events)
