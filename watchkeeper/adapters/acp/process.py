"""The ACP agent's process: started in a process group of its own, its stdout checked line by line, its
stderr kept (sanitized) for the person, its end noticed and explained.

The SDK skips a line that is not JSON and then waits for an answer that never
comes, so stdout goes through :meth:`AgentProcess.reader`, which ends the
connection at the first line that is not a JSON-RPC message. An npm launcher
may exit and leave its native binary holding stdout open: the process's exit
ends the connection too, and stopping signals the whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable

import orjson

from ...protocol.display import visible

#: The agent's stderr lines kept for the person (a crash notice quotes the last few).
STDERR_KEPT = 200
TAIL_LINES = 8
#: Seconds the agent gets to exit once its stdin closes (then SIGTERM, then SIGKILL), and the poll period.
EXIT_GRACE = 3.0
EXIT_POLL = 0.2
LIMIT = 64 * 1024 * 1024


class AgentProcess:
    """One agent process; :meth:`start` it, hand ``stdin`` and :attr:`reader` to the ACP connection."""

    def __init__(self, argv: list[str], cwd: str, env: dict[str, str] | None,
                 on_stderr: Callable[[str], None] | None = None) -> None:
        self.argv, self.cwd, self.env = argv, cwd, env
        #: called on the loop with each stderr line, sanitized (the session shows them).
        self.on_stderr = on_stderr
        self.proc: asyncio.subprocess.Process | None = None
        #: what the ACP connection reads (made on the loop that starts the process).
        self.reader: asyncio.StreamReader | None = None
        self.stderr: deque[str] = deque(maxlen=STDERR_KEPT)
        #: the first line the agent wrote that was not JSON-RPC.
        self.invalid: str | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> tuple[asyncio.StreamWriter, asyncio.StreamReader]:
        """Start it (``OSError`` if it cannot be); its stdin, and the checked stdout to read."""
        self.reader = asyncio.StreamReader(limit=LIMIT)
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=self.cwd, env=self.env, limit=LIMIT, start_new_session=True)
        assert self.proc.stdin is not None
        self._tasks = [asyncio.create_task(self._stdout()), asyncio.create_task(self._stderr()),
                       asyncio.create_task(self._exit())]
        return self.proc.stdin, self.reader

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    async def exited(self, within: float = EXIT_GRACE) -> None:
        """Wait up to ``within`` seconds for the exit (``wait()`` would also wait for the pipes to close)."""
        for _ in range(int(within / EXIT_POLL)):
            if self.returncode is not None:
                return
            await asyncio.sleep(EXIT_POLL)

    def why(self, error: BaseException) -> str:
        """What ended the conversation, for the person, with the last lines of the agent's stderr."""
        code = self.returncode
        if self.invalid is not None:
            what = f"it spoke invalid JSON-RPC: {self.invalid!r}"
        elif code is None and isinstance(error, ConnectionError):
            what = "it stopped speaking valid JSON-RPC (the connection was closed)"
        elif code is not None:
            what = f"it exited with status {code}"
        else:
            what = f"{type(error).__name__}: {visible(str(error))[:300]}"
        tail = list(self.stderr)[-TAIL_LINES:]
        return what + ("; its last stderr lines:\n" + "\n".join(tail) if tail else "")

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
        assert self.proc is not None and self.proc.stdout is not None and self.reader is not None
        try:
            while line := await self.proc.stdout.readline():
                if line.strip():
                    try:
                        ok = isinstance(orjson.loads(line), dict)
                    except orjson.JSONDecodeError:
                        ok = False
                    if not ok:
                        self.invalid = visible(line.decode("utf-8", "replace").strip())[:200]
                        break
                self.reader.feed_data(line)
        except (ValueError, OSError) as e:
            self.invalid = f"unreadable output ({e})"
        finally:
            self.reader.feed_eof()

    async def _exit(self) -> None:
        proc = self.proc
        assert proc is not None
        while proc.returncode is None:
            await asyncio.sleep(EXIT_POLL)
        await asyncio.sleep(EXIT_GRACE)
        _signal(proc.pid, signal.SIGKILL)
        if self.reader is not None:
            self.reader.feed_eof()

    async def _stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = visible(line.decode("utf-8", "replace").rstrip("\n"))[:2000]
            self.stderr.append(text)
            if self.on_stderr is not None:
                self.on_stderr(text)


def _signal(pid: int, sig: int) -> None:
    """``sig`` to the agent's process group (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
