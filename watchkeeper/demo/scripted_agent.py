"""A small scripted agent written with ``watchkeeper.sdk``: what steering looks like from the agent's side.

It "fixes a failing test" by a fixed script (read, run the tests, edit, run
them again), reporting each step, and honours the person at every step: it
stops at ``checkpoint()`` while paused, reads the messages injected there,
and asks approval before the edit and the shell commands. Run it against a
relay::

    watchkeeper serve &                        # prints the URL and the token file
    watchkeeper token --agent --out agent.token
    python -m watchkeeper.demo.scripted_agent --token-file agent.token
    watchkeeper attach ws://127.0.0.1:47718    # then pause it, deny its edit, send it a message

``watchkeeper demo`` shows steering with :func:`start_in_thread` against an in-process
relay served by ``watchkeeper.relay.servers.wsserver.serve_ws``; ``stop()`` on the thread it returns
ends the agent at once (the demo quits, the agent does not linger).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from watchkeeper import sdk

MODEL = "scripted-1"
TITLE = "fix the failing total() test"
#: (tool, input, output, needs approval)
STEPS: list[tuple[str, dict[str, Any], str, bool]] = [
    ("Read", {"file_path": "src/total.py"}, "def total(xs):\n    return sum(xs)\n", False),
    ("Bash", {"command": "pytest -q tests/test_total.py"}, "1 failed: TypeError: unsupported operand None", True),
    ("Edit", {"file_path": "src/total.py", "old_string": "sum(xs)",
              "new_string": "sum(x for x in xs if x is not None)"}, "edited src/total.py", True),
    ("Bash", {"command": "pytest -q tests/test_total.py"}, "1 passed", True),
]


async def scripted(run: sdk.AgentRun, delay: float = 1.0) -> str:
    """Play the script on ``run``; returns how it ended: ``done``, ``denied`` or ``cancelled``."""
    run.user("The test in tests/test_total.py fails on None values; fix it.")
    run.thinking("Read the function, reproduce the failure, then filter out the Nones.")
    try:
        for name, tool_input, output, ask in STEPS:
            for text in await run.checkpoint():
                run.assistant(f"Noted: {text}", model=MODEL)
            await asyncio.sleep(delay)
            call = run.tool_started(name, tool_input)
            if ask:
                decision = await run.approval(call, name=name, input=tool_input)
                if not decision.may_run:
                    run.assistant(f"Understood, I will not run {name}: {decision.reason}", model=MODEL)
                    return "denied"
            await asyncio.sleep(delay / 2)
            run.tool_finished(call, output, is_error="failed" in output, duration_ms=delay * 500)
            run.usage(input_tokens=1200, output_tokens=80, model=MODEL, cost_usd=0.0021)
        await run.checkpoint()
        run.assistant("Fixed: total() skips None values and the test passes.", model=MODEL)
        return "done"
    except sdk.Cancelled as e:
        run.assistant(f"Stopping as asked: {e}", model=MODEL)
        return "cancelled"


class AgentThread(threading.Thread):
    """The scripted agent on a thread and event loop of its own; :meth:`stop` ends it promptly.

    With ``watched`` (how many watch a session, e.g. ``Relay.viewers``) it waits, at most
    ``audience_wait`` seconds, until someone watches its session before it plays: a call is held for
    approval only while someone watches, and a demo whose approvals nobody sees shows no steering.
    """

    def __init__(self, url: str, token: str | None, delay: float,
                 watched: Callable[[str], int] | None = None, audience_wait: float = 30.0) -> None:
        super().__init__(name="scripted-agent", daemon=True)
        self.url, self.delay = url, delay
        self.watched, self.audience_wait = watched, audience_wait
        #: the run's session id once connected; how the script ended (done, denied, cancelled, stopped).
        self.session: str | None = None
        self.ended: str | None = None
        self.error: BaseException | None = None
        self._token = token
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._begun = threading.Event()

    def run(self) -> None:
        asyncio.run(self._main())

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the agent wherever it is (a cancel; its session ends) and join; False if it still runs."""
        self._begun.wait(timeout)
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # its loop has already closed: the agent is done
                loop.call_soon_threadsafe(task.cancel)
        self.join(timeout)
        return not self.is_alive()

    async def _main(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        self._begun.set()
        try:
            run = await sdk.connect(self.url, token=self._token, title=TITLE, model=MODEL)
        except (sdk.ConnectError, OSError) as e:
            self.error = e
            return
        except asyncio.CancelledError:
            self.ended = "stopped"
            return
        self.session = run.session
        try:
            await self._audience(run.session)
            self.ended = await scripted(run, self.delay)
            await run.close("cancelled" if self.ended == "cancelled" else "done")
        except asyncio.CancelledError:
            self.ended = "stopped"
            await run.close("cancelled")
        except Exception as e:
            self.error = e
            await run.close("error")

    async def _audience(self, session: str) -> None:
        deadline = time.monotonic() + self.audience_wait
        while self.watched is not None and self.watched(session) <= 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def start_in_thread(url: str, token: str | None = None, delay: float = 1.0,
                    watched: Callable[[str], int] | None = None) -> AgentThread:
    """Play the script against ``url`` on a thread of its own (for ``demo``, beside the app's loop)."""
    thread = AgentThread(url, token, delay, watched)
    thread.start()
    return thread


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a scripted agent that reports to a watchkeeper relay")
    parser.add_argument("url", nargs="?", default=None, help="the relay (default: $WATCHKEEPER_URL, else loopback)")
    parser.add_argument("--token-file",
                        help="an agent credential (watchkeeper token --agent; default: $WATCHKEEPER_AGENT_TOKEN)")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per step (default 1)")
    args = parser.parse_args(argv)
    token = Path(args.token_file).read_text().strip() if args.token_file else None
    try:
        run = await sdk.connect(args.url, token=token, title=TITLE, model=MODEL)
    except sdk.ConnectError as e:
        print(f"scripted_agent: {e}", file=sys.stderr)
        return 2
    async with run:
        ended = await scripted(run, args.delay)
    print(f"scripted_agent: {ended} (session {run.session})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
