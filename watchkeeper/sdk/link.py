"""The SDK's websocket link to a relay: reconnects, resends what was not acknowledged, takes controls.

Every event reported is kept until the relay acknowledges the frame that
carried it (``ack {n}``); after a reconnect everything unacknowledged is sent
again, first, and the relay drops repeats by id, so nothing is lost or doubled. The
link also keeps what the person asked of the run (paused, injected messages,
a cancel, decisions on approvals) for ``AgentRun`` to honour, and tells a
relay it reconnects to what it holds (``hello.sessions``). The relay answers
with what this run missed, maybe again what it already got (a push lost with
the connection is resent): a control id acts once, a decision only on a call
still asked about. The reconnect loop itself is shared with ``attach``
(``reconnect.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import deque
from typing import Any

from websockets.asyncio.client import ClientConnection

from ..protocol import Event, wire
from ..protocol.controls import OUTCOMES_KEPT
from ..reconnect import Refused, dial, keep_connected
from .outcomes import Cancelled, ConnectError, Decision


class Link:
    """Owned by one ``AgentRun``; lives on the loop that called :meth:`start`."""

    def __init__(self, url: str, token: str | None, name: str) -> None:
        self.url = url
        self.name = name
        self.session: str | None = None  # the run's, set by the run that owns this link
        self._token = token
        self.paused = False
        self.connected = False
        self.closing = False
        #: the server's last ``error`` messages, for the agent's author to look at.
        self.errors: deque[dict[str, Any]] = deque(maxlen=100)
        self.last_error: str | None = None
        self._injections: list[tuple[str, str]] = []
        self._cancel: str | None = None
        #: the ids of the controls taken, newest last: one the relay sends again acts no more.
        self._taken: dict[str, None] = {}
        self._asking: dict[str, asyncio.Future[Decision]] = {}
        #: reported, not sent yet; and sent on this connection, not acknowledged yet (both in order).
        self._pending: deque[tuple[int, Event]] = deque()
        self._unacked: deque[tuple[int, Event]] = deque()
        self._n = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._acked = asyncio.Event()
        self._up = asyncio.Event()
        self._fatal: Exception | None = None
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None

    # --- the run's side ------------------------------------------------------------------

    def send(self, event: Event) -> None:
        """Queue one event; from any thread (off the loop it is handed over in order)."""
        if self._loop is None or threading.get_ident() == self._thread:
            self._append(event)
        else:
            self._loop.call_soon_threadsafe(self._append, event)

    def _append(self, event: Event) -> None:
        self._pending.append((next(self._n), event))
        self._wake.set()

    def raise_if_cancelled(self) -> None:
        if self._cancel is not None:
            reason, self._cancel = self._cancel, None
            raise Cancelled(reason)

    async def until_resumed(self) -> None:
        while self.paused and self._cancel is None:
            self._changed.clear()
            await self._changed.wait()
        self.raise_if_cancelled()

    def take_injections(self) -> list[tuple[str, str]]:
        out, self._injections = self._injections, []
        return out

    async def decision(self, call_id: str, timeout: float | None) -> Decision:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        self._asking[call_id] = future
        try:
            return await asyncio.wait_for(future, timeout)
        except Cancelled:
            self._cancel = None
            raise
        except TimeoutError:
            return Decision("none", f"no decision within {timeout:g} s: the call goes on", "watchkeeper")
        finally:
            self._asking.pop(call_id, None)

    async def flushed(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                while self._pending or self._unacked:
                    self._acked.clear()
                    await self._acked.wait()
        except TimeoutError:
            return False
        return True

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, wait: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._task = asyncio.create_task(self._main())
        try:
            await asyncio.wait_for(self._up.wait(), wait)
        except TimeoutError:
            await self._stop()
            raise ConnectError(f"no relay answers at {self.url} ({self.last_error})") from None
        if self._fatal is not None:
            await self._stop()
            raise self._fatal

    async def close(self) -> None:
        self.closing = True
        await self.flushed(5.0)
        await self._stop()

    async def stop(self) -> None:
        """Stop at once, not waiting for acknowledgements (the relay refused this link, or it is closing)."""
        await self._stop()

    async def _stop(self) -> None:
        self.closing = True
        if self._ws is not None:
            try:
                async with asyncio.timeout(2.0):
                    await self._ws.close()
            except (TimeoutError, OSError):
                self._ws.transport.abort()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def _main(self) -> None:
        try:
            await keep_connected(lambda: dial(self.url, self._token, max_queue=16), self._connected,
                                 failed=self._failed, dropped=self._dropped, stop=lambda: self.closing)
        except Refused as e:
            why = "the token was refused" if e.code == 401 else "the request was refused"
            self._fatal = ConnectError(f"{self.url}: {e.code} ({why})")
            self._up.set()

    def _failed(self, why: str) -> None:
        self.last_error = why

    def _dropped(self, why: str, error: Exception | None) -> None:
        if error is not None:
            self.last_error = why

    async def _connected(self, ws: ClientConnection) -> None:
        self._ws = ws
        try:
            await self._session(ws)
        except Exception:
            ws.transport.abort()
            raise
        finally:
            self.connected = False
            self._ws = None

    async def _session(self, ws: ClientConnection) -> None:
        hello = wire.decode(await ws.recv(decode=False))
        if hello.get("t") != "hello":
            self.last_error = f"the relay opened with {hello.get('t')!r}, not a hello"
            return
        state = {self.session: {"paused": self.paused, "asking": list(self._asking)}} if self.session else {}
        await ws.send(wire.dumps(wire.hello_client("agent", self.name, state)), text=True)
        self._unacked.extend(self._pending)
        self._pending, self._unacked = self._unacked, deque()
        self.connected = True
        self._up.set()
        pump = asyncio.create_task(self._pump(ws))
        try:
            while not pump.done():
                self._handle(wire.decode(await ws.recv(decode=False)))
        finally:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump

    async def _pump(self, ws: ClientConnection) -> None:
        while True:
            pending = self._pending
            while pending:
                batch = [pending.popleft() for _ in range(min(len(pending), wire.FRAME_EVENTS))]
                frame = _frame(batch)
                while len(frame) > wire.FRAME_BYTES and len(batch) > 1:
                    half = len(batch) // 2
                    pending.extendleft(reversed(batch[half:]))
                    batch = batch[:half]
                    frame = _frame(batch)
                self._unacked.extend(batch)
                await ws.send(frame, text=True)
            self._wake.clear()
            if not pending:
                await self._wake.wait()

    # --- from the relay -------------------------------------------------------------------

    def _handle(self, msg: dict[str, Any]) -> None:
        t = msg["t"]
        if t == "ack":
            n = msg.get("n")
            if isinstance(n, int):
                unacked = self._unacked
                while unacked and unacked[0][0] <= n:
                    unacked.popleft()
                self._acked.set()
        elif t == "control":
            control = msg.get("control")
            if isinstance(control, dict):
                self._control(control)
            else:
                self.last_error = f"the relay sent a control that is not an object: {control!r}"[:500]
        elif t == "decision":
            future = self._asking.pop(str(msg.get("call_id")), None)
            if future is not None and not future.done():
                future.set_result(Decision(str(msg.get("verdict")), msg.get("reason"), msg.get("by")))
        elif t == "error":
            self.errors.append(msg)
            if msg.get("code") == "forbidden":
                self.last_error = str(msg.get("message"))
                self.closing = True

    def _control(self, c: dict[str, Any]) -> None:
        cid = str(c.get("id"))
        if cid in self._taken:
            return
        self._taken[cid] = None
        if len(self._taken) > OUTCOMES_KEPT:
            del self._taken[next(iter(self._taken))]
        kind = c.get("control")
        if kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
        elif kind == "inject" and isinstance(c.get("text"), str):
            self._injections.append((str(c.get("id")), c["text"]))
        elif kind == "cancel":
            self._cancel = str(c.get("reason") or "cancelled by the user")
            for future in self._asking.values():
                if not future.done():
                    future.set_exception(Cancelled(self._cancel))
        self._changed.set()


def _frame(batch: list[tuple[int, Event]]) -> bytes:
    return wire.dumps({"t": "events", "n": batch[-1][0], "events": [ev for _, ev in batch]})
