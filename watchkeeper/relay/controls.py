"""Control routing: each control goes to the session's source that can honour it, and has one outcome.

The outcome (``control.applied`` or ``control.rejected``, with the reason),
and what the control did, go into the session's stream under the source that
acted. Controls are idempotent by id: one seen before is answered with its
first outcome and acts no more (a re-send after a reconnect is safe).

A source may only pass a control on (a remote relay, ``adapters/remote/``):
its result then carries ``pending``, a future of the outcome the far side
decides. :meth:`ControlRouter.submit` waits for that real outcome, at most
``FORWARD_TIMEOUT`` seconds, and otherwise answers with a rejection that says
the remote relay did not answer; :meth:`ControlRouter.route`, for callers that
cannot wait, answers at once with the source's provisional outcome.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

from ..protocol import ControlModel, Event, Kind, make_event
from ..protocol.controls import ENDED_REASON
from .sources import Steerable


class SessionSources(NamedTuple):
    """What the router needs of a session: its sources, and what its summary says about steering it."""

    #: (key, name) of each source that has emitted into it.
    sources: list[tuple[int, str]]
    agent_kind: str
    #: the capabilities' ``why``: why some (or all) controls are unavailable, if it says.
    why: str | None
    #: the capabilities offer some control (an agent that honours controls reported it).
    offered: bool
    #: the session ended (``session.ended``).
    ended: bool


#: Why a control cannot reach a session whose agent honours controls but is not connected now.
GONE = "its agent is not connected now (no source that honours controls follows it)"
#: The relay's ingest: (source key, source name, agent kind, events).
Ingest = Callable[[int, str, str, list[Event]], None]
OUTCOMES_KEPT = 10_000
#: Seconds a control passed on to a remote relay waits for that relay's outcome (under the viewer's own wait).
FORWARD_TIMEOUT = 10.0


def rejected(control: ControlModel, reason: str) -> Event:
    """The ``control.rejected`` outcome of ``control``, with the reason the person reads."""
    return make_event(f"control:{control.id}", control.session, Kind.CONTROL_REJECTED, {
        "control_id": control.id, "control": str(control.control), "by": control.by, "reason": reason,
        "call_id": control.call_id, "sent_ts": control.ts})


class ControlRouter:
    """Lives on the relay's loop; knows the running steerable sources by key."""

    def __init__(self, sources_of: Callable[[str], SessionSources | None], ingest: Ingest) -> None:
        self._sources_of = sources_of
        self._ingest = ingest
        self._steerable: dict[int, Steerable] = {}
        self._outcomes: OrderedDict[tuple[str, str], Event] = OrderedDict()
        #: controls passed on and not answered yet: (provisional outcome, the real one's future, who has it).
        self._forwarded: dict[tuple[str, str], tuple[Event, asyncio.Future[Event], str]] = {}

    def add(self, key: int, source: object) -> None:
        if isinstance(source, Steerable):
            self._steerable[key] = source

    def remove(self, key: int) -> None:
        self._steerable.pop(key, None)

    def route(self, control: ControlModel) -> Event:
        """Act on ``control`` now; its outcome, or for one passed on to a remote relay, the provisional one."""
        return self._dispatch(control)[0]

    def submit(self, control: ControlModel, timeout: float = FORWARD_TIMEOUT) -> asyncio.Future[Event]:
        """Act on ``control`` now; the future holds its one real outcome (on the relay's loop)."""
        outcome, pending, where = self._dispatch(control)
        if pending is None:
            done: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
            done.set_result(outcome)
            return done
        return asyncio.ensure_future(self._answer(control, pending, where, timeout))

    async def _answer(self, control: ControlModel, pending: asyncio.Future[Event], where: str,
                      timeout: float) -> Event:
        try:
            return await asyncio.wait_for(asyncio.shield(pending), timeout)
        except TimeoutError:
            return rejected(control, f"the remote relay did not answer within {timeout:g} s ({where}; "
                                     "the control is re-sent when it is back, and may still apply)")
        except Exception as e:
            return rejected(control, f"the remote relay gave no outcome ({where}: {e!r})")

    def _dispatch(self, control: ControlModel) -> tuple[Event, asyncio.Future[Event] | None, str]:
        key = (control.session, control.id)
        outcome = self._outcomes.get(key)
        if outcome is not None:
            return outcome, None, ""
        forwarded = self._forwarded.get(key)
        if forwarded is not None:
            return forwarded
        found = self._sources_of(control.session)
        sources, agent_kind = (found.sources, found.agent_kind) if found is not None else ([], "unknown")
        for k, _ in sources:
            source = self._steerable.get(k)
            if source is not None and source.can_steer(control.session):
                result = source.control(control)
                self._ingest(k, source.name, source.agent_kind, result.events)
                outcome = result.outcome
                pending: asyncio.Future[Event] | None = getattr(result, "pending", None)
                if pending is not None:
                    if not pending.done():
                        self._forwarded[key] = (outcome, pending, source.name)
                        pending.add_done_callback(partial(self._answered, key))
                        return outcome, pending, source.name
                    if not pending.cancelled() and pending.exception() is None:
                        outcome = pending.result()
                break
        else:
            why = self.why_not(control.session) or "none of its sources honours controls"
            outcome = rejected(control, why if found is None else f"this session cannot be steered: {why}")
            if sources:
                self._ingest(sources[0][0], sources[0][1], agent_kind, [outcome])
        self._keep(key, outcome)
        return outcome, None, ""

    def why_not(self, session: str) -> str | None:
        """Why no control can act on ``session`` now; None if a source that honours controls has it."""
        found = self._sources_of(session)
        if found is None:
            return f"unknown session {session}"
        for k, _ in found.sources:
            source = self._steerable.get(k)
            if source is not None and source.can_steer(session):
                return None
        if not found.offered:
            return found.why or "none of its sources honours controls"
        return ENDED_REASON if found.ended else GONE

    def _answered(self, key: tuple[str, str], pending: asyncio.Future[Event]) -> None:
        """The far side answered (perhaps after the wait gave up): later repeats get its outcome."""
        self._forwarded.pop(key, None)
        if not pending.cancelled() and pending.exception() is None:
            self._keep(key, pending.result())

    def _keep(self, key: tuple[str, str], outcome: Event) -> None:
        self._outcomes[key] = outcome
        if len(self._outcomes) > OUTCOMES_KEPT:
            self._outcomes.popitem(last=False)

    def unwatched(self, session: str) -> None:
        """The last viewer of ``session`` left: the sources that hold its calls let them go."""
        found = self._sources_of(session)
        for k, _ in found.sources if found is not None else []:
            source = self._steerable.get(k)
            if source is not None:
                events = source.unwatched(session)
                if events:
                    self._ingest(k, source.name, source.agent_kind, events)
