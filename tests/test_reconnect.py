"""The reconnect loop both relay clients share (attach's remote source, the SDK's link), on real sockets.

A real websockets server on loopback plays the relay: it drops connections,
answers 401 or 500, or is not there at all; the loop must report each case
the way its callers word their status, retry what can be retried, and stop
on a refusal or when asked.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from watchkeeper.protocol import wire
from watchkeeper.reconnect import Refused, dial, keep_connected

TOKEN = "reconnect-token"
LIMIT = 20.0


class Relay:
    """A stand-in relay: its first connection is dropped; ``status`` refuses the handshake while set."""

    def __init__(self) -> None:
        self.status: HTTPStatus | None = None
        self.connections = 0
        self.tokens: list[str | None] = []
        self.port = 0

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.tokens.append(request.headers.get("Authorization"))
        if self.status is not None:
            return connection.respond(self.status, "no\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        if self.connections == 1:
            await ws.close(code=1011, reason="going away")
            return
        await ws.send(wire.dumps({"t": "hello", "n": self.connections}), text=True)
        await ws.wait_closed()


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    r = Relay()
    async with serve(r.handler, "127.0.0.1", 0, process_request=r.process_request) as server:
        r.port = server.sockets[0].getsockname()[1]
        yield r


def url(port: int) -> str:
    return f"ws://127.0.0.1:{port}"


async def test_a_dropped_connection_is_reported_and_dialled_again(relay: Relay) -> None:
    dropped: list[tuple[str, bool]] = []
    failed: list[str] = []
    got: list[dict[str, Any]] = []

    async def session(ws: Any) -> None:
        got.append(wire.decode(await ws.recv(decode=False)))
        await ws.close()  # the session ends by itself: no error

    async with asyncio.timeout(LIMIT):
        await keep_connected(lambda: dial(url(relay.port), TOKEN), session, failed=failed.append,
                             dropped=lambda why, e: dropped.append((why, isinstance(e, ConnectionClosed))),
                             stop=lambda: bool(got))
    assert relay.connections == 2
    assert dropped == [("connection closed (1011)", True), ("", False)]
    assert failed == []
    assert got == [{"t": "hello", "n": 2}]
    assert relay.tokens == [f"Bearer {TOKEN}"] * 2


async def test_a_refused_token_ends_the_loop(relay: Relay) -> None:
    relay.status = HTTPStatus.UNAUTHORIZED
    failed: list[str] = []

    async def session(ws: Any) -> None:
        raise AssertionError("no session on a refused connection")

    async with asyncio.timeout(LIMIT):
        with pytest.raises(Refused) as refused:
            await keep_connected(lambda: dial(url(relay.port), "wrong"), session, failed=failed.append,
                                 dropped=lambda why, e: None)
    assert refused.value.code == 401
    assert failed == []
    assert relay.connections == 0


async def test_a_server_error_is_retried_until_the_relay_answers(relay: Relay) -> None:
    relay.status = HTTPStatus.INTERNAL_SERVER_ERROR
    failed: list[str] = []
    sessions: list[int] = []

    def on_failed(why: str) -> None:
        failed.append(why)
        if len(failed) == 2:
            relay.status = None

    async def session(ws: Any) -> None:
        sessions.append(relay.connections)

    async with asyncio.timeout(LIMIT):
        await keep_connected(lambda: dial(url(relay.port), TOKEN), session, failed=on_failed,
                             dropped=lambda why, e: None, stop=lambda: bool(sessions))
    assert failed == ["HTTP 500", "HTTP 500"]
    assert sessions == [1]


async def test_nothing_listening_is_reported_and_stop_ends_the_loop() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    failed: list[str] = []

    async def session(ws: Any) -> None:
        raise AssertionError("nothing to connect to")

    async with asyncio.timeout(LIMIT):
        await keep_connected(lambda: dial(url(port), TOKEN), session, failed=failed.append,
                             dropped=lambda why, e: None, stop=lambda: len(failed) >= 3)
    assert len(failed) == 3
    assert all("ConnectionRefused" in why or "OSError" in why for why in failed), failed
