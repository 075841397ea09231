"""Attach to a remote relay: a source that follows ``watchkeeper serve`` and re-emits its events locally.

The local relay treats the remote sessions like any others: the same
screens, several remote relays side by side, and controls, which this source
forwards (``Steerable``). The bookkeeping that makes a reconnect lose and
double nothing is in ``resume.py``, the reconnect loop (shared with the SDK's
link) in ``watchkeeper/reconnect.py``; this module owns what is said on each
connection: it resumes from the last seq per session, reads ranges
back when told to resync, and re-sends controls that have no outcome yet
(the server acts once per control id). A refused token ends the source with
a clear error; the token only ever goes in the ``Authorization`` header.

A forwarded control's outcome is the remote relay's own (``control.applied``
or ``control.rejected`` for that control id); the local relay's router waits
for it (``relay/controls.py``). Whether a remote session is live, and its
state, are the remote relay's word too: its ``sessions`` summary, asked for
every ``SESSIONS_POLL`` seconds, so a session that ended over there does not
show as live here just because this connection is up. That summary also says
where each session comes from (a hub's edge, or the relay itself), kept as
its ``Origin`` for the viewer to group by.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ...protocol import ControlModel, Emit, Event, Kind, make_event, wire
from ...protocol.origin import Origin, origin_from
from ...reconnect import Refused, close_quickly, dial, keep_connected
from .resume import Tracker

log = logging.getLogger("watchkeeper.attach")

#: Seconds between two asks for the remote relay's session summaries (liveness, state).
SESSIONS_POLL = 1.0


class RemoteError(ConnectionError):
    """The remote relay refused us (401: the token; 403: refused) or is not a watchkeeper relay."""


def refusal(code: int) -> RemoteError:
    """What a 401 or 403 from a relay means, as the error to show."""
    why = {401: "the token was refused", 403: "the connection was refused"}.get(code, "unexpected answer")
    return RemoteError(f"{code}: {why}")


async def probe(url: str, token: str | None, *, ssl_context: ssl.SSLContext | None = None,
                timeout: float = 10.0) -> dict[str, Any]:
    """The relay's hello; RemoteError if it refuses us, OSError/TimeoutError if nothing answers."""
    return (await request(url, token, None, ssl_context=ssl_context, timeout=timeout))[0]


async def request(url: str, token: str | None, msg: dict[str, Any] | None, *,
                  ssl_context: ssl.SSLContext | None = None, timeout: float = 10.0) -> tuple[dict[str, Any], Any]:
    """One request as a viewer (``ctl --relay``): (the relay's hello, the reply with ``msg``'s id)."""
    try:
        async with asyncio.timeout(timeout), dial(url, token, ssl_context=ssl_context) as ws:
            hello = wire.decode(await ws.recv(decode=False))
            if hello.get("t") != "hello":
                raise RemoteError(f"{url} is not a watchkeeper relay")
            if msg is None:
                return hello, None
            await ws.send(wire.dumps(wire.hello_client("viewer", "ctl")), text=True)
            await ws.send(wire.dumps(msg), text=True)
            while True:
                reply = wire.decode(await ws.recv(decode=False))
                if reply["t"] == "error" and reply.get("code") == "forbidden":
                    raise RemoteError(f"refused: {reply.get('message')}")
                if reply.get("id") == msg.get("id") and reply["t"] != "hello":
                    return hello, reply
    except InvalidStatus as e:
        raise refusal(e.response.status_code) from None
    except (InvalidHandshake, ConnectionClosed) as e:
        raise RemoteError(f"{url}: {e}") from None
    except wire.WireError as e:
        raise RemoteError(f"{url} sent a bad frame ({e}): is it a watchkeeper relay?") from None


def label(url: str) -> str:
    """``host:port`` of a relay URL, for names and notices (a URL never carries the token)."""
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


@dataclass
class Forwarded:
    """What the local relay's router gets back: the control is on its way; ``pending`` holds its outcome.

    ``outcome`` is provisional (marked ``forwarded``), for callers that cannot wait; the remote
    relay's outcome event is what ``pending`` resolves to, and it reaches the session's stream.
    """

    outcome: Event
    events: list[Event] = field(default_factory=list)
    pending: asyncio.Future[Event] | None = None


class RemoteSource:
    """One remote relay, followed for as long as the local relay runs it."""

    agent_kind = "unknown"

    def __init__(self, url: str, token: str | None = None, *, name: str | None = None,
                 ssl_context: ssl.SSLContext | None = None, poll: float = SESSIONS_POLL) -> None:
        if urlsplit(url).scheme not in ("ws", "wss"):
            raise ValueError(f"not a websocket URL: {url!r} (use ws://HOST:PORT or wss://HOST:PORT)")
        self.url = url
        self.name = name or f"relay {label(url)}"
        self.tracker = Tracker(label(url))
        self.status = "connecting"
        self.server: str | None = None
        #: what the remote relay said it offers (its ``hello``).
        self.capabilities: set[str] = set()
        self.connections = 0
        self.errors: list[dict[str, Any]] = []
        self._token = token
        self._ssl = ssl_context
        self._ws: ClientConnection | None = None
        self._emit: Emit = lambda events: None
        #: control id -> (the control, its outcome's future): re-sent after a reconnect until answered.
        self._controls: dict[str, tuple[dict[str, Any], asyncio.Future[Event]]] = {}
        self._ended: set[str] = set()
        self.poll = poll
        #: the remote relay's word per session: (live, state, our next seq then); and the epoch it is of.
        self._said: dict[str, tuple[bool, str | None, int]] = {}
        self._said_epoch: str | None = None
        #: where each session comes from, as the remote relay last said (a hub names its edges).
        self._origins: dict[str, Any] = {}
        self._status_changed: Callable[[], None] = lambda: None
        #: summaries asked for, and answered (for diagnostics and the tests).
        self.asked = 0
        self.answered = 0
        #: requests waiting for their reply (``ask``), by id; the loop they run on, once running.
        self._asks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._requests = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        #: a hub's edges whose sessions it has listed, in the order first seen (their rules live there).
        self.edges: dict[str, None] = {}

    # --- the source ----------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        self.loop = asyncio.get_running_loop()
        try:
            await keep_connected(lambda: dial(self.url, self._token, ssl_context=self._ssl), self._connected,
                                 failed=self._failed, dropped=self._dropped)
        except Refused as e:
            error = refusal(e.code)
            self.status = f"refused: {error}"
            raise error from None
        except InvalidURI as e:
            self.status = f"bad URL: {e}"
            raise RemoteError(str(e)) from None

    def _failed(self, why: str) -> None:
        self.status = f"reconnecting: {why}"

    def _dropped(self, why: str, error: Exception | None) -> None:
        self.status = f"reconnecting: {why}"
        if error is not None and not isinstance(error, ConnectionClosed):
            log.warning("%s: %s", self.name, why)
        self._lost()
        self._status_changed()

    async def _connected(self, ws: ClientConnection) -> None:
        try:
            await self._session(ws)
        finally:
            self._ws = None
            self._fail_asks(f"lost the connection to {self.name}")
            await close_quickly(ws)

    async def _session(self, ws: ClientConnection) -> None:
        hello = wire.decode(await ws.recv(decode=False))
        if hello.get("t") != "hello" or not isinstance(hello.get("epoch"), str):
            raise RemoteError(f"{self.url} is not a watchkeeper relay (it opened with {hello.get('t')!r})")
        self.server = str(hello.get("server") or label(self.url))
        caps = hello.get("capabilities")
        self.capabilities = {str(c) for c in caps} if isinstance(caps, list) else set()
        await ws.send(wire.dumps(wire.hello_client("viewer", "attach")), text=True)
        await ws.send(wire.dumps(self.tracker.connected(hello["epoch"])), text=True)
        for control, _ in list(self._controls.values()):
            await ws.send(wire.dumps({"t": "control", "id": control["id"], "control": control}), text=True)
        self._ws = ws
        self.connections += 1
        self.status = f"connected to {self.server} (epoch {hello['epoch']})"
        self._status_changed()
        asking = asyncio.create_task(self._ask_sessions(ws))
        try:
            while True:
                events, out = self._handle(wire.decode(await ws.recv(decode=False)))
                if events:
                    self._note(events)
                    self._emit(events)
                for msg in out:
                    await ws.send(wire.dumps(msg), text=True)
        finally:
            asking.cancel()
            with contextlib.suppress(BaseException):
                await asking

    async def _ask_sessions(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                self.asked += 1
                await ws.send(wire.dumps({"t": "sessions", "id": f"sessions-{self.asked}"}), text=True)
                await asyncio.sleep(self.poll)

    def _handle(self, msg: dict[str, Any]) -> tuple[list[Event], list[dict[str, Any]]]:
        t = msg["t"]
        if t == "events" and isinstance(msg.get("events"), list):
            return self.tracker.events(msg["events"], msg.get("coalesced"))
        if t == "range":
            return self.tracker.range(msg)
        if t == "resync" and isinstance(msg.get("session"), str) and isinstance(msg.get("from_seq"), int):
            return self.tracker.resync(msg["session"], msg["from_seq"])
        if t == "outcome" and isinstance(msg.get("outcome"), dict):
            return self._answered(msg.get("id"), msg["outcome"]), []
        if t == "breakpoints" and isinstance(msg.get("id"), str) and msg["id"] in self._asks:
            future = self._asks.pop(msg["id"])
            if not future.done():
                future.set_result(msg)
            return [], []
        if t == "sessions" and isinstance(msg.get("sessions"), list):
            self._summaries(msg["sessions"])
            return [], []
        if t == "error":
            self.errors = [*self.errors[-99:], msg]
            log.warning("relay %s: %s: %s", self.name, msg.get("code"), msg.get("message"))
            req = msg.get("id")
            if isinstance(req, str) and req in self._asks:
                future = self._asks.pop(req)
                if not future.done():
                    future.set_exception(RemoteError(f"{self.name}: {msg.get('message')}"))
                return [], []
            if isinstance(req, str) and req in self._controls:
                control = self._controls[req][0]
                return self._answered(req, _outcome(control, Kind.CONTROL_REJECTED, str(msg.get("message")))), []
        return [], []

    def _answered(self, req: Any, outcome: Event) -> list[Event]:
        entry = self._controls.pop(req, None) if isinstance(req, str) else None
        if entry is not None and not entry[1].done():
            entry[1].set_result(outcome)
        session = outcome.get("session")
        return [outcome] if isinstance(session, str) and session in self.tracker.sessions else []

    def _note(self, events: list[Event]) -> None:
        for ev in events:
            if ev.get("kind") == Kind.SESSION_ENDED:
                self._ended.add(ev["session"])

    def _lost(self) -> None:
        live = [sid for sid in self.tracker.sessions if sid not in self._ended and self._live_there(sid)]
        if not live:
            return
        text = f"lost the connection to {self.name}; reconnecting (nothing is lost: it resumes from here)"
        n = self.connections
        self._emit([make_event(f"remote:{self.url}:{self.tracker.epoch}:lost:{n}", sid, Kind.NOTICE,
                               {"level": "warning", "text": text, "code": "relay-disconnected"}) for sid in live])

    # --- liveness (the local relay asks, when it summarises a session) -------------------------

    def session_status(self, session: str) -> tuple[bool, str | None] | None:
        """The remote relay's word on ``session``: (live, its state if nothing newer came since), or None.

        A session the remote relay (this run of it) does not list is not live there: it went with an
        earlier run. Called by the local relay from any thread; reads only.
        """
        if self._said_epoch is None or self._said_epoch != self.tracker.epoch:
            return None
        said = self._said.get(session)
        if said is None:
            return None if self.tracker.known(session) else (False, None)
        live, state, mark = said
        s = self.tracker.sessions.get(session)
        return live, (state if s is None or s.next <= mark else None)

    def _live_there(self, session: str) -> bool:
        said = self.session_status(session)
        return said is None or said[0]

    def on_status_change(self, changed: Callable[[], None]) -> None:
        """``changed()`` (on the relay's loop) whenever the remote relay's word on a session changes."""
        self._status_changed = changed

    def _summaries(self, rows: list[Any]) -> None:
        self.answered += 1
        sessions = self.tracker.sessions
        said: dict[str, tuple[bool, str | None, int]] = {}
        origins: dict[str, Any] = {}
        for row in rows:
            sid = row.get("session") if isinstance(row, dict) else None
            if isinstance(sid, str):
                origin = row.get("origin")
                if isinstance(origin, dict) and isinstance(origin.get("edge"), str):
                    self.edges.setdefault(origin["edge"])
                state = row.get("state")
                s = sessions.get(sid)
                said[sid] = (bool(row.get("live")), state if isinstance(state, str) else None,
                             s.next if s is not None else 0)
                if row.get("origin") is not None:
                    origins[sid] = row["origin"]
        before = {sid: v[:2] for sid, v in self._said.items()}, self._said_epoch, self._origins
        self._said, self._said_epoch, self._origins = said, self.tracker.epoch, origins
        if before != ({sid: v[:2] for sid, v in said.items()}, self._said_epoch, origins):
            self._status_changed()

    def session_origin(self, session: str) -> Origin | None:
        """Where ``session`` comes from: the hub's edge that pushed it, or the remote relay itself.

        Unreachable while this connection is down (and an edge, while it is not connected to
        the hub). From any thread; reads only.
        """
        if not self.tracker.known(session):
            return None
        return origin_from(self._origins.get(session), self.server or label(self.url), self._ws is not None)

    # --- steering (the local relay routes a remote session's controls here) --------------------

    def can_steer(self, session: str) -> bool:
        return self.tracker.known(session)

    def control(self, control: ControlModel) -> Forwarded:
        """Forward ``control`` to the remote relay (now, or when reconnected); ``pending`` gets its outcome."""
        data = control.model_dump(exclude_none=True)
        existing = self._controls.get(control.id)
        future: asyncio.Future[Event] = existing[1] if existing else asyncio.get_running_loop().create_future()
        if existing is None:
            self._controls[control.id] = (data, future)
            if self._ws is not None:
                task = asyncio.ensure_future(self._send({"t": "control", "id": control.id, "control": data}))
                task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)
        where = self.server or label(self.url)
        note = "" if self._ws is not None else " when the connection is back"
        provisional = _outcome(data, Kind.CONTROL_APPLIED, f"sent to {where}{note}; its outcome follows")
        provisional["data"]["forwarded"] = True
        return Forwarded(provisional, [], future)

    def unwatched(self, session: str) -> list[Event]:
        return []

    # --- requests (the breakpoint rules over there) ----------------------------------------

    async def ask(self, msg: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Send ``msg`` (a request the remote relay answers with the same id); its reply.

        RemoteError when not connected, the relay answers ``error``, or the connection drops;
        TimeoutError after ``timeout`` seconds. Run it on the local relay's loop (``loop``).
        """
        ws = self._ws
        if ws is None:
            raise RemoteError(f"not connected to {self.name} ({self.status})")
        self._requests += 1
        req = f"ask-{self._requests}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._asks[req] = future
        try:
            await ws.send(wire.dumps({**msg, "id": req}), text=True)
            return await asyncio.wait_for(future, timeout)
        except ConnectionClosed:
            raise RemoteError(f"lost the connection to {self.name}") from None
        finally:
            self._asks.pop(req, None)

    def _fail_asks(self, why: str) -> None:
        asks, self._asks = self._asks, {}
        for future in asks.values():
            if not future.done():
                future.set_exception(RemoteError(why))

    async def _send(self, msg: dict[str, Any]) -> None:
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(wire.dumps(msg), text=True)


def _outcome(control: dict[str, Any], kind: str, reason: str) -> Event:
    data = {"control_id": control.get("id"), "control": control.get("control"), "by": control.get("by"),
            "reason": reason, "call_id": control.get("call_id"), "sent_ts": control.get("ts")}
    return make_event(f"control:{control.get('id')}", str(control.get("session")), kind, data)
