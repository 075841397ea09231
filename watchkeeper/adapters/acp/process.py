"""The ACP agent's process: started in a process group of its own, the ACP connection's transport (each
stdout line checked), its stderr kept (sanitized) for the person, its end noticed and explained.

The process is the connection's message transport (``send``/``receive``), not a byte stream: the SDK
skips a line that is not JSON, drops an answer to a request it never sent and a message of the wrong
shape, and logs those on the root logger. Here the first line that is not a JSON-RPC 2.0 message ends
the connection (:attr:`AgentProcess.invalid` says which), an answer to no request of watchkeeper's and
an error watchkeeper answers the agent with are warnings for the person (``on_warning``). An npm
launcher may exit and leave its native binary holding stdout open: the process's exit ends the
connection too, and stopping signals the whole group. On Linux the agent gets SIGTERM should
watchkeeper die without stopping it (even by SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

from ...protocol.display import visible

#: The agent's stderr lines kept for the person (a crash notice quotes the last few).
STDERR_KEPT = 200
TAIL_LINES = 8
#: Seconds the agent gets to exit once its stdin closes (then SIGTERM, then SIGKILL), and the poll period.
EXIT_GRACE = 3.0
EXIT_POLL = 0.2
#: Seconds, once it has exited, for the rest of its stderr (it may have left a process holding the pipe).
STDERR_DRAIN = 1.0
LIMIT = 64 * 1024 * 1024
#: Characters of an agent's line quoted to the person.
QUOTED = 200
_ID_TYPES = (str, int, float, type(None))


class AgentProcess:
    """One agent process; :meth:`start` it, then hand it to the ACP connection as its transport."""

    def __init__(self, argv: list[str], cwd: str, env: dict[str, str] | None,
                 on_stderr: Callable[[str], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        #: called on the loop with each stderr line, sanitized (the session shows them).
        self.on_stderr = on_stderr
        #: called on the loop with what the agent said that watchkeeper dropped or refused.
        self.on_warning = on_warning
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr: deque[str] = deque(maxlen=STDERR_KEPT)
        #: the first line the agent wrote that was not JSON-RPC.
        self.invalid: str | None = None
        #: set once the connection has read the end of the agent's messages (its exit, the end of its
        #: output, or a line that is not JSON-RPC): everything before it has been handed to the SDK.
        self.gone = asyncio.Event()
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._asked: set[Any] = set()
        self._requests: dict[Any, str] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start it (``OSError`` if it cannot be)."""
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=self.cwd, env=self.env, limit=LIMIT, start_new_session=True,
            preexec_fn=dies_with_parent())
        self._tasks = [asyncio.create_task(self._stdout()), asyncio.create_task(self._stderr()),
                       asyncio.create_task(self._exit())]

    # --- the ACP connection's transport ------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Write one message; ``ConnectionError`` once the agent is gone, except for an answer (a hold's
        ``cancelled`` as watchkeeper stops, say), which then has nobody to go to."""
        try:
            await self._write(message)
        except ConnectionError:
            if "method" in message:
                raise

    async def _write(self, message: dict[str, Any]) -> None:
        stdin = self.proc.stdin if self.proc is not None else None
        if stdin is None or stdin.is_closing() or self.gone.is_set():
            raise ConnectionError("the agent's connection is closed")
        self._sent(message)
        try:
            data = orjson.dumps(message)
        except TypeError:  # the SDK's error data may hold what orjson refuses
            data = json.dumps(message, default=str).encode()
        stdin.write(data + b"\n")
        await stdin.drain()

    async def receive(self) -> dict[str, Any] | None:
        message = None if self.gone.is_set() else await self._inbox.get()
        if message is None:
            self.gone.set()
        return message

    async def close(self) -> None:
        """Nothing to do: :meth:`stop` ends the process."""

    def _sent(self, message: dict[str, Any]) -> None:
        if message.get("method") is not None:
            if "id" in message:
                self._asked.add(message["id"])
            return
        what = self._requests.pop(message.get("id"), None)
        error = message.get("error")
        if isinstance(error, dict):
            self._warn(f"watchkeeper could not take the agent's {what or 'request'} and answered it with an "
                       f"error: {error_text(error)}")

    def _take(self, line: bytes) -> dict[str, Any] | None:
        """The message on ``line``; None, with :attr:`invalid` set, if it is not a JSON-RPC 2.0 message."""
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            message = None
        if not is_jsonrpc(message):
            self.invalid = quote(line)
            return None
        if "method" in message:
            if "id" in message:
                self._requests[message["id"]] = message["method"]
        elif message["id"] in self._asked:
            self._asked.discard(message["id"])
        else:
            self._warn(f"the agent answered a request watchkeeper never sent (id {visible(repr(message['id']))}"
                       f"), ignored: {quote(line)}")
        return message

    def _warn(self, text: str) -> None:
        if self.on_warning is not None:
            self.on_warning(text)

    # --- the process ------------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    async def exited(self, within: float = EXIT_GRACE) -> None:
        """Wait up to ``within`` seconds for the exit, then a moment for its last stderr lines (``wait()``
        would wait for every pipe to close, which what it left behind may hold open)."""
        for _ in range(int(within / EXIT_POLL)):
            if self.returncode is not None:
                break
            await asyncio.sleep(EXIT_POLL)
        if self.returncode is not None and len(self._tasks) > 1:
            await asyncio.wait({self._tasks[1]}, timeout=STDERR_DRAIN)

    def what(self, error: BaseException) -> str:
        """What ended the conversation, in a few words."""
        code = self.returncode
        if self.invalid is not None:
            return f"it spoke invalid JSON-RPC: {self.invalid!r}"
        if code is None and isinstance(error, ConnectionError):
            return "it stopped speaking valid JSON-RPC (the connection was closed)"
        if code is not None:
            return f"it exited with status {code}"
        return f"{type(error).__name__}: {visible(str(error))[:300]}"

    def why(self, error: BaseException) -> str:
        """:meth:`what`, with the last lines of the agent's stderr."""
        tail = list(self.stderr)[-TAIL_LINES:]
        return self.what(error) + ("; its last stderr lines:\n" + "\n".join(tail) if tail else "")

    async def stop(self) -> None:
        """stdin closed, then SIGTERM, then SIGKILL to the group (and what it left behind)."""
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(Exception):
                if proc.stdin is not None:
                    proc.stdin.close()
            await self.exited()
            if proc.returncode is None:
                _signal(proc.pid, signal.SIGTERM)
                await self.exited()
        _signal(proc.pid, signal.SIGKILL)
        for task in self._tasks:
            task.cancel()

    async def _stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                if line.strip():
                    message = self._take(line)
                    if message is None:
                        break
                    self._inbox.put_nowait(message)
        except (ValueError, OSError) as e:
            self.invalid = f"unreadable output ({e})"
        finally:
            self._inbox.put_nowait(None)

    async def _exit(self) -> None:
        proc = self.proc
        assert proc is not None
        while proc.returncode is None:
            await asyncio.sleep(EXIT_POLL)
        await asyncio.sleep(EXIT_GRACE)
        _signal(proc.pid, signal.SIGKILL)
        self._inbox.put_nowait(None)

    async def _stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = visible(line.decode("utf-8", "replace").rstrip("\n"))[:2000]
            self.stderr.append(text)
            if self.on_stderr is not None:
                self.on_stderr(text)


def is_jsonrpc(message: Any) -> bool:
    """A JSON-RPC 2.0 request, notification or answer: ``jsonrpc`` "2.0", and a method or an id."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return False
    if "method" in message:
        return isinstance(message["method"], str) and isinstance(message.get("id"), _ID_TYPES)
    return "id" in message and isinstance(message["id"], _ID_TYPES)


def quote(line: bytes) -> str:
    """An agent's line for the person: its terminal controls made visible, cut at ``QUOTED`` characters."""
    text = visible(line.decode("utf-8", "replace").strip())
    return text if len(text) <= QUOTED else text[:QUOTED] + "…"


def error_text(error: dict[str, Any]) -> str:
    """A JSON-RPC error in a line: its message, and the first of the schema's complaints if it lists them."""
    text = str(error.get("message") or "error")
    data = error.get("data")
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        where = ".".join(str(p) for p in first.get("loc") or ())
        text += f" ({len(errors)} problem(s); {where}: {first.get('msg')})"
    return visible(text)[:QUOTED * 2]


def dies_with_parent() -> Callable[[], None] | None:
    """Linux: a ``preexec_fn`` that has the kernel send the agent SIGTERM when the thread that starts it
    (the relay's, which lives as long as watchkeeper) ends, so a watchkeeper killed outright leaves no
    agent behind; elsewhere None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent, pr_set_pdeathsig, sigterm = os.getpid(), 1, int(signal.SIGTERM)

    def arm() -> None:
        prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)
        if os.getppid() != parent:  # watchkeeper died before the signal was armed
            os.kill(os.getpid(), sigterm)

    return arm


def _signal(pid: int, sig: int) -> None:
    """``sig`` to the agent's process group (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
