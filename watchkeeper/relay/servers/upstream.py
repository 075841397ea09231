"""An edge's push to its hub (``serve --upstream``): every session of this relay, outbound, on one websocket.

Sandboxes and build machines accept no inbound connection, so the edge dials
the hub and, on that connection, serves its relay to the hub as it serves an
``attach`` viewer (``wsedge.py`` has the hub's side): the hub says where it
is per session (its acknowledgement), the edge sends from there, reading
older events back from its history (on disk when spilled), and the hub's
controls for these sessions are decided here, by this relay, which holds the
calls; the hub only routes. The hub counts as a watching viewer while it
says people watch there (``watching``), so calls are held for them; when
they leave or the hub goes, the server's reconnect grace and then each
session's failure policy apply, as when the last local viewer leaves.

What the hub has not acknowledged (its ``acked``) stays in the sessions'
recordings, bounded by ``--upstream-keep``, and is pushed again after the
edge restarts (``relay/owed.py``).

The edge presents an edge credential (the hub's ``--edge-token-file``),
never a person's token, and it refuses a plain ``ws://`` hub off loopback
unless told ``insecure``: the credential would cross the network in clear.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection

from ...protocol import Emit, wire
from ...protocol.loopback import is_loopback
from ...reconnect import Refused, close_quickly, dial, keep_connected

log = logging.getLogger("watchkeeper.serve")

#: Seconds between two checks of what the edge owes its hub (the cap, the marks on disk).
KEEP_EVERY = 1.0


def check_upstream(url: str, insecure: bool = False) -> None:
    """ValueError, saying why, for a hub URL an edge must not push to."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"--upstream {url!r}: give the hub as wss://HOST:PORT (or ws:// on loopback)")
    if parts.scheme == "ws" and not is_loopback(parts.hostname) and not insecure:
        raise ValueError(f"--upstream {url}: not TLS off loopback, the edge credential would cross the network "
                         "in clear; use wss:// (the hub's --certfile/--keyfile), or --insecure to accept that")


def hub_says(server: Any, conn: Any, n: int) -> None:
    """The hub says ``n`` people watch there: the edge holds calls for them as for a local viewer."""
    before = server.watching()
    conn.remote_watchers = max(0, n)
    if server.watching() > 0:
        server.grace.back()
    elif before > 0:
        server.grace.last_left(server.watching)


class Upstream:
    """A relay source that keeps one connection to the hub and serves ``server``'s relay over it."""

    name = "upstream"

    def __init__(self, server: Any, url: str, token: str, *, edge: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, insecure: bool = False) -> None:
        check_upstream(url, insecure)
        self.server = server
        self.url = url
        self.edge = edge or socket.gethostname()
        self.host = socket.gethostname()
        self.status = "connecting"
        self.connections = 0
        self._token = token
        self._ssl = ssl_context

    async def run(self, emit: Emit) -> None:
        owed = getattr(self.server, "owed", None)
        keeping = asyncio.create_task(self._keep(owed)) if owed is not None else None
        try:
            await keep_connected(lambda: dial(self.url, self._token, ssl_context=self._ssl), self._connected,
                                 failed=self._failed, dropped=self._failed)
        except Refused as e:
            hint = "" if e.why else ": check --upstream-token-file"  # a refusal after the handshake says why
            self.status = f"refused by the hub ({e}){hint}; not pushing"
            log.error("upstream %s: %s", self.url, self.status)
        finally:
            if keeping is not None:
                keeping.cancel()

    async def _keep(self, owed: Any) -> None:
        """What is owed to the hub, kept within its cap (a notice for what it drops) and its marks saved."""
        relay = self.server.relay
        while True:
            await asyncio.sleep(KEEP_EVERY)
            for notice in owed.tick():
                data = notice["data"]
                relay.notice(notice["session"], data["text"], data["code"], "warning",
                             data={k: data[k] for k in ("dropped", "first_seq", "last_seq")})

    def _failed(self, why: str, error: Exception | None = None) -> None:
        self.status = f"reconnecting: {why}"

    async def _connected(self, ws: ClientConnection) -> None:
        try:
            hello = wire.decode(await ws.recv(decode=False))
            if hello.get("t") != "hello" or not isinstance(hello.get("epoch"), str):
                raise wire.WireError("expected-hello", f"{self.url} is not a watchkeeper hub")
            await ws.send(wire.dumps({**wire.hello_client("edge", self.edge), "host": self.host}), text=True)
            relay = self.server.relay
            await ws.send(wire.dumps(wire.hello_server(relay.epoch, self.server.server_name)), text=True)
            answer = wire.decode(await ws.recv(decode=False))
            if answer.get("t") == "error" and answer.get("code") == "forbidden":
                raise Refused(403, str(answer.get("message"))[:500])
            if answer.get("t") != "hello":
                raise wire.WireError("expected-hello", f"{self.url} did not follow as a hub")
            self.connections += 1
            self.status = f"pushing to {hello.get('server')} ({self.url})"
            await self.server._viewer(ws, hub=True)
        finally:
            await close_quickly(ws)
