"""``serve``'s websocket endpoint: viewers attach to the relay, SDK agents report into it.

It runs on the relay's own loop, as one more source (:func:`serve_ws`). Every
connection opens with the server's ``hello`` (``wire.py`` has the shapes);
the peer's ``hello`` says whether it is a viewer (``attach``, ``ctl
--relay``) or an agent (``watchkeeper.sdk``). Each SDK agent connection is a
relay source of its own, so its sessions are live exactly while it is
connected, and the controls for them are honoured by the agent
(``adapters/sdk_agent/steering.py``).

A viewer that subscribes (``attach``) watches every session, hooked and SDK
alike, so a pause or a breakpoint holds calls for it; ``ctl --relay`` only
sends. When the last such viewer leaves, held calls wait ``grace`` seconds
for one to come back before each session's failure policy ends them.
Viewers also list and edit this machine's breakpoint rules (``breakpoints``
requests, ``breakpoint_requests.py``). As a hub it also takes edges (role
``edge``, an edge credential): each is followed as ``attach`` follows a relay
(``wsedge.py``); as an edge it serves its relay to its hub over the
connection it dialled (``upstream.py``).

Security before the upgrade is ``handshake.py``'s; a handshake not done
within ``OPEN_TIMEOUT`` is cut off. A control from a viewer whose token has a name
is recorded as sent by that name, whatever the control says. An agent
credential (an SDK agent's, ``credentials.py``) passes the handshake but may
only say hello as an agent and report the one session it first reported
(later, any other is an ``error`` ``forbidden`` and the connection closes
1008): it can neither watch, list, read back, steer nor edit breakpoints.
Messages over ``wire.MAX_MESSAGE`` close the connection (1009); a malformed or unknown
one is answered with ``error`` and the connection stays, unless what is queued for
an agent that does not read passes ``wsagent.UNREAD_BYTES`` (closed 1013, as a viewer
is). The token is never logged and never put in a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ... import config
from ...adapters.sdk_agent.steering import SdkSteering
from ...breakpoints import Book
from ...credentials import HookCredential, Keyring
from ...protocol import ControlModel, Emit, Event, Kind, make_event, wire
from ...protocol.loopback import is_loopback
from .breakpoint_requests import breakpoint_request
from .handshake import Gate
from .upstream import hub_says
from .watching import RECONNECT_GRACE, Grace, WatchListener
from .wsagent import AgentLink, Forbidden, Recorded, SdkWatch, forbid
from .wsedge import Edges, EdgesWatch
from .wsviewer import DEFAULT_LIMIT, ViewerConn, fit_range

log = logging.getLogger("watchkeeper.serve")

HELLO_TIMEOUT = 10.0
#: Seconds for a client's opening handshake (TLS and HTTP head): a slow one is cut off.
OPEN_TIMEOUT = 10.0
#: How often a served relay delivers to its viewers (s): the viewer's own relay batches again before the screen.
FLUSH_INTERVAL = 0.02


class WsServer:
    """Serves a relay over websocket; add it to the relay as a source (``serve_ws`` does)."""

    name = "websocket server"

    def __init__(self, relay: Any, *, token: str | Keyring | None, host: str = "127.0.0.1", port: int = 0,
                 ssl_context: ssl.SSLContext | None = None, server_name: str | None = None,
                 queue_limit: int = DEFAULT_LIMIT, history: int | None = None,
                 grace: float = RECONNECT_GRACE, breakpoints: Book | None = None,
                 max_connections: int = wire.MAX_CONNECTIONS) -> None:
        if not token and not is_loopback(host):
            raise ValueError(f"serving on {host} (not loopback) needs a token")
        self.relay = relay
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.server_name = server_name or socket.gethostname()
        self.queue_limit = queue_limit
        #: per session, how many of the newest events a viewer may read back (None: all the relay holds).
        self.history = history
        self.sdk = SdkSteering(viewers=self.viewers)
        #: held calls wait ``grace.seconds`` for a viewer to come back (``RECONNECT_GRACE``); 0: the policy at once.
        self.grace = Grace(grace)
        self.grace.listeners.append(SdkWatch(self))
        self.grace.listeners.append(EdgesWatch(self.tell_edges))
        #: this machine's breakpoint rules, which viewers list and edit (``breakpoints`` requests).
        self.breakpoints = breakpoints
        #: set once listening (``port`` is then the bound one), or failed (``error``).
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._keyring = config.as_keyring(token) if token else None
        self.gate = Gate(host, self._keyring, max_connections)
        #: the edges that push their sessions here (``serve --upstream``), by name.
        self.edges = Edges(relay, self.watchers)
        self._viewers: set[ViewerConn] = set()
        self.links: set[AgentLink] = set()
        #: every session an SDK agent reported here (``serve`` records them); acknowledged once recorded.
        self.agent_sessions: set[str] = set()
        self.recorded: Recorded | None = None
        #: as an edge: what it owes its hub (``owed.Ledger``), told by the hub's ``acked``.
        self.owed: Any = None
        self._connections: set[ServerConnection] = set()
        self._emit: Emit = lambda events: None
        self._server: Server | None = None

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context is not None else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    # --- lifecycle (a relay source) ------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        try:
            self._server = await serve(
                self._handle, self.host, self.port, process_request=self._check, origins=[None],
                server_header=None, max_size=wire.MAX_MESSAGE, max_queue=32, write_limit=2**16,
                ping_interval=20, ping_timeout=20, close_timeout=5, open_timeout=OPEN_TIMEOUT, ssl=self.ssl_context,
                compression=None if is_loopback(self.host) else "deflate",
                logger=wire.redacting_logger("websockets.server"))
        except BaseException as e:
            self.error = e
            self.ready.set()
            raise
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self.ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            await self._shutdown(self._server)

    async def _shutdown(self, server: Server) -> None:
        """Close every connection; peers that do not answer the closing handshake soon are cut off."""
        server.close()
        try:
            await asyncio.wait_for(asyncio.shield(server.wait_closed()), 1.0)
        except TimeoutError:
            for connection in list(self._connections):
                connection.transport.abort()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(server.wait_closed()), 1.0)

    def viewers(self, session: str) -> int:
        """Who watches ``session``: every subscribed viewer watches every session, plus the relay's own.

        During the reconnect grace the viewer that left still counts: a call is
        held (and a pause kept) while the person's screen is on its way back.
        """
        local = getattr(self.relay, "viewers", None)
        return self.watching() + self.grace.running + (local(session) if local is not None else 0)

    def watching(self) -> int:
        """Viewers connected and following (``attach``); a one-shot ``ctl --relay`` does not watch."""
        return sum(1 for conn in self._viewers if conn.watching)

    # --- the handshake -------------------------------------------------------------------

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        return self.gate.check(connection, request, len(self._server.connections) if self._server else 0)

    async def _handle(self, ws: ServerConnection) -> None:
        self._connections.add(ws)
        try:
            await ws.send(wire.dumps(wire.hello_server(self.relay.epoch, self.server_name)), text=True)
            hello, said = await self._hello(ws)
            credential = self.gate.agents.get(ws)
            edge = self.gate.edges.get(ws)
            if edge is not None or hello.role == "edge":
                named = frozenset(n for n, _ in self._keyring.edges if n) if self._keyring is not None else frozenset()
                await self.edges.connect(ws, hello, said, edge, tokens=self._keyring is not None, named=named)
            elif hello.role == "agent":
                await self._agent(ws, hello, credential)
            elif credential is not None:
                await forbid(ws, "an agent credential may only report as an agent (role 'agent'): "
                                  "it cannot watch, list, read back, steer or edit breakpoints")
            else:
                await self._viewer(ws)
        except ConnectionClosed:
            pass
        except TimeoutError:
            await ws.close(1008, "no hello")
        finally:
            self._connections.discard(ws)
            self.gate.forget(ws)

    async def _hello(self, ws: ServerConnection) -> tuple[wire.Hello, dict[str, Any]]:
        async with asyncio.timeout(HELLO_TIMEOUT):
            while True:
                try:
                    msg = wire.decode(await ws.recv(decode=False))
                    return wire.read_hello(msg), msg
                except wire.WireError as e:
                    await ws.send(wire.dumps(wire.error(e.code, str(e), e.req)), text=True)

    # --- edges ---------------------------------------------------------------------------

    def watchers(self) -> int:
        """People watching here, the one that left counted during the grace: what this hub tells its edges."""
        return self.watching() + (1 if self.grace.running else 0)

    def tell_edges(self) -> None:
        for source in list(self.edges.by_key.values()):
            source.tell_watching()

    # --- viewers -------------------------------------------------------------------------

    async def _viewer(self, ws: Any, *, hub: bool = False) -> None:
        """One viewer's connection: accepted here, or dialled out to a hub (``upstream.py``, ``hub``)."""
        conn = ViewerConn(ws, self.relay, limit=self.queue_limit, oldest=self._pushed if hub else self._oldest)
        if hub:
            conn.remote_watchers = 0
        self._viewers.add(conn)
        writer = asyncio.create_task(conn.writer())
        try:
            while not writer.done():
                raw = await ws.recv(decode=False)
                try:
                    self._viewer_message(conn, wire.decode(raw))
                except wire.WireError as e:
                    conn.reply(wire.error(e.code, str(e), e.req))
        finally:
            was_watching = conn.watching
            conn.close()
            self._viewers.discard(conn)
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer
            if was_watching and not self.watching():
                self.grace.last_left(self.watching)
            self.tell_edges()

    def _viewer_message(self, conn: ViewerConn, msg: dict[str, Any]) -> None:
        t = msg["t"]
        if t == "subscribe":
            conn.subscribe(wire.read_subscribe(msg, self.relay.epoch))
            if conn.watching:
                self.grace.back()
                self.tell_edges()
        elif t == "watching" and conn.remote_watchers is not None and isinstance(msg.get("n"), int):
            hub_says(self, conn, msg["n"])
        elif t == "acked" and conn.remote_watchers is not None:
            positions = wire.read_subscribe(msg, self.relay.epoch)
            if self.owed is not None:
                self.owed.ack(positions)
        elif t == "range":
            r = wire.read_range(msg)
            first = conn.oldest(r.session)
            events = self.relay.read_range(r.session, max(r.start, first), r.stop)
            info = self.relay.session(r.session)
            end = info.last_seq + 1 if info is not None else 0
            conn.reply(fit_range(r, events, first, end))
        elif t == "control":
            req, control = wire.read_control(msg)
            person = self.gate.people.get(conn.ws)
            if person is not None and person.name:
                control = control.model_copy(update={"by": person.name})
            outcome = self.route(control)
            if outcome.get("data", {}).get("forwarded") and hasattr(self.relay, "control"):
                self._outcome_later(conn, req, control)
            else:
                conn.reply({"t": "outcome", "id": req, "outcome": outcome})
        elif t == "breakpoints" and isinstance(msg.get("edge"), str):
            self.edges.breakpoints(conn.reply, msg)
        elif t == "breakpoints":
            conn.reply(breakpoint_request(self.breakpoints, msg, where=self.server_name))
        elif t == "sessions":
            origin = self.edges.origin
            rows = [{"session": i.session, "title": i.title, "agent_kind": i.agent_kind, "state": i.state,
                     "live": i.live, "events": i.events, "capabilities": i.capabilities, "origin": origin(i.session)}
                    for i in self.relay.sessions()]
            listing = [self.edges.listed(row) for row in self.relay.listing()]
            conn.reply({"t": "sessions", "id": msg.get("id"), "sessions": rows, "listing": listing})
        else:
            raise wire.WireError("unknown-type", f"unknown message type {t!r}", msg.get("id"))

    def _outcome_later(self, conn: ViewerConn, req: Any, control: ControlModel) -> None:
        """A control passed on (to an edge, a remote relay): the viewer gets the far side's own outcome."""
        future = asyncio.wrap_future(self.relay.control(control))

        def answered(f: asyncio.Future[Event]) -> None:
            if f.cancelled() or f.exception() is not None:
                outcome = _rejected(control, f"no outcome: {f.exception()!r}" if not f.cancelled() else "cancelled")
            else:
                outcome = f.result()
            conn.reply({"t": "outcome", "id": req, "outcome": outcome})

        future.add_done_callback(answered)

    def _pushed(self, session: str) -> int:
        """The oldest seq pushed to the hub: past the window, and past what the edge's cap dropped."""
        return max(self._oldest(session), self.owed.oldest(session) if self.owed is not None else 0)

    def _oldest(self, session: str) -> int:
        if self.history is None:
            return 0
        info = self.relay.session(session)
        return max(0, info.last_seq + 1 - self.history) if info is not None else 0

    # --- controls --------------------------------------------------------------------------

    def route(self, control: ControlModel) -> Event:
        """One control from a viewer to whatever steers its session (the relay routes it); its one outcome."""
        if self.relay.session(control.session) is None:
            return _rejected(control, f"this relay has no session {control.session}")
        outcome: Event = self.relay.route_control(control)
        return outcome

    def push(self, pushes: list[tuple[Any, dict[str, Any]]]) -> None:
        """Messages for agents (controls, decisions), queued on their connections; one lost with its connection
        is sent again when the agent reconnects (``SdkSteering.attach``)."""
        for link, msg in pushes:
            link.send(msg)

    def record_to(self, recorder: Any) -> None:
        """An agent's events are acknowledged to it once ``recorder`` has written them (``Recorded``)."""
        self.recorded = Recorded(self.relay, recorder, self.links)

    def watched_by(self, listener: WatchListener) -> None:
        """``listener`` holds calls for these viewers: told when the grace starts and when nobody watches."""
        self.grace.listeners.append(listener)

    # --- agents ------------------------------------------------------------------------

    async def _agent(self, ws: ServerConnection, hello: wire.Hello, credential: HookCredential | None) -> None:
        peer = ws.remote_address[0] if ws.remote_address else "?"
        link = AgentLink(self, ws, f"sdk agent {hello.name} ({peer})", credential,
                         durable=self.recorded.durable if self.recorded is not None else None)
        stranger = next((sid for sid in hello.sessions if not self._admits(link, sid)), None)
        if stranger is not None:
            await forbid(ws, f"this agent credential belongs to another session than {stranger}, or that session "
                             "to another agent")
            return
        self.agent_sessions.update(hello.sessions)
        self.links.add(link)
        self.relay.add_source(link)
        writer = asyncio.create_task(link.writer())
        try:
            await asyncio.wait_for(link.started.wait(), HELLO_TIMEOUT)
            for sid, state in hello.sessions.items():
                self.push(self.sdk.attach(link, sid, state))
            while not writer.done():
                raw = await ws.recv(decode=False)
                try:
                    self._agent_message(link, wire.decode(raw))
                except Forbidden as e:
                    await forbid(ws, str(e))
                    break
                except wire.WireError as e:
                    link.send(wire.error(e.code, str(e), e.req))
        finally:
            self.sdk.detach(link)
            self.links.discard(link)
            link.closed.set()
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer

    def _agent_message(self, link: AgentLink, msg: dict[str, Any]) -> None:
        t = msg["t"]
        if t != "events":
            raise wire.WireError("unknown-type", f"an agent sends events, not {t!r:.100}", msg.get("id"))
        own = self._own(link, msg)
        n, events = wire.read_agent_events(msg, link.name, own)
        if own is None and link.credential is not None and events:
            link.send(wire.error("bad-events", f"{len(events)} malformed events not kept: nothing "
                                              "says whose they are and this credential has no session yet"))
            events = []
        stranger = next((ev["session"] for ev in events if not self._admits(link, ev["session"])), None)
        if stranger is not None:
            raise Forbidden(f"this agent credential belongs to another session than {stranger}, or that session "
                            "to another agent")
        if events:
            self.agent_sessions.update(ev["session"] for ev in events)
            link.emit(events)
            extra, pushes = self.sdk.on_events(link, events)
            if extra:
                link.emit(extra)
            self.push(pushes)
        if n is not None:
            link.ack(n, self.recorded.needs(events) if self.recorded is not None else None)

    def _own(self, link: AgentLink, msg: dict[str, Any]) -> str | None:
        """Where an agent credential's malformed events go: its session, or the first this frame names (which
        binds it); in ``unknown`` they would cost it its connection, and the frame's good events."""
        events = msg.get("events")
        if link.credential is None or self._keyring is None or not isinstance(events, list):
            return None
        return self._keyring.bound(link.credential) or next(
            (e["session"] for e in events if isinstance(e, dict) and isinstance(e.get("session"), str)
             and e["session"]), None)

    def _admits(self, link: AgentLink, session: str) -> bool:
        """May ``link`` report ``session``? Never an edge's; with a person's token any other; an agent credential
        binds to its first, and never to a session this relay already has: a fresh credential naming a live
        agent's session would take its controls and decisions."""
        if session in self.edges.owners:
            return False  # an edge's: its controls go to the edge
        keyring, credential = self._keyring, link.credential
        if credential is None or keyring is None:
            return True
        if keyring.bound(credential) is None and (session in self.agent_sessions
                                                    or self.relay.session(session) is not None):
            return False
        return keyring.admits(credential, session)


def serve_ws(relay: Any, token: str | Keyring | None, **options: Any) -> WsServer:
    """Start serving ``relay`` (on its loop); wait on ``.ready``, then ``.port``/``.url`` say where."""
    server = WsServer(relay, token=token, **options)
    relay.add_source(server)
    return server


def _rejected(control: ControlModel, reason: str) -> Event:
    data = {"control_id": control.id, "control": str(control.control), "by": control.by, "reason": reason,
            "call_id": control.call_id, "sent_ts": control.ts}
    return make_event(f"control:{control.id}", control.session, Kind.CONTROL_REJECTED, data)
