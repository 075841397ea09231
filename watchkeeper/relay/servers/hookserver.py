"""The loopback HTTP server for Claude Code's http hooks and the local control API.

It runs on the relay's own loop (a frozen UI must not freeze an agent) and
does no blocking work in a handler: a hook with nothing held is answered at
once; a held one waits on a future that a control, the hold timeout, or the
last viewer leaving (after ``serve``'s reconnect grace) resolves.

Loopback is not a wall (a web page can reach 127.0.0.1), and an injected
message reaches an agent that runs shell commands: every request needs a
bearer credential (compared in constant time, 401), and any request with an
``Origin`` header or a non-loopback ``Host`` is refused (403). A person token
reaches every route; a hook credential (what agents are given) only ``/hook``,
and a ``run`` session's only for the session it first carried (403 else).
Slow, ambiguous and surplus connections are cut off (``httplimits.py``).

Routes: ``POST /hook`` (Claude Code), ``POST /hook/codex`` (Codex's command
hooks, through their forwarder; ``?prompts=here`` holds its permission prompts),
``POST /control`` (one control, answered with its outcome), ``GET /sessions``,
``POST /acp`` (start an ACP agent, ``acproute.py``).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from ... import config
from ...adapters.claude_code import hooks as H
from ...adapters.claude_code.steering import Breakpoint, Hold, Policy, Steering
from ...adapters.codex import hooks as XH
from ...adapters.codex.steering import CodexSteering
from ...adapters.codex.unhooked import Unhooked
from ...credentials import HookCredential, Keyring, Person
from ...guard import Guard
from ...protocol import ControlModel, Emit, Event, Kind, ProtocolError, make_event, raw_event, validate_control
from ...protocol.codec import reparse
from ...protocol.controls import ControlResult
from ...protocol.loopback import LOOPBACK_NAMES, loopback_host
from ..api import SessionInfo
from ..pruning import DEFAULT_DAYS, DEFAULT_GIB, Retention
from ..recorder import Recorder
from . import hookroute
from .acproute import StartAcp, acp_starter
from .httplimits import CappedSite, Limits

#: Hook payloads carry whole tool inputs and outputs (a Write's file content): allow big ones.
MAX_HOOK_BODY = 64 * 1024 * 1024
MAX_CONTROL_BODY = 1024 * 1024
#: Who a request authenticated as: a person, or a hook credential (``/hook`` only).
PERSON = web.RequestKey("person", Person)
HOOK_CREDENTIAL = web.RequestKey("hook_credential", HookCredential)
#: Where Codex's hook forwarder posts.
CODEX_PATH = "/hook/codex"
_SESSION_ID = re.compile(rb'"session_id"\s*:\s*"([A-Za-z0-9._-]{1,128})"')

#: Routes one validated control on the relay's loop: its one outcome (awaited, for one passed on).
RouteControl = Callable[[ControlModel], Event | Awaitable[Event]]
Sessions = Callable[[], list[SessionInfo]]
#: The sessions as ``watchkeeper sessions`` lists them (``Relay.listing``).
Listing = Callable[[], list[dict[str, Any]]]


class HookApp:
    """The handlers and what they share; build it with :func:`start_hook_server`."""

    def __init__(self, steering: Steering, emit: Emit, route_control: RouteControl,
                 sessions: Sessions | None, token: str | Keyring, listing: Listing | None = None,
                 codex: CodexSteering | None = None, start_acp: StartAcp | None = None) -> None:
        self.steering = steering
        self.codex = codex or CodexSteering(steering.policy, viewers=steering.viewers,
                                            breakpoint=steering.breakpoint)
        self.start_acp = start_acp
        self.emit = emit
        self.route_control = route_control
        self.sessions = sessions
        self.listing = listing
        self._keyring = config.as_keyring(token)
        self._announced: set[str] = set()
        self._prefix = secrets.token_hex(3)
        self._keys = itertools.count()

    def build(self, limits: Limits | None = None) -> web.Application:
        limits = limits or Limits()
        app = web.Application(client_max_size=MAX_HOOK_BODY,
                              middlewares=[*limits.middlewares(), self._guard, limits.body_middleware()])
        app.router.add_post("/hook", self.hook)
        app.router.add_post(CODEX_PATH, self.hook)
        app.router.add_post("/control", self.control)
        app.router.add_get("/sessions", self.list_sessions)
        app.router.add_post("/acp", self.acp)
        return app

    @web.middleware
    async def _guard(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if "Origin" in request.headers:
            return _error(403, "requests from a browser (with an Origin header) are refused")
        if not loopback_host(request.headers.get("Host", "")):
            return _error(403, "the Host must be a loopback address")
        auth = request.headers.get("Authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        person = self._keyring.person(given) if given else None
        if person is not None:
            request[PERSON] = person
            return await handler(request)
        credential = self._keyring.hook(given) if given else None
        if credential is None and given and self._keyring.agent(given) is not None:
            return _error(403, "an agent credential reaches only the websocket, as an agent: "
                               "it cannot report hooks, steer or list sessions")
        if credential is None:
            return _error(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
        if request.path not in ("/hook", CODEX_PATH):
            return _error(403, "a hook credential reaches only the hook endpoint: it cannot steer or list sessions")
        request[HOOK_CREDENTIAL] = credential
        return await handler(request)

    # --- POST /hook ------------------------------------------------------------

    async def hook(self, request: web.Request) -> web.StreamResponse:
        try:
            payload = await _json_body(request, MAX_HOOK_BODY)
        except web.HTTPBadRequest:
            credential = request.get(HOOK_CREDENTIAL)
            self._keep_malformed(await request.read(), credential.session if credential else None)
            raise
        if not isinstance(payload, dict):
            self.emit(H.payload_events(payload, f"{self._prefix}-{next(self._keys)}"))  # kept as raw
            return _error(400, "a hook payload must be a JSON object")
        fail_closed = request.query.get("fail") == "closed"
        prompts_here = request.query.get("prompts") == "here"
        codex = request.path == CODEX_PATH
        events: list[Event] = []
        session = H.session_of(payload)
        credential = request.get(HOOK_CREDENTIAL)
        if credential is not None and not self._keyring.admits(credential, session):
            self._refused(credential, session)
            return _error(403, "this hook credential belongs to another session")
        if (self.steering if codex else self.codex).knows(session) and not \
                (self.codex if codex else self.steering).knows(session):
            events.append(hookroute.both_paths(session))
        key = f"{self._prefix}-{next(self._keys)}"
        # The session counts as announced once its first request's events are out: one that failed on the
        # way would otherwise leave it without a ``session.started`` for good.
        announce = session not in self._announced
        if codex:
            payload = XH.normalized(payload)
            if announce:
                events.append(XH.announce(payload, prompts_here))
            events += XH.payload_events(payload, key)
            result = self.codex.on_hook(payload, fail_closed, prompts_here)
            steering: Steering = self.codex
        else:
            if announce:
                events.append(H.announce(payload, prompts_here))
            events += H.payload_events(payload, key)
            result = self.steering.on_hook(payload, fail_closed, prompts_here)
            steering = self.steering
        events += result.events
        self.emit(events)
        self._announced.add(session)
        if result.hold is None:
            return _reply(result.reply or {})
        return _reply(await self._wait(result.hold, steering))

    def _refused(self, credential: HookCredential, session: str) -> None:
        """Say, in the session the credential belongs to, that it was used for another one."""
        owner = credential.session
        if owner is None or owner not in self._announced:
            return
        text = f"a hook request for another session ({session}) came with this session's credential: refused"
        self.emit([make_event(f"hook:{owner}:{self._prefix}-{next(self._keys)}:refused", owner, Kind.NOTICE,
                              {"level": "warning", "text": text, "code": "hook-credential-refused"})])

    def _keep_malformed(self, body: bytes, bound: str | None) -> None:
        """A body that is not JSON (invalid UTF-8, a cut request) is still shown: a ``raw`` event, not lost.

        It lands in the session its credential is bound to, whatever the body names.
        """
        found = _SESSION_ID.search(body[:65536])
        session = bound or (found.group(1).decode("utf-8", "replace") if found else "unknown")
        self.emit([raw_event(session, body, "a hook request whose body is not JSON", H.SOURCE)])

    async def _wait(self, hold: Hold, steering: Steering) -> dict[str, Any]:
        """Until the hold is decided, it times out, or the agent gives up (the request is cancelled)."""
        if hold.reply is not None:
            return hold.reply
        done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def wake(reply: dict[str, Any]) -> None:
            if not done.done():
                done.set_result(reply)

        hold.wakers.append(wake)
        hold.waiting += 1
        try:
            return await asyncio.wait_for(done, steering.policy.hold_timeout)
        except TimeoutError:
            self.emit(steering.expire(hold))
            return hold.reply or {}
        except asyncio.CancelledError:
            if hold.waiting == 1:
                self.emit(steering.abandoned(hold))
            raise
        finally:
            hold.waiting -= 1

    # --- POST /control, GET /sessions ------------------------------------------------

    async def control(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request, MAX_CONTROL_BODY)
        try:
            control = validate_control(body)
        except ProtocolError as e:
            return _error(400, f"not a valid control: {e}")
        person = request.get(PERSON)
        if person is not None and person.name:
            control = control.model_copy(update={"by": person.name})
        outcome = self.route_control(control)
        return _reply({"outcome": await outcome if isinstance(outcome, Awaitable) else outcome})

    async def acp(self, request: web.Request) -> web.StreamResponse:
        if request.get(PERSON) is None:
            return _error(403, "only a person's token starts an agent")
        if self.start_acp is None:
            return _error(404, "this watchkeeper does not start ACP agents")
        body = await _json_body(request, MAX_CONTROL_BODY)
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        answer = await self.start_acp(body)
        return _reply(answer) if "session" in answer else _error(400, str(answer.get("error")))

    async def list_sessions(self, request: web.Request) -> web.StreamResponse:
        infos = self.sessions() if self.sessions is not None else []
        out = []
        for info in infos:
            row = asdict(info)
            row["steering"] = self.steering.state(info.session) or self.codex.state(info.session)
            out.append(row)
        reply: dict[str, Any] = {"sessions": out}
        if self.listing is not None:
            reply["listing"] = self.listing()
        return _reply(reply)


async def start_hook_server(steering: Steering, emit: Emit, token: str | Keyring, *,
                            route_control: RouteControl | None = None, sessions: Sessions | None = None,
                            host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None,
                            listing: Listing | None = None, codex: CodexSteering | None = None,
                            start_acp: StartAcp | None = None) -> web.AppRunner:
    """Serve on the running loop (the relay's); ``bound_port(runner)`` says where; ``runner.cleanup()`` stops.

    ``limits`` bound slow and surplus connections (``httplimits.py``).

    Without ``route_control``, controls go straight to ``steering`` and their
    events to ``emit`` (a hook server with no relay behind it).
    """
    if host not in LOOPBACK_NAMES:
        raise ValueError(f"the hook server listens on loopback only, not {host!r}")
    if not token:
        raise ValueError("the hook server needs a token")
    codex = codex or CodexSteering(steering.policy, viewers=steering.viewers, breakpoint=steering.breakpoint)
    app = HookApp(steering, emit, route_control or direct_router(steering, emit, codex), sessions, token, listing,
                  codex, start_acp)
    limits = limits or Limits()
    runner = web.AppRunner(app.build(limits), handler_cancellation=True, access_log=None, shutdown_timeout=0.5,
                           **limits.runner_options())
    await runner.setup()
    await CappedSite(runner, host, port, limits).start()
    return runner


class HookSource:
    """The hook endpoint as one relay source: serves on the relay's loop while the relay runs it.

    The relay routes a session's controls to it (``can_steer``, ``control``)
    and tells it when the last viewer of a session leaves (``unwatched``);
    build it with :func:`serve_hooks`.
    """

    name = "claude-code hooks"
    agent_kind = "claude-code"

    def __init__(self, token: str | Keyring, *, port: int = 0, policy: Policy | None = None,
                 breakpoint: Breakpoint | None = None, viewers: Callable[[str], int] | None = None,
                 route_control: RouteControl | None = None, sessions: Sessions | None = None,
                 runtime_file: bool = False, listing: Listing | None = None,
                 start_acp: StartAcp | None = None) -> None:
        #: the built-in breakpoint (always on): calls that name watchkeeper's own files or ports.
        self.guard = Guard.here(port)
        self.steering = Steering(policy, viewers=viewers, breakpoint=self.guard.before(breakpoint))
        self.codex = CodexSteering(policy, viewers=viewers, breakpoint=self.steering.breakpoint)
        self.port = port
        #: set once the server listens (``port`` is then the bound one), or it failed (``error``).
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._token = token
        self._route_control = route_control
        self._sessions = sessions
        self._listing = listing
        self._start_acp = start_acp
        self._runtime_file = runtime_file
        #: records the hooked sessions when :func:`serve_hooks` is given a directory.
        self.recorder: Recorder | None = None
        #: the sessions of the ACP agents started here (``/acp``): recorded as hooked sessions are.
        self.acp_sessions: set[str] = set()
        self._emit: Emit = lambda events: None

    async def run(self, emit: Emit) -> None:
        from ... import config

        self._emit = emit
        try:
            runner = await start_hook_server(self.steering, emit, self._token, route_control=self._route_control,
                                             sessions=self._sessions, port=self.port, listing=self._listing,
                                             codex=self.codex, start_acp=self._start_acp)
        except BaseException as e:
            self.error = e
            self.ready.set()
            raise
        self.port = bound_port(runner)
        self.guard.ports.add(self.port)
        epoch = secrets.token_hex(4)
        if self._runtime_file:
            config.write_runtime(self.port, epoch)
        self.ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            if self._runtime_file:
                config.clear_runtime(epoch)
            if self.recorder is not None:
                self.recorder.close()
            await runner.cleanup()

    def can_steer(self, session: str) -> bool:
        return self.steering.steerable(session) or self.codex.steerable(session) or session in self.acp_sessions

    def knows(self, session: str) -> bool:
        return self.steering.knows(session) or self.codex.knows(session) or session in self.acp_sessions

    # --- a ``StatusSource``: a hooked session has an open channel from its first hook to its end ----

    def session_status(self, session: str) -> tuple[bool, str | None] | None:
        """A session whose hooks reach this endpoint is live until it ends (``session.ended`` says so)."""
        return (True, None) if self.steering.knows(session) else None

    def on_status_change(self, changed: Callable[[], None]) -> None:
        """Nothing to tell: a hook's events (a new session, its end) change the list themselves."""

    def control(self, control: ControlModel) -> ControlResult:
        return hookroute.route(control, self.steering, self.codex)

    def unwatched(self, session: str) -> list[Event]:
        return self.steering.unwatched(session) + self.codex.unwatched(session)

    # --- told by ``serve``'s websocket server (a ``WatchListener``) ------------------

    def grace_started(self, seconds: float) -> None:
        """The last remote viewer left: the held calls wait ``seconds`` for one to come back."""
        self._emit(self.steering.grace(seconds) + self.codex.grace(seconds))

    def nobody_watching(self) -> None:
        """The grace ran out: every held call nobody watches ends by its session's policy."""
        self._emit(self.steering.nobody_watching() + self.codex.nobody_watching())


def serve_hooks(relay: Any, token: str | Keyring, *, port: int = 0, policy: Policy | None = None,
                breakpoint: Breakpoint | None = None, runtime_file: bool = False,
                record_dir: Path | str | None = None, viewers: Callable[[str], int] | None = None,
                retention: tuple[float | None, float | None] | None = None,
                recorder: Recorder | None = None) -> HookSource:
    """Start the hook endpoint as a source of ``relay`` (on its loop); wait on ``.ready`` for the port.

    With ``record_dir``, each hooked session's merged stream (transcript, hooks,
    controls) is recorded there as ``<session>.jsonl``, which ``replay`` plays.
    ``viewers`` counts who watches a session (default: the relay's own
    viewers; ``serve`` adds its websocket viewers). ``retention``: (days, GiB) kept of
    recordings (``pruning.py``; None in either: no limit of that kind). ``recorder``: one the caller made
    and owns (``serve``'s, which records more than hooked sessions): the caller says what it wants.
    """
    source = HookSource(token, port=port, policy=policy, breakpoint=breakpoint, viewers=viewers or relay.viewers,
                        route_control=lambda c: asyncio.wrap_future(relay.control(c)),  # the far side's own outcome
                        sessions=relay.sessions, runtime_file=runtime_file,
                        listing=getattr(relay, "listing", None))
    source._start_acp = acp_starter(relay, breakpoint, started=source.acp_sessions.add)
    if record_dir is not None and recorder is None:
        days, gib = retention if retention is not None else (DEFAULT_DAYS, DEFAULT_GIB)
        source.recorder = Recorder(record_dir, want=source.knows, read_range=relay.read_range,
                                   retention=Retention(Path(record_dir), days, gib),
                                   notice=getattr(relay, "notice", None))
        relay.subscribe(source.recorder)
        if hasattr(relay, "record_to"):
            relay.record_to(source.recorder)
    relay.add_source(source)
    relay.subscribe(Unhooked(source.codex, lambda events: source._emit(events)))
    return source


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the hook server is not listening")


def direct_router(steering: Steering, emit: Emit, codex: Steering | None = None) -> RouteControl:
    """Controls applied by ``steering`` (``codex`` for its sessions), their events emitted: no relay behind."""

    def route(control: ControlModel) -> Event:
        result = hookroute.route(control, steering, codex)
        if result.events:
            emit(result.events)
        return result.outcome

    return route


async def _json_body(request: web.Request, limit: int) -> Any:
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length,
                                            text=f"the body is over {limit} bytes")
    raw = await request.read()
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    try:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            return reparse(raw, e)
    except orjson.JSONDecodeError as e:
        raise web.HTTPBadRequest(text=orjson.dumps({"error": f"malformed JSON: {e}"}).decode(),
                                 content_type="application/json") from None


def _reply(obj: Any) -> web.Response:
    return web.Response(body=orjson.dumps(obj, default=str), content_type="application/json")


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": reason}), content_type="application/json",
                        headers=headers)
