"""A websocket client's connection to a relay, kept up: dial with the token, reconnect with backoff.

Written once for both clients of a relay's websocket: ``attach``'s remote
source (``adapters/remote/source.py``) and the SDK's link (``sdk/link.py``). Each
brings its own session (what to say and read on one connection); this module
owns the loop around it: a refused token (401, 403) ends it with
:class:`Refused`, anything else (no answer, a dropped connection, a bad frame)
is reported and retried after a growing, jittered delay, which starts small
again after each connection that got through. Imports only websockets and the
protocol, so ``watchkeeper.sdk`` stays free of the viewer's dependencies.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .protocol import wire


class Refused(ConnectionError):
    """The relay answered the handshake with 401 (the token) or 403 (refused), or refused us after it with
    ``why``: retrying would not help."""

    def __init__(self, code: int, why: str | None = None) -> None:
        super().__init__(why or f"HTTP {code}")
        self.code, self.why = code, why


def dial(url: str, token: str | None, *, ssl_context: ssl.SSLContext | None = None,
         open_timeout: float = 10.0, max_queue: int = 64) -> Any:
    """``async with dial(...) as ws``, or ``await dial(...)``: one websocket to a relay, token in the header."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    extra: dict[str, Any] = {"ssl": ssl_context} if ssl_context is not None and url.startswith("wss:") else {}
    return ws_connect(url, additional_headers=headers, proxy=None, max_size=wire.MAX_CLIENT_MESSAGE,
                      user_agent_header=None, open_timeout=open_timeout, max_queue=max_queue,
                      logger=wire.redacting_logger("websockets.client"), **extra)


async def close_quickly(ws: ClientConnection, timeout: float = 1.0) -> None:
    """Close ``ws``; if the peer does not answer within ``timeout``, cut the connection."""
    try:
        async with asyncio.timeout(timeout):
            await ws.close()
    except (TimeoutError, asyncio.CancelledError, OSError):
        ws.transport.abort()


async def keep_connected(connect: Callable[[], Awaitable[ClientConnection]],
                         session: Callable[[ClientConnection], Awaitable[None]], *,
                         failed: Callable[[str], None],
                         dropped: Callable[[str, Exception | None], None],
                         stop: Callable[[], bool] = lambda: False) -> None:
    """Connect and run ``session`` on each connection, again and again, until ``stop()`` or a refusal.

    ``failed(why)`` when no connection could be made; ``dropped(why, error)``
    when a connection's session ended (``error`` is what ended it: ``ConnectionClosed``,
    ``wire.WireError``, or any other error, None if ``session`` returned): a peer's odd
    frame that slips past the session's checks must not end the loop for good. The
    session cleans up after itself. Raises :class:`Refused` on a 401 or 403, and lets
    ``InvalidURI`` through.
    """
    delays = wire.backoff()
    while not stop():
        try:
            ws = await connect()
        except InvalidStatus as e:
            code = e.response.status_code
            if code in (401, 403):
                raise Refused(code) from None
            failed(f"HTTP {code}")
        except (OSError, TimeoutError, InvalidHandshake) as e:
            failed(repr(e))
        else:
            delays = wire.backoff()
            try:
                await session(ws)
            except ConnectionClosed as e:
                dropped(f"connection closed ({e.rcvd.code if e.rcvd else 'no close frame'})", e)
            except wire.WireError as e:
                dropped(f"the relay sent a bad frame ({e})", e)
            except Refused:
                raise  # the session learnt the peer refuses us for good
            except Exception as e:
                dropped(f"the connection failed ({type(e).__name__}: {e})", e)
            else:
                dropped("", None)
        await asyncio.sleep(next(delays))
