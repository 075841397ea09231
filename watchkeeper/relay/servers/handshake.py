"""The websocket server's gate: what it checks before the upgrade, and which credential each connection showed.

A browser (any ``Origin`` header) gets 403, a wrong or missing bearer token
401 (compared in constant time, by the keyring), a hook credential (what
Claude Code agents are given) 403, a non-loopback ``Host`` 403 while bound to
loopback (DNS rebinding), a header that must come once (``Host``,
``Authorization`` …) but comes twice 400, and a connection past the server's
``max_connections`` 503. An agent's or edge's credential is refused (503) past
its share of the connections, and once only the share kept for people's tokens
is left: one leaked or runaway credential can neither crowd out the others nor
lock out the people who would watch and stop it. Whoever passes is remembered by connection: a person
(whose name signs their controls), an SDK agent's credential, or an edge's.
"""

from __future__ import annotations

import http

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.protocol import State

from ...credentials import Edge, HookCredential, Keyring, Person
from ...protocol.loopback import is_loopback, loopback_host

#: Handshake headers that may appear once: with two, checks and websockets could read different ones.
SINGLE_HEADERS = ("Host", "Authorization", "Origin", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Upgrade")
#: One agent or edge credential holds at most 1/SHARE of ``max_connections``; the last 1/SHARE are people's.
SHARE = 8


class Gate:
    """Checks each handshake (``process_request``) and keeps what each admitted connection presented."""

    def __init__(self, host: str, keyring: Keyring | None, max_connections: int) -> None:
        self.host = host
        self.keyring = keyring
        self.max_connections = max_connections
        #: connections one agent or edge credential may hold, and those kept for people's tokens.
        self.per_credential = max(1, max_connections // SHARE)
        self.reserved = max_connections // SHARE
        self.people: dict[object, Person] = {}
        self.agents: dict[ServerConnection, HookCredential] = {}
        self.edges: dict[ServerConnection, Edge] = {}

    def check(self, connection: ServerConnection, request: Request, open_now: int) -> Response | None:
        """None to let the upgrade go on; else the refusal, saying why."""
        headers = request.headers
        if open_now >= self.max_connections:
            return refuse(connection, http.HTTPStatus.SERVICE_UNAVAILABLE,
                          f"this relay has {self.max_connections} connections open, its limit (--max-connections)")
        repeated = _repeated(headers)
        if repeated:
            return refuse(connection, http.HTTPStatus.BAD_REQUEST, f"the {repeated} header may appear once")
        if "Origin" in headers:
            return refuse(connection, http.HTTPStatus.FORBIDDEN, "requests from a browser are refused")
        if is_loopback(self.host) and not loopback_host(headers.get("Host", "")):
            return refuse(connection, http.HTTPStatus.FORBIDDEN, "the Host must be a loopback address")
        if self.keyring is None:
            return None
        auth = headers.get("Authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        edge = self.keyring.edge(given) if given else None
        if edge is not None:
            held = sum(1 for c, e in self.edges.items() if e.key == edge.key and c.state is not State.CLOSED)
            crowded = self._crowded(connection, open_now, held, "edge")
            if crowded is None:
                self.edges[connection] = edge
            return crowded
        person = self.keyring.person(given) if given else None
        agent = self.keyring.agent(given) if given and person is None else None
        if agent is not None:
            held = sum(1 for c, a in self.agents.items() if a.digest == agent.digest and c.state is not State.CLOSED)
            crowded = self._crowded(connection, open_now, held, "agent")
            if crowded is None:
                self.agents[connection] = agent
            return crowded
        if person is None:
            if given and self.keyring.hook(given) is not None:
                return refuse(connection, http.HTTPStatus.FORBIDDEN, "a hook credential reaches only the hook endpoint")
            response = refuse(connection, http.HTTPStatus.UNAUTHORIZED, "a valid bearer token is required")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        self.people[connection] = person
        return None

    def _crowded(self, connection: ServerConnection, open_now: int, held: int, kind: str) -> Response | None:
        """The 503 for an agent's or edge's credential past its share, or into the connections kept for people."""
        if open_now >= self.max_connections - self.reserved:
            return refuse(connection, http.HTTPStatus.SERVICE_UNAVAILABLE,
                          f"this relay keeps its last {self.reserved} connections for people's tokens "
                          f"({open_now} of {self.max_connections} open, --max-connections)")
        if held >= self.per_credential:
            return refuse(connection, http.HTTPStatus.SERVICE_UNAVAILABLE,
                          f"this {kind} credential has {held} connections open, as many as one credential may "
                          f"(1/{SHARE} of --max-connections)")
        return None

    def forget(self, connection: ServerConnection) -> None:
        self.people.pop(connection, None)
        self.agents.pop(connection, None)
        self.edges.pop(connection, None)


def refuse(connection: ServerConnection, status: http.HTTPStatus, why: str) -> Response:
    return connection.respond(status, why + "\n")


def _repeated(headers: Headers) -> str | None:
    """The first handshake header that should appear once but does not."""
    return next((name for name in SINGLE_HEADERS if len(headers.get_all(name)) > 1), None)
