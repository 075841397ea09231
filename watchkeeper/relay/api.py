"""The relay's public, thread-safe API: what viewers and servers may rely on.

Callbacks run on the relay's thread; a Textual viewer forwards each batch with
``post_message`` (thread-safe, non-blocking) and never blocks in a callback.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..adapters.base import ReadCancelled as ReadCancelled
from ..adapters.base import cancellable as cancellable
from ..protocol import ControlModel, Event
from ..protocol.origin import Origin
from ..protocol.session import Held, SessionState

#: Receives events in batches (flushed at 50 ms or 1,000 events), in seq order per session.
BatchCallback = Callable[[list[Event]], None]
#: ``(session, start, end)``: the session's history was rebuilt (a huge file indexed in the
#: background); seq ``start``…``end - 1`` is all of it in order, and events before ``start`` are stale.
ResyncCallback = Callable[[str, int, int], None]


@dataclass
class SessionInfo:
    """One session as the sessions screen lists it; kept current by the relay."""

    session: str
    agent_kind: str
    title: str | None = None
    cwd: str | None = None
    model: str | None = None
    state: str = "idle"
    #: Written to in the last minutes or with an open channel (``protocol.activity.judge``).
    live: bool = False
    #: An open hook, SDK, ACP or remote channel to the agent: live however long it is quiet.
    channel: bool = False
    #: A running source still has the session: more of it may come (a finished replay's has not).
    followed: bool = False
    last_ts: str | None = None
    last_seq: int = -1
    events: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cache_read: int = 0
    tokens_cache_creation: int = 0
    cost_usd: float | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    needs_attention: bool = False
    #: The calls held for the person, oldest first (the approvals inbox lists them across sessions).
    held: tuple[Held, ...] = ()
    #: While a huge transcript's earlier history is indexed in the background: the fraction done.
    indexing: float | None = None
    #: The seq where the session's current generation starts (0 unless its history was rebuilt).
    history_from: int = 0
    #: Where it comes from, when a source follows other relays (``attach``, a hub's edges); None: here.
    origin: Origin | None = None


@dataclass
class Folded:
    """A session's state as the relay folded it (``protocol.session.SessionState``, a copy) over its current
    generation: seq ``start`` (``SessionInfo.history_from``) … ``stop - 1``."""

    state: SessionState
    start: int
    stop: int


class Subscription(Protocol):
    def close(self) -> None: ...


class RelayAPI(Protocol):
    epoch: str

    def sessions(self) -> list[SessionInfo]: ...

    def subscribe(self, callback: BatchCallback, session: str | None = None,
                  from_seq: int = 0, on_resync: ResyncCallback | None = None) -> Subscription:
        """Events with ``seq >= from_seq`` (one session, or all), history first, then live.

        ``on_resync`` (one session): start at the current generation, and be told of a new one.
        """
        ...

    def read_range(self, session: str, start: int, stop: int) -> list[Event]:
        """Events with ``start <= seq < stop`` of one session; for paging through huge sessions. Inside
        :func:`cancellable` on the calling thread, a read that converts a transcript again stops with
        :class:`ReadCancelled` once the check gives up."""
        ...

    def folded(self, session: str) -> Folded | None:
        """The session's state as the relay has folded it, so that a viewer reading a long history back
        need not fold it again; None for a session it does not have."""
        ...

    def on_sessions(self, callback: Callable[[list[SessionInfo]], None]) -> Subscription:
        """Called (throttled) whenever the session list or a session's summary changes."""
        ...

    def control(self, control: ControlModel | dict[str, Any], timeout: float = ...) -> Future[Event]:
        """Send one control from any thread; the future holds its one outcome (``ProtocolError`` if invalid)."""
        ...
