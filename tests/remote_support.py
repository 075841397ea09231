"""Shared by the remote-attach tests: a served relay, a relay attached to it, and a proxy that can cut them.

Everything is real: relays on their own threads, websockets on 127.0.0.1,
and a TCP proxy between two ends whose connections a test cuts mid-stream.
Waits are bounded and never asserted on time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from watchkeeper import sdk
from watchkeeper.adapters.remote import RemoteSource
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay
from watchkeeper.relay.servers.wsserver import WsServer, serve_ws

TOKEN = "test-token-4f1c9a7e"
WAIT = 20.0


class Served:
    """A relay served over websocket (``serve`` without the command line)."""

    def __init__(self, port: int = 0, token: str | None = TOKEN, **options: Any) -> None:
        self.relay = Relay().start()
        self.server: WsServer = serve_ws(self.relay, token, port=port, **options)
        if not self.server.ready.wait(10) or self.server.error is not None:
            self.relay.stop()
            raise RuntimeError(f"the server did not start: {self.server.error!r}")

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def events(self, session: str) -> list[Event]:
        return self.relay.read_range(session, 0, 2**62)

    def watch(self, session: str) -> None:
        """Someone watches ``session`` here (a pause holds nothing, and is refused, while nobody does)."""
        self.relay.subscribe(lambda batch: None, session)

    def stop(self) -> None:
        self.relay.stop()


class Attached:
    """A local relay fed by one :class:`RemoteSource` per URL: what ``attach`` runs under the viewer."""

    def __init__(self, *urls: str, token: str | None = TOKEN, **options: Any) -> None:
        self.relay = Relay().start()
        self.sources = [RemoteSource(url, token, **options) for url in urls]
        for source in self.sources:
            self.relay.add_source(source)

    @property
    def source(self) -> RemoteSource:
        return self.sources[0]

    def events(self, session: str) -> list[Event]:
        return self.relay.read_range(session, 0, 2**62)

    def ids(self, session: str) -> list[str]:
        return [e["id"] for e in self.events(session)]

    def stop(self) -> None:
        self.relay.stop()


class Proxy:
    """A TCP forwarder on 127.0.0.1 to ``port``; ``cut()`` drops every connection through it, mid-stream."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.cuts = 0
        self.connections = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.cuts += 1
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer, self.to_client),
                             return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    def to_client(self, data: bytes) -> bytes:
        """What of the target's bytes goes on to the client: all of them, here."""
        return data


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                keep: Callable[[bytes], bytes] = bytes) -> None:
    try:
        while data := await reader.read(65536):
            if kept := keep(data):
                writer.write(kept)
                await writer.drain()
    finally:
        writer.transport.abort()


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    yield s
    s.stop()


@pytest.fixture
async def run(served: Served) -> AsyncIterator[sdk.AgentRun]:
    r = await sdk.connect(served.url, token=TOKEN, title="remote agent")
    yield r
    await r.close()
