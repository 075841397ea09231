"""A session's summary (``SessionInfo``) kept current from its events, one at a time.

The fold itself is ``protocol.session.SessionState``, the one every reader
uses; this keeps the relay's ``SessionInfo`` in step with it. Only kinds that
say something about the session as a whole are copied across, because this
runs once per event on the relay's hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..protocol import Event
from ..protocol.kinds import Kind, State
from ..protocol.session import SessionState
from .api import SessionInfo


class Summary:
    """``SessionInfo`` plus the session's folded state it is copied from."""

    __slots__ = ("info", "state")

    def __init__(self, session: str, agent_kind: str) -> None:
        self.info = SessionInfo(session=session, agent_kind=agent_kind)
        self.state = SessionState(agent_kind=agent_kind)

    def fold(self, ev: Event) -> None:
        """Update the summary with one event (already numbered)."""
        self._publish(ev, (ev.get("kind", ""),), self.state.fold(ev))

    def fold_many(self, events: Iterable[Event], report: Callable[[str], None]) -> None:
        """:meth:`fold` each (numbered), copying into ``SessionInfo`` once at the end: what a rebuilt history of
        400k events folds. The same result: each field copied is only written by kinds whose copy covers it,
        so copying after the last of them is copying after each. One that fails is reported and skipped."""
        fold = self.state.fold
        kinds: set[str] = set()
        held_changed = False
        last = None
        for ev in events:
            try:
                held_changed |= fold(ev)
            except Exception as e:
                report(f"event {ev.get('id')!r} kept but not summarised: {e!r}")
                continue
            kinds.add(ev.get("kind", ""))
            last = ev
        if last is not None:
            self._publish(last, kinds, held_changed)

    def _publish(self, last: Event, kinds: Iterable[str], held_changed: bool) -> None:
        """Copy into ``SessionInfo`` what events of ``kinds`` changed, ``last`` the newest of them."""
        st, info = self.state, self.info
        info.events = st.events
        info.last_seq = last["seq"]
        info.last_ts = st.last_ts
        for kind in kinds:
            copy = _COPY.get(kind)
            if copy is not None:
                copy(st, info)
        if held_changed:
            _copy_state(st, info)


def _copy_identity(st: SessionState, info: SessionInfo) -> None:
    info.agent_kind = st.agent_kind or info.agent_kind
    info.title, info.cwd, info.model = st.title, st.cwd, st.model
    info.capabilities = st.capabilities
    _copy_state(st, info)


def _copy_title(st: SessionState, info: SessionInfo) -> None:
    info.title = st.title


def _copy_model(st: SessionState, info: SessionInfo) -> None:
    info.model = st.model


def _copy_usage(st: SessionState, info: SessionInfo) -> None:
    info.tokens_in, info.tokens_out, info.tokens_cache_read, info.tokens_cache_creation = st.tokens
    info.cost_usd = st.cost_usd
    info.model = st.model


def _copy_state(st: SessionState, info: SessionInfo) -> None:
    info.state = st.state or State.IDLE
    info.needs_attention = bool(st.held)
    info.held = tuple(st.held.values())


#: kind -> what of ``SessionInfo`` it may change beyond the counters (a held call taken or let go aside).
_COPY: dict[str, Callable[[SessionState, SessionInfo], None]] = {
    Kind.SESSION_STARTED: _copy_identity,
    Kind.SESSION_ENDED: _copy_state,
    Kind.STATE: _copy_state,
    Kind.MESSAGE_USER: _copy_title,
    Kind.MESSAGE_ASSISTANT: _copy_model,
    Kind.USAGE: _copy_usage,
}
