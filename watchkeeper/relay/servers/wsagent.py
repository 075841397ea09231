"""The SDK agents' side of the websocket server: one connection per agent run, and their sessions' grace.

An agent connection is a relay source (its events) and ``Steerable`` (its
sessions' controls, decided by the server's :class:`SdkSteering`). It knows
the server only through :class:`AgentHost`, so this module does not import
the server. What it queues for the agent is bounded: an agent that does not
read (past ``UNREAD_BYTES``) is closed with 1013 saying why; it reconnects, and
what it was owed is sent again (``SdkSteering.attach``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ...adapters.sdk_agent.steering import SdkResult, SdkSteering
from ...credentials import HookCredential
from ...protocol import ControlModel, Emit, Event, wire
from .wsviewer import close_unread

#: Messages queued for one agent, in bytes, before it is closed (as a viewer is: ``wsviewer.UNREAD_BYTES``).
UNREAD_BYTES = 8 * wire.FRAME_BYTES


class AgentHost(Protocol):
    """What an agent connection needs of the server it came through."""

    sdk: SdkSteering
    links: set[AgentLink]

    def viewers(self, session: str) -> int: ...

    def push(self, pushes: list[tuple[Any, dict[str, Any]]]) -> None: ...


class AgentLink:
    """One SDK agent's connection, as a relay source: live while connected, and ``Steerable``.

    The relay routes the controls of the agent's sessions here (``can_steer``,
    ``control``); they are decided by the server's :class:`SdkSteering` and
    the messages for the agent go out on this connection.
    """

    agent_kind = "sdk"

    def __init__(self, server: AgentHost, ws: ServerConnection, name: str,
                 credential: HookCredential | None = None,
                 durable: Callable[[dict[str, int]], bool] | None = None) -> None:
        self.server = server
        self.ws = ws
        self.name = name
        #: the agent credential it connected with (None: a person's token), which limits what it reports.
        self.credential = credential
        self.emit: Emit = lambda events: None
        self.started = asyncio.Event()
        self.closed = asyncio.Event()
        self.outbox: asyncio.Queue[bytes] = asyncio.Queue()
        #: bytes in ``outbox`` and being sent: past ``UNREAD_BYTES`` the agent is hung up on (``hung_up`` says why).
        self.unread = 0
        self.hung_up: str | None = None
        self._closing: asyncio.Task[None] | None = None
        self._ack: int | None = None
        #: ``durable({session: n})``: the first ``n`` events of each session are on disk (recorded).
        self.durable = durable
        #: acknowledgements waiting for their events to be recorded, in order.
        self._unrecorded: deque[tuple[int, dict[str, int]]] = deque()

    async def run(self, emit: Emit) -> None:
        self.emit = emit
        self.started.set()
        await self.closed.wait()

    async def writer(self) -> None:
        while True:
            data = await self.outbox.get()
            await self.ws.send(data, text=True)
            self.unread -= len(data)

    def send(self, msg: dict[str, Any]) -> None:
        """Queue ``msg`` for the agent; one that leaves over ``UNREAD_BYTES`` unsent hangs up on it instead."""
        if self.hung_up is not None:
            return
        data = wire.dumps(msg)
        self.unread += len(data)
        if self.unread > UNREAD_BYTES:
            self._hang_up()
            return
        self.outbox.put_nowait(data)

    def _hang_up(self) -> None:
        self.hung_up = (f"messages not read: over {UNREAD_BYTES // 2**20} MiB queued for this agent; "
                        "reconnect and read them")
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.unread = 0
        self._closing = asyncio.get_running_loop().create_task(close_unread(self.ws, self.hung_up))

    def ack(self, n: int, needs: dict[str, int] | None = None) -> None:
        """Acknowledge frames up to ``n`` once their events (``needs``: per session, the log's length then)
        are recorded, so an agent forgets only what a killed server still has; once per burst of frames."""
        if self.durable is not None and (self._unrecorded or (needs and not self.durable(needs))):
            self._unrecorded.append((n, needs or {}))
            return
        self._acknowledge(n)

    def recorded(self) -> None:
        """The recorder wrote a batch: acknowledge what is now on disk, in order."""
        waiting = self._unrecorded
        while waiting and self.durable is not None and self.durable(waiting[0][1]):
            self._acknowledge(waiting.popleft()[0])

    def _acknowledge(self, n: int) -> None:
        if self._ack is None:
            asyncio.get_running_loop().call_soon(self._send_ack)
        self._ack = n if self._ack is None else max(self._ack, n)

    def _send_ack(self) -> None:
        if self._ack is not None:
            self.send(wire.ack(self._ack))
            self._ack = None

    def can_steer(self, session: str) -> bool:
        return session in self.server.sdk.sessions_of(self)

    # --- a ``StatusSource``: the connection is an open channel to the agent -----------------

    def session_status(self, session: str) -> tuple[bool, str | None] | None:
        """Connected: every session the agent reports through this link is live (the state is its own)."""
        return (True, None) if not self.closed.is_set() else None

    def on_status_change(self, changed: Callable[[], None]) -> None:
        """Nothing to tell: the relay notices when the link's source stops."""

    def control(self, control: ControlModel) -> SdkResult:
        result = self.server.sdk.control(control)
        self.server.push(result.pushes)
        return result

    def unwatched(self, session: str) -> list[Event]:
        """Nobody watches ``session``, here or through the server: holds and a pause end (fail-open)."""
        if self.server.viewers(session) > 0:
            return []
        events, pushes = self.server.sdk.unwatched(session)
        self.server.push(pushes)
        return events


class Recorded:
    """An agent's events acknowledged once ``recorder`` has written them: the agent forgets only what this
    server, killed, still has on disk (its recording)."""

    def __init__(self, relay: Any, recorder: Any, links: set[AgentLink]) -> None:
        self.relay = relay
        self.recorder = recorder
        self.links = links
        recorder.flushed.append(self.flushed)

    def needs(self, events: list[Event]) -> dict[str, int]:
        """Per session of ``events`` (just ingested), how long its log is: what must be recorded first."""
        return {sid: self.relay.length(sid) for sid in {ev["session"] for ev in events}}

    def durable(self, needs: dict[str, int]) -> bool:
        recorder = self.recorder
        return all(recorder.covered(sid) >= n or recorder.failed(sid) for sid, n in needs.items())

    def flushed(self) -> None:
        for link in list(self.links):
            link.recorded()


class Forbidden(Exception):
    """An agent credential reported what it may not: the connection is closed."""


class SdkWatch:
    """The SDK agents' sessions under the grace: a notice while they wait, then holds and pauses end."""

    def __init__(self, server: AgentHost) -> None:
        self.server = server

    def grace_started(self, seconds: float) -> None:
        sdk = self.server.sdk
        for link in list(self.server.links):
            events = [ev for sid in sdk.sessions_of(link) for ev in sdk.grace(sid, seconds)]
            if events:
                link.emit(events)

    def nobody_watching(self) -> None:
        for link in list(self.server.links):
            for sid in self.server.sdk.sessions_of(link):
                events = link.unwatched(sid)
                if events:
                    link.emit(events)


async def forbid(ws: ServerConnection, why: str) -> None:
    """Say why (an ``error`` ``forbidden``), then close 1008 (policy violation)."""
    with contextlib.suppress(ConnectionClosed):
        await ws.send(wire.dumps(wire.error("forbidden", why)), text=True)
        await ws.close(1008, "forbidden")
