"""For people writing their own agent in Python: report what the agent does, and be steered.

Two ways to run, one set of reports (``user``, ``assistant``, ``thinking``,
``tool_started``, ``tool_finished``, ``usage``, ``state``, ``notice``):

- ``Run(path)`` writes a native ``.jsonl`` recording that ``watchkeeper``
  tails and replays (observe-only);
- ``async with connect(url) as run`` (or ``run = await connect(url)``)
  reports to a relay (``watchkeeper serve``) over websocket and can be
  steered: ``await run.checkpoint()`` blocks while the person has paused the
  run and returns the messages they injected; ``await run.approval(call_id)``
  waits for their decision on a tool call; a cancel is raised
  (:class:`Cancelled`) at either. ``connect_sync(url)`` is the same for agents
  that are not async.

Every run ends the same way: ``close()`` ends it when called, and returns
something to ``await`` for waiting until the relay has everything (for a
recording there is nothing to wait for). So ``run.close()``, ``await
run.close()``, ``with``/``async with`` all close any run.

This module goes into other people's agent environments, so it imports only
the protocol (no textual, no watchfiles; a test enforces it), and websockets
only when connecting.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import uuid
import warnings
from collections.abc import Coroutine, Generator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from ..protocol import Capabilities, Event, Kind, Profile, encode_line, fit, make_event
from ..protocol.envelope import iso
from ..protocol.kinds import HoldWhy, OnExpiry
from ..protocol.payloads import (
    MessageAssistantData,
    MessageUserData,
    NoticeData,
    SessionEndedData,
    SessionStartedData,
    StateData,
    ThinkingData,
    ToolFinishedData,
    ToolStartedData,
    ToolWaitingData,
    UsageData,
)
from .outcomes import Cancelled, Decision
from .outcomes import ConnectError as ConnectError

if TYPE_CHECKING:
    from .link import Link

#: Tool output beyond this is cut and marked (``truncated`` = bytes cut), as every adapter does.
MAX_OUTPUT = 256 * 1024
#: What an agent connected through this SDK honours (the viewer offers only these).
STEERABLE = Capabilities(pause=True, resume=True, approve=True, deny=True, inject=True, cancel=True,
                         why="an SDK agent stops at its checkpoints and asks before the tools it chooses")

T = TypeVar("T")


class Reporter:
    """The reports every run makes; each becomes one event, with ids stable within the run."""

    session: str

    def __init__(self, session: str | None) -> None:
        self.session = session or str(uuid.uuid4())
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def user(self, text: str, origin: str = "prompt") -> None:
        data: MessageUserData = {"text": text, "origin": origin}
        self._emit(Kind.MESSAGE_USER, data)

    def assistant(self, text: str, model: str | None = None) -> None:
        data: MessageAssistantData = {"text": text, "model": model}
        self._emit(Kind.MESSAGE_ASSISTANT, data)

    def thinking(self, text: str) -> None:
        data: ThinkingData = {"text": text, "hidden": False}
        self._emit(Kind.THINKING, data)

    def tool_started(self, name: str, input: Any = None, call_id: str | None = None) -> str:
        call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
        data: ToolStartedData = {"call_id": call_id, "name": name, "input": input}
        self._emit(Kind.TOOL_STARTED, data, id=f"tool:{call_id}:started")
        return call_id

    def tool_finished(self, call_id: str, output: Any = None, *, is_error: bool = False,
                      duration_ms: float | None = None, status: str | None = None) -> None:
        data: ToolFinishedData = {"call_id": call_id, "output": output, "is_error": is_error,
                                  "status": status or ("error" if is_error else "ok"), "duration_ms": duration_ms}
        if isinstance(output, str) and len(output) > MAX_OUTPUT:
            raw = output.encode()
            if len(raw) > MAX_OUTPUT:
                data["output"] = raw[:MAX_OUTPUT].decode("utf-8", "ignore")
                data["truncated"] = len(raw) - len(data["output"].encode())
        self._emit(Kind.TOOL_FINISHED, data, id=f"tool:{call_id}:finished")

    def usage(self, *, input_tokens: int = 0, output_tokens: int = 0, model: str | None = None,
              cost_usd: float | None = None, cache_read_tokens: int = 0, cache_creation_tokens: int = 0,
              reasoning_tokens: int = 0) -> None:
        data: UsageData = {"input_tokens": input_tokens, "output_tokens": output_tokens, "model": model,
                           "cost_usd": cost_usd, "cache_read_tokens": cache_read_tokens,
                           "cache_creation_tokens": cache_creation_tokens, "reasoning_tokens": reasoning_tokens}
        self._emit(Kind.USAGE, data)

    def state(self, state: str, reason: str | None = None) -> None:
        data: StateData = {"state": state, "reason": reason}
        self._emit(Kind.STATE, data)

    def notice(self, text: str, level: str = "info", code: str | None = None) -> None:
        data: NoticeData = {"level": level, "text": text, "code": code}
        self._emit(Kind.NOTICE, data)

    def _started(self, title: str | None, model: str | None, cwd: str | None, caps: Capabilities,
                 profile: Profile) -> None:
        data: SessionStartedData = {
            "agent_kind": "sdk", "title": title, "cwd": cwd or os.getcwd(), "model": model,
            "capabilities": caps.model_dump(), "profile": profile.model_dump(),
        }
        self._emit(Kind.SESSION_STARTED, data)

    def _emit(self, kind: str, data: Mapping[str, Any], id: str | None = None) -> Event:
        with self._lock:
            n = next(self._counter)
            # Fitted here, where the agent's data becomes an event: whatever it passed, the event can be
            # written and sent (a frame the relay refuses would be sent again and again).
            event = fit(make_event(id or f"sdk:{self.session}:{n}", self.session, kind, data))
            self._write(event)
        return event

    def _write(self, event: Event) -> None:
        raise NotImplementedError


class Run(Reporter):
    """One session of your agent, recorded to a file. Each report is written at once (a tail sees it live)."""

    def __init__(self, path: str | os.PathLike[str], *, title: str | None = None, model: str | None = None,
                 session: str | None = None, cwd: str | None = None) -> None:
        super().__init__(session)
        self._file: IO[bytes] = Path(path).open("ab")  # noqa: SIM115 - lives as long as the run
        self._started(title, model, cwd, Capabilities(why="observe-only: this run writes a recording"), Profile())

    def close(self, reason: str = "done") -> Closing:
        """End the run: ``session.ended`` written and the file closed, at once; a second call does nothing.

        Returns an awaitable, so that ``await run.close()`` works on a recording as on a connected run.
        """
        if not self._file.closed:
            ended: SessionEndedData = {"reason": reason}
            self._emit(Kind.SESSION_ENDED, ended)
            self._file.close()
        return Closing()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close("error" if exc[0] else "done")

    async def __aenter__(self) -> Run:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close("error" if exc[0] else "done")

    def _write(self, event: Event) -> None:
        self._file.write(encode_line(event))
        self._file.flush()


class Closing(Coroutine[Any, Any, None]):
    """What ``close()`` returns: the run is ending already; ``await`` it to wait until the relay has it all.

    A coroutine that need not be awaited (no "never awaited" warning), so ``await``,
    ``asyncio.create_task`` and ``asyncio.wait_for`` take it as they took the ``async def close``
    it replaces. A recording's is done at once.
    """

    def __init__(self, task: asyncio.Task[None] | None = None) -> None:
        self._task = task
        self._steps: Generator[Any, None, None] | None = None

    def __await__(self) -> Generator[Any, None, None]:
        return self._task.__await__() if self._task is not None else _done()

    def send(self, value: Any) -> Any:
        if self._steps is None:
            self._steps = self.__await__()
        return self._steps.send(value)

    def throw(self, *args: Any) -> Any:
        if self._steps is None:
            self._steps = self.__await__()
        return self._steps.throw(*args)

    def close(self) -> None:
        if self._steps is not None:
            self._steps.close()


def _done() -> Generator[Any, None, None]:
    return
    yield


class AgentRun(Reporter):
    """One session of your agent, reported live to a relay and steerable. Build it with :func:`connect`.

    Reports may be made from any thread; ``checkpoint``/``approval`` are coroutines, and ``close``
    is called, of the loop that connected.
    """

    def __init__(self, link: Link, session: str | None) -> None:
        super().__init__(session)
        self._link = link
        self._closing: asyncio.Task[None] | None = None
        link.session = self.session

    async def checkpoint(self) -> list[str]:
        """Block while paused; then return the messages injected since the last checkpoint (may be [])."""
        link = self._link
        link.raise_if_cancelled()
        if link.paused:
            self.state("paused", "paused by the user: waiting at a checkpoint")
            await link.until_resumed()
            self.state("running", "resumed by the user")
        texts = []
        for cid, text in link.take_injections():
            self._emit(Kind.MESSAGE_USER, {"text": text, "origin": "injected", "control_id": cid},
                       id=f"control:{cid}:delivered")
            texts.append(text)
        return texts

    async def approval(self, call_id: str, *, name: str | None = None, input: Any = None,
                       timeout: float | None = 600.0) -> Decision:
        """Ask the person about a started tool call; a denial also finishes the call as ``denied``.

        Nobody watching, or no answer within ``timeout``: ``Decision("none")``, the call goes on.
        """
        self._link.raise_if_cancelled()
        now = datetime.now(UTC)
        waiting: ToolWaitingData = {"call_id": call_id, "reason": "approval", "why": HoldWhy.APPROVAL, "name": name,
                                    "input": input, "since": iso(now), "expires_at": None, "on_expiry": None}
        if timeout is not None:
            waiting["expires_at"] = iso(now + timedelta(seconds=timeout))
            waiting["on_expiry"] = OnExpiry.CONTINUE
        self._emit(Kind.TOOL_WAITING, waiting, id=f"tool:{call_id}:waiting")
        decision = await self._link.decision(call_id, timeout)
        if decision.verdict == "deny":
            self.tool_finished(call_id, decision.reason, is_error=True, status="denied")
        return decision

    async def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the relay has every event reported so far; False if ``timeout`` passed first."""
        return await self._link.flushed(timeout)

    def close(self, reason: str = "done") -> Closing:
        """End the run now: ``session.ended`` is reported and the connection closes in the background.

        ``await`` what it returns to wait until the relay has every event (at most a few seconds) —
        do, before your program exits, or use ``async with``. A second call ends nothing again and
        waits for the first. Call it on the loop that connected.
        """
        if self._closing is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError("AgentRun.close() ends the run on the loop that connected it: call it "
                                   "there (for code that is not async, use connect_sync)") from None
            if self._link.closing:
                done: Coroutine[Any, Any, None] = self._link.stop()
            else:
                ended: SessionEndedData = {"reason": reason}
                self._emit(Kind.SESSION_ENDED, ended)
                done = self._link.close()
            self._closing = loop.create_task(done)
            self._closing.add_done_callback(_retrieved)
        return Closing(self._closing)

    async def __aenter__(self) -> AgentRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close("cancelled" if exc[0] is Cancelled else "error" if exc[0] else "done")

    @property
    def connected(self) -> bool:
        return self._link.connected

    def _write(self, event: Event) -> None:
        self._link.send(event)


def _retrieved(task: asyncio.Task[None]) -> None:
    """A plain ``close()`` nobody awaits: its failure (a relay gone) is not an unretrieved-exception log."""
    if not task.cancelled():
        task.exception()


class Connecting(Coroutine[Any, Any, AgentRun]):
    """What :func:`connect` returns: ``await`` it for the run, or ``async with`` it to close the run at the end.

    It is a coroutine, so ``asyncio.create_task(connect(...))`` works as it always did.
    """

    def __init__(self, coro: Coroutine[Any, Any, AgentRun]) -> None:
        self._coro = coro
        self._run: AgentRun | None = None

    def send(self, value: Any) -> Any:
        return self._coro.send(value)

    def throw(self, *args: Any) -> Any:
        return self._coro.throw(*args)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, AgentRun]:
        return self._coro.__await__()

    async def __aenter__(self) -> AgentRun:
        self._run = await self._coro
        return self._run

    async def __aexit__(self, *exc: object) -> None:
        if self._run is not None:
            await self._run.__aexit__(*exc)


class PersonTokenWarning(UserWarning):
    """The agent connected with the person's token, found by the fallback: its process now holds a token that steers."""


_PERSON_TOKEN = ("this agent connects with your own watchkeeper token ($WATCHKEEPER_TOKEN or the token file), which "
                "can steer every session; give it an agent credential instead: `watchkeeper token --agent`, "
                "then run it with $WATCHKEEPER_AGENT_TOKEN")


def connect(url: str | None = None, *, token: str | None = None, title: str | None = None,
            model: str | None = None, session: str | None = None, cwd: str | None = None,
            name: str | None = None, wait: float = 10.0) -> Connecting:
    """Connect a new steerable run to the relay at ``url`` (default ``$WATCHKEEPER_URL``, else loopback).

    ``run = await connect(...)``, or ``async with connect(...) as run:``, which closes the run
    (reason ``done``, ``error``, or ``cancelled``) when the block ends.

    The token defaults to ``$WATCHKEEPER_AGENT_TOKEN`` (an agent credential from ``watchkeeper token
    --agent``: it reports this run and receives its controls, nothing else), else ``$WATCHKEEPER_TOKEN``,
    else this machine's token file — those two are the person's, and a :class:`PersonTokenWarning` says so. Raises
    :class:`ConnectError` if the relay refuses (401/403) or does not answer within ``wait`` seconds;
    after that, a dropped connection is re-established in the background and nothing reported is lost.
    """
    return Connecting(_connect(url, token=token, title=title, model=model, session=session, cwd=cwd, name=name,
                               wait=wait))


async def _connect(url: str | None, *, token: str | None, title: str | None, model: str | None,
                   session: str | None, cwd: str | None, name: str | None, wait: float) -> AgentRun:
    from .. import config
    from .link import Link

    url = url or os.environ.get(config.ENV_URL) or f"ws://{config.LOOPBACK}:{config.SERVE_PORT}"
    if token is None:
        token = os.environ.get(config.ENV_AGENT_TOKEN, "").strip() or None
        if token is None:
            token = config.client_token()
            if token is not None:
                warnings.warn(PersonTokenWarning(_PERSON_TOKEN), stacklevel=2)
    link = Link(url, token, name or f"{os.path.basename(os.getcwd())}:{os.getpid()}")
    run = AgentRun(link, session)
    run._started(title, model, cwd, STEERABLE, Profile(autonomy="pauses", observability=STEERABLE))
    await link.start(wait)
    return run


class SyncRun:
    """An :class:`AgentRun` for agents that are not async: its loop runs on a thread of its own."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread, run: AgentRun) -> None:
        self._loop, self._thread, self.run = loop, thread, run
        self.session = run.session
        for name in ("user", "assistant", "thinking", "tool_started", "tool_finished", "usage", "state",
                     "notice"):
            setattr(self, name, getattr(run, name))

    def checkpoint(self) -> list[str]:
        return self._wait(self.run.checkpoint())

    def approval(self, call_id: str, *, name: str | None = None, input: Any = None,
                 timeout: float | None = 600.0) -> Decision:
        return self._wait(self.run.approval(call_id, name=name, input=input, timeout=timeout))

    def flush(self, timeout: float = 10.0) -> bool:
        return self._wait(self.run.flush(timeout))

    def close(self, reason: str = "done") -> None:
        """End the run and wait until the relay has every event; then the SDK's thread ends."""
        async def closed() -> None:
            await self.run.close(reason)

        if self._thread.is_alive():
            try:
                self._wait(closed())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)

    def __enter__(self) -> SyncRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close("cancelled" if exc[0] is Cancelled else "error" if exc[0] else "done")

    def _wait(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any: ...


def connect_sync(url: str | None = None, **options: Any) -> SyncRun:
    """:func:`connect` for code that is not async; ``options`` are the same."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="watchkeeper-sdk", daemon=True)
    thread.start()
    try:
        run = asyncio.run_coroutine_threadsafe(connect(url, **options), loop).result()
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        raise
    return SyncRun(loop, thread, run)
