"""A session's summary (``SessionInfo``) kept current from its events, one at a time.

The fold itself is ``protocol.session.SessionState``, the one every reader
uses; this keeps the relay's ``SessionInfo`` in step with it. Only kinds that
say something about the session as a whole are copied across, because this
runs once per event on the relay's hot path.
"""

from __future__ import annotations

from ..protocol import Event
from ..protocol.kinds import Kind, State
from ..protocol.session import SessionState
from .api import SessionInfo

#: Kinds after which more than the counters of ``SessionInfo`` may have changed.
_SESSION_KINDS = frozenset({Kind.SESSION_STARTED, Kind.SESSION_ENDED, Kind.MESSAGE_USER, Kind.MESSAGE_ASSISTANT,
                            Kind.USAGE, Kind.STATE, Kind.TOOL_WAITING, Kind.TOOL_FINISHED, Kind.CONTROL_APPLIED})


class Summary:
    """``SessionInfo`` plus the session's folded state it is copied from."""

    __slots__ = ("info", "state")

    def __init__(self, session: str, agent_kind: str) -> None:
        self.info = SessionInfo(session=session, agent_kind=agent_kind)
        self.state = SessionState(agent_kind=agent_kind)

    def fold(self, ev: Event) -> None:
        """Update the summary with one event (already numbered)."""
        st, info = self.state, self.info
        st.fold(ev)
        info.events = st.events
        info.last_seq = ev["seq"]
        info.last_ts = st.last_ts
        if ev.get("kind") in _SESSION_KINDS:
            info.agent_kind = st.agent_kind or info.agent_kind
            info.title, info.cwd, info.model = st.title, st.cwd, st.model
            info.capabilities = st.capabilities
            info.tokens_in, info.tokens_out, info.tokens_cache_read, info.tokens_cache_creation = st.tokens
            info.cost_usd = st.cost_usd
            info.state = st.state or State.IDLE
            info.needs_attention = bool(st.held)
