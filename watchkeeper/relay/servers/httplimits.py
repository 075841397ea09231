"""What keeps the hook endpoint and control API answering under abuse: deadlines and a connection cap.

aiohttp sets no deadline on a request's head or body, so a client sending a
header byte a second holds a connection forever; nor does it cap
connections. Here, without touching a held hook (which may rightly wait
minutes for a person's decision):

- the head: aiohttp's keep-alive timer runs from the connection's start (and
  from each response) until a request's head is complete; it is set to
  ``head_timeout``, so an idle or slow-headed connection is closed;
- the body: read under ``body_timeout`` before the handler runs (408, closed);
- connections: past ``max_connections`` a new one is answered 503 and closed;
- a header that must come once (``Host``, ``Authorization``, ``Origin`` …)
  but comes twice is answered 400: two readers could take different ones;
- a malformed request (anyone on the machine can send one) is logged in one
  line at INFO, not as an error with aiohttp's traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

#: Headers a request may carry once at most.
SINGLE_HEADERS = ("Host", "Authorization", "Origin", "Content-Length", "Transfer-Encoding")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _MalformedInOneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg, record.args = "refused a malformed request (%s, %s)", (exc.code, type(exc).__name__)
            record.exc_info = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


log = logging.getLogger("watchkeeper.hooks.http")
log.addFilter(_MalformedInOneLine())


@dataclass(frozen=True)
class Limits:
    #: seconds from connect (or the last response) until a request's head has arrived.
    head_timeout: float = 10.0
    #: seconds for a request's body, once its head has arrived (loopback: 64 MiB take well under one).
    body_timeout: float = 30.0
    #: open connections at most; each held hook keeps one.
    max_connections: int = 256
    #: seconds an unread body is drained after an early answer (401, 408, 503) before the close.
    linger: float = 2.0

    def runner_options(self) -> dict[str, Any]:
        """Keyword arguments for ``web.AppRunner`` (passed on to each connection's handler)."""
        return {"keepalive_timeout": self.head_timeout, "lingering_time": self.linger, "logger": log}

    def middlewares(self) -> list[Any]:
        """To run before the routes (and before the token check: an ambiguous request is refused first)."""
        return [single_headers]

    def body_middleware(self) -> Any:
        """To run after the token check: a body is read only for a request that may send one."""
        timeout = self.body_timeout

        @web.middleware
        async def read_body(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.body_exists:
                try:
                    async with asyncio.timeout(timeout):
                        await request.read()
                except TimeoutError:
                    response = _error(408, f"the request body did not arrive within {timeout:g} s")
                    response.force_close()
                    return response
            return await handler(request)

        return read_body


@web.middleware
async def single_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    for name in SINGLE_HEADERS:
        if len(request.headers.getall(name, ())) > 1:
            response = _error(400, f"the {name} header may appear once")
            response.force_close()
            return response
    return await handler(request)


class CappedSite(web.TCPSite):
    """A ``TCPSite`` that answers 503 to a connection past ``limits.max_connections``."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limits: Limits, **options: Any) -> None:
        super().__init__(runner, host, port, **options)
        self.limits = limits
        self.live: set[_Counted] = set()

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def factory() -> asyncio.Protocol:
            if len(self.live) >= self.limits.max_connections:
                return _Refused(self.limits.linger)
            counted = _Counted(server(), self.live)
            self.live.add(counted)
            return counted

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(factory, self._host, self._port, backlog=self._backlog)


class _Counted(asyncio.Protocol):
    """aiohttp's connection handler, counted while its connection is open."""

    def __init__(self, inner: asyncio.Protocol, live: set[_Counted]) -> None:
        self.inner = inner
        self.live = live

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.live.discard(self)
        self.inner.connection_lost(exc)


class _Refused(asyncio.Protocol):
    """503 and close: the request is drained (briefly), so the client reads the answer rather than a reset."""

    BODY = orjson.dumps({"error": "too many connections; try again"})

    def __init__(self, linger: float) -> None:
        self.linger = linger
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                        b"Retry-After: 1\r\nConnection: close\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(self.BODY), self.BODY))
        transport.write_eof()
        asyncio.get_running_loop().call_later(self.linger, transport.close)

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool | None:
        if self.transport is not None:
            self.transport.close()
        return False


def _error(status: int, reason: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": reason}), content_type="application/json")
