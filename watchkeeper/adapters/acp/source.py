"""An ACP agent run as a relay source that owns its controls: watchkeeper is the agent's ACP client.

The source starts the agent over stdio on the relay's loop, opens one ACP
session, sends prompts one turn at a time and turns ``session/update`` into
events (``translate.py``). Every ``session/request_permission`` is held for
the person (:mod:`.holds`): ACP has no agent-side rules to fall back on, so a
hold has no expiry, is never let go because nobody watches, and is answered
``cancelled`` when the source stops. No file-system or terminal capability
is advertised: the agent uses its own tools, under its own sandbox. The agent
going (its exit, the end of its output, a line that is not JSON-RPC) ends the
session at once, idle or not, with a notice that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, cast

from ...config import ENV_TOKEN
from ...protocol import Capabilities, ControlModel, Emit, Event, Kind, Profile, make_event
from ...protocol.controls import ControlResult, Outcomes
from ...protocol.payloads import MessageUserData, NoticeData, SessionEndedData, SessionStartedData, StateData
from . import OWNED, sdklog
from .holds import Holds
from .process import AgentProcess
from .translate import Translator, claude_code_meta, quota_usage

#: What the person reads about what this session's controls reach.
WHY = "pause and breakpoints cover only calls the agent asks about"
CAPABILITIES = Capabilities(pause=True, resume=True, approve=True, deny=True, inject=True, cancel=True,
                            permission=True, end=True, why=WHY)
#: Quiet spell after which a streamed message is shown even though the agent has not finished it.
FLUSH_AFTER = 0.15
#: Seconds the agent gets to open its ACP session.
START_TIMEOUT = 60.0
#: Seconds for the answers to pending requests to be written before the agent's stdin closes.
ANSWER_GRACE = 0.2
#: The ACP SDK's complaints outside any source's task (``sdklog``): each source's go to its session.
logging.getLogger("acp").setLevel(logging.CRITICAL)
#: stderr lines shown in one notice at most.
STDERR_BATCH = 50
#: Protocol warnings (``acp-protocol`` notices) shown per session; the rest are counted, not shown.
WARNINGS_SHOWN = 20


class AcpSource:
    """One ACP agent process and its one session. ``ready`` is set once the session exists (or failed)."""

    agent_kind = "acp"

    def __init__(self, argv: list[str], *, prompt: str | None = None, cwd: str | None = None,
                 env: dict[str, str] | None = None, breakpoint: Callable[[dict[str, Any]], str | None] | None = None,
                 title: str | None = None) -> None:
        self.argv = list(argv)
        self.name = f"acp agent {os.path.basename(argv[0])}"
        self.cwd = cwd or os.getcwd()
        # The agent never gets the person's token, whoever started it (``run --acp``, ``/acp``): with it, it
        # could approve its own held calls.
        env = {k: v for k, v in (os.environ if env is None else env).items() if k != ENV_TOKEN}
        self.env = env
        self.title = title or prompt
        self.breakpoint = breakpoint
        self.ready = threading.Event()
        self.session: str | None = None
        self.error: str | None = None
        #: the agent's process, its stderr kept for the person.
        self.agent = AgentProcess(self.argv, self.cwd, env, on_stderr=self._stderr_line, on_warning=self.warn)
        #: why the agent is gone (set as soon as it is noticed): controls are refused with it.
        self.gone: str | None = None
        self._warnings = itertools.count(1)
        self._early: list[tuple[int, str]] = []
        self._stderr: list[str] = []
        self._stderr_due: asyncio.TimerHandle | None = None
        self._stderr_notices = itertools.count(1)
        self.ended = asyncio.Event()
        #: the person ended the session (``end``): the turn is cancelled and the agent stopped.
        self.end_asked = asyncio.Event()
        self._first = prompt
        self._emit: Emit = lambda events: None
        self._batch: list[Event] = []
        self._conn: Any = None
        self._tr: Translator | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._turns: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
        self._queued: dict[str, str] = {}
        #: calls the person denied (with the reason), finished as denied at the turn's end if the agent
        #: never reports them (Gemini CLI sends no update for a rejected call).
        self.denied: dict[str, str] = {}
        self._qn = itertools.count(1)
        self._busy = False
        self.paused = False
        self.holds = Holds(self)
        self.prompt_queueing = False
        self.outcomes = Outcomes()

    # --- the relay's side -----------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        try:
            await self._main()
        finally:
            await self._stop()
            self.ready.set()
            self.ended.set()

    def can_steer(self, session: str) -> bool:
        return session == self.session and not self.ended.is_set()

    def control(self, control: ControlModel) -> ControlResult:
        from .steer import apply

        return apply(self, control)

    def unwatched(self, session: str) -> list[Event]:
        """Nobody watches: nothing is let go (an ACP hold never fails open)."""
        return []

    # --- emitting --------------------------------------------------------------------------

    def emit(self, events: list[Event]) -> None:
        """Into the relay at the end of this loop pass: a burst of updates is one batch, not one per update."""
        if not events:
            return
        if not self._batch:
            try:
                asyncio.get_running_loop().call_soon(self._send_batch)
            except RuntimeError:
                self._emit(events)
                return
        self._batch.extend(events)

    def _send_batch(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self._emit(batch)

    def event(self, what: str, kind: str, data: Any) -> Event:
        assert self.session is not None
        return make_event(f"acp:{self.session}:{what}", self.session, kind, data)

    def notice(self, what: str, text: str, level: str = "info", code: str | None = None) -> None:
        data: NoticeData = {"level": level, "text": text, "code": code}
        self.emit([self.event(what, Kind.NOTICE, data)])

    def _stderr_line(self, line: str) -> None:
        """The agent's stderr, shown in its session as notices: a batch a second (or every 50 lines)."""
        self._stderr.append(line)
        if len(self._stderr) >= STDERR_BATCH:
            self._flush_stderr()
        elif self._stderr_due is None:
            self._stderr_due = asyncio.get_running_loop().call_later(1.0, self._flush_stderr)

    def _flush_stderr(self) -> None:
        if self._stderr_due is not None:
            self._stderr_due.cancel()
            self._stderr_due = None
        if self.session is None:  # before the session starts: kept until it does
            if self._stderr:
                self._stderr_due = asyncio.get_running_loop().call_later(1.0, self._flush_stderr)
            return
        lines, self._stderr = self._stderr, []
        if lines:
            self.notice(f"stderr:{next(self._stderr_notices)}", "agent stderr:\n" + "\n".join(lines),
                        code="agent-stderr")

    def warn(self, text: str) -> None:
        """Something the agent sent that watchkeeper dropped or refused: a warning in its session."""
        n = next(self._warnings)
        if n > WARNINGS_SHOWN + 1:
            return
        if n > WARNINGS_SHOWN:
            text = f"more protocol warnings from the agent are not shown (after {WARNINGS_SHOWN})"
        if self.session is None:
            self._early.append((n, text))
            return
        self.notice(f"protocol:{n}", text, "warning", "acp-protocol")

    def state(self, what: str, state: str, reason: str | None = None) -> None:
        data: StateData = {"state": state, "reason": reason}
        self.emit([self.event(what, Kind.STATE, data)])

    # --- the agent --------------------------------------------------------------------------

    async def _main(self) -> None:
        import acp

        sdklog.install()
        sdklog.REPORT.set(self.warn)
        try:
            await self.agent.start()
        except OSError as e:
            self.error = f"cannot start {self.argv[0]}: {e.strerror or e}"
            return
        self._conn = acp.connect_to_agent(cast(Any, _Client(self)), self.agent)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                init = await self._conn.initialize(
                    protocol_version=acp.PROTOCOL_VERSION,
                    client_capabilities=acp.schema.ClientCapabilities(
                        fs=acp.schema.FileSystemCapabilities(read_text_file=False, write_text_file=False),
                        terminal=False),
                    client_info=acp.schema.Implementation(name="watchkeeper", version=_version()))
                new = await self._conn.new_session(cwd=self.cwd, mcp_servers=[])
        except Exception as e:
            if isinstance(e, ConnectionError) and self.agent.invalid is None:
                await self.agent.exited()
            self.error = f"{self.argv[0]} did not start an ACP session: {self.agent.why(e)}"
            return
        self.session = new.session_id
        OWNED.add(new.session_id)
        self._started(init, new)
        for n, text in self._early:
            self.notice(f"protocol:{n}", text, "warning", "acp-protocol")
        self.ready.set()
        if self._first:
            self.submit(self._first, origin="prompt")
        await self._turn_loop()

    def _started(self, init: Any, new: Any) -> None:
        info = init.agent_info
        meta = init.agent_capabilities.field_meta if init.agent_capabilities else None
        self.prompt_queueing = claude_code_meta(meta).get("promptQueueing") is True
        models = getattr(new, "models", None)
        model = getattr(models, "current_model_id", None) if models is not None else None
        assert self.session is not None
        self._tr = Translator(self.session, model)
        data: SessionStartedData = {
            "agent_kind": "acp", "title": self.title, "cwd": self.cwd, "model": model,
            "version": f"{info.name} {info.version}" if info is not None else None, "source": "acp",
            "capabilities": CAPABILITIES.model_dump(),
            "profile": Profile(autonomy="pauses", observability=CAPABILITIES).model_dump(),
        }
        self.emit([self.event("started", Kind.SESSION_STARTED, data)])

    async def _turn_loop(self) -> None:
        assert self._tr is not None and self.session is not None
        turn = 0
        while True:
            got = await self._next_prompt()
            if self.end_asked.is_set():
                return
            if got is None:
                await self._agent_gone(ConnectionError("the agent's output ended"))
                return
            text, qid = got
            if qid is not None and self._queued.pop(qid, None) is None:
                self._busy = False
                self._next_queued()
                continue
            turn += 1
            self._busy = True
            data: MessageUserData = {"text": text, "origin": "prompt" if qid is None else "injected"}
            if qid is not None:
                data["queue_id"] = qid
            self.emit([self.event(f"turn{turn}:prompt", Kind.MESSAGE_USER, data)])
            self.state(f"turn{turn}:running", "running")
            import acp

            asked = asyncio.ensure_future(self._conn.prompt(session_id=self.session, prompt=[acp.text_block(text)]))
            end = asyncio.ensure_future(self.end_asked.wait())
            try:
                await asyncio.wait((asked, end), return_when=asyncio.FIRST_COMPLETED)
            finally:
                end.cancel()
            if not asked.done():
                asked.cancel()
                return
            try:
                result = asked.result()
            except Exception as e:
                self.flush_now()
                await self._agent_gone(e)
                return
            self.flush_now()
            self.emit(self._tr.deny_unreported(self.denied))
            usage = (result.usage.model_dump(by_alias=True) if result.usage is not None
                     else quota_usage(result.field_meta))
            self.emit(self._tr.turn_usage(usage, turn))
            self._busy = False
            stop = str(result.stop_reason)
            self.state(f"turn{turn}:idle", "idle", f"turn ended: {stop}")
            self._next_queued()

    async def _next_prompt(self) -> tuple[str, str | None] | None:
        """The next prompt to send; None once the agent is gone, noticed while it is idle too."""
        if self.agent.gone.is_set():
            return None
        prompt = asyncio.ensure_future(self._turns.get())
        gone = asyncio.ensure_future(self.agent.gone.wait())
        end = asyncio.ensure_future(self.end_asked.wait())
        try:
            await asyncio.wait((prompt, gone, end), return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            end.cancel()
            prompt.cancel()
        return None if self.agent.gone.is_set() or not prompt.done() else prompt.result()

    async def _agent_gone(self, error: BaseException) -> None:
        """The session's end, said: why the agent is gone (its exit status, once it has one)."""
        self.gone = self.agent.what(error)
        if self.agent.invalid is None:
            await self.agent.exited()
        self.gone = self.agent.what(error)
        self.notice("crashed", f"the agent ended the session: {self.agent.why(error)}", "error", "acp-agent-gone")

    def submit(self, text: str, origin: str = "injected") -> str | None:
        """Prompt the agent: now when it is idle and not paused, else queued (shown as queued) for later."""
        if not self._busy and not self.paused and self._turns.empty():
            self._busy = True
            self._turns.put_nowait((text, None))
            return None
        qid = f"q{next(self._qn)}"
        self._queued[qid] = text
        data: MessageUserData = {"text": text, "origin": "queued", "queue_id": qid}
        self.emit([self.event(f"{qid}:queued", Kind.MESSAGE_USER, data)])
        return qid

    def _next_queued(self) -> None:
        if self.paused or self._busy or not self._queued:
            return
        qid, text = next(iter(self._queued.items()))
        self._busy = True
        self._turns.put_nowait((text, qid))

    def resumed(self) -> None:
        self._next_queued()

    async def cancel(self) -> None:
        if self._conn is not None and self.session is not None:
            with contextlib.suppress(Exception):
                await self._conn.cancel(session_id=self.session)

    # --- updates -----------------------------------------------------------------------------

    def on_update(self, update: dict[str, Any]) -> None:
        if self._tr is None:
            return
        events = self._tr.update(update)
        if update.get("sessionUpdate") in ("tool_call", "tool_call_update"):
            events += self.holds.seen(update)
        self.emit(events)
        if self._tr.streaming and self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush_now)

    def flush_now(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._tr is not None:
            self.emit(self._tr.flush())

    @property
    def translator(self) -> Translator:
        assert self._tr is not None
        return self._tr

    # --- ending --------------------------------------------------------------------------------

    async def _stop(self) -> None:
        """Every pending permission answered ``cancelled``, the turn cancelled, the agent ended."""
        if self._tr is not None:
            self.flush_now()
        why = "the person ended the session" if self.end_asked.is_set() else "watchkeeper stopped"
        if await self.holds.cancel_all(f"{why}: the agent is told the request was cancelled"):
            await asyncio.sleep(ANSWER_GRACE)  # the SDK writes the answers from tasks of its own
        if self._busy:
            await self.cancel()
        await self.agent.stop()
        if self.session is not None:
            code = self.agent.returncode
            data: SessionEndedData = {"reason": "done" if code in (0, None, -15) and self.gone is None else "error"}
            self.emit([self.event("ended", Kind.SESSION_ENDED, data)])
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()


class _Client:
    """The ACP client methods the agent calls; no fs or terminal ones (none advertised)."""

    def __init__(self, source: AcpSource) -> None:
        self.source = source

    def on_connect(self, conn: Any) -> None:
        pass

    async def session_update(self, session_id: str, update: Any, **kw: Any) -> None:
        if session_id == self.source.session:
            self.source.on_update(update.model_dump(by_alias=True, exclude_none=True, mode="json"))

    async def request_permission(self, session_id: str, tool_call: Any, options: Any, **kw: Any) -> Any:
        return await self.source.holds.ask(tool_call.model_dump(by_alias=True, exclude_none=True, mode="json"),
                                           list(options))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("watchkeeper")
    except PackageNotFoundError:
        return "0"
