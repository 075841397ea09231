"""Alerts for a person away from the terminal: the configured ``notify_command`` run on every hold.

A relay subscriber, so every face that holds calls alerts (``watch`` and
``serve`` alike): each ``tool.waiting`` (a pause, a step, a breakpoint hit, a
permission prompt, an agent's approval) runs the command once. It is an argv,
run without a shell; ``{session}``, ``{title}``, ``{tool}``, ``{why}``,
``{summary}``, ``{expires_at}``, ``{expiry}``, ``{call_id}``, ``{agent}`` and
``{rule}`` in its items are replaced by the hold's fields, which are also in
the environment as ``WATCHKEEPER_SESSION`` and so on. A call decided (or let
go because nobody watches) before its turn came is not announced. Every field is text an
agent may have written, so it is sanitized first: control characters go (line
breaks become spaces), and it is cut to ``MAX_FIELD`` characters. The
person's credentials are not passed on.

The relay never waits on a command: holds are queued (at most ``QUEUE``, the
rest dropped) for ``RUNNING`` worker threads, each run is killed after
``TIMEOUT`` seconds, and a problem of each kind (cannot start, fails, too slow,
too many holds) is reported once, as a notice in the session whose hold met it.
Nothing is retried.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import orjson

from .. import config
from ..protocol import Event, Kind
from ..protocol.payloads import ToolWaitingData
from ..protocol.session import Held, held_from
from .api import BatchCallback, SessionInfo, Subscription

#: Characters of a field passed at most.
MAX_FIELD = 200
#: Commands running at once.
RUNNING = 2
#: Holds waiting for a free worker; more are dropped (and that is said once).
QUEUE = 32
#: Seconds a command may run before it is killed.
TIMEOUT = 10.0
FIELDS = ("session", "title", "tool", "why", "summary", "expires_at", "expiry", "call_id", "agent", "rule")
#: Never handed to the command: the person's and agents' credentials.
SECRET_ENV = ("WATCHKEEPER_TOKEN", "WATCHKEEPER_AGENT_TOKEN", "WATCHKEEPER_HOOK_TOKEN")
#: Keys a tool's input names what it acts on by, in the order they are looked for.
SUMMARY_KEYS = ("command", "cmd", "file_path", "path", "notebook_path", "pattern", "url", "query", "prompt",
                "description")

_LINE_BREAKS = re.compile("[\n\r\t\v\f\x85\u2028\u2029]+")
#: C0 and C1 controls, DEL, the bidi controls, zero-width joiners and marks, lone surrogates.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")
_PLACEHOLDER = re.compile("{(" + "|".join(FIELDS) + ")}")

#: Reports a problem once: (session, text, code).
Report = Callable[[str, str, str], None]


def sanitize(value: Any, limit: int = MAX_FIELD) -> str:
    """``value`` as one line of plain text: no control characters, at most ``limit`` characters."""
    text = "" if value is None else str(value)
    text = text[: limit * 4]
    text = _CONTROLS.sub("", _LINE_BREAKS.sub(" ", text))
    text = re.sub(" {2,}", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(input: Any) -> str:
    """What a call acts on, for a one-line alert: its command, path or pattern; else its input as JSON."""
    if isinstance(input, Mapping):
        for key in SUMMARY_KEYS:
            value = input.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                return " ".join(value)
    if isinstance(input, str):
        return input
    if input is None:
        return ""
    try:
        return orjson.dumps(input, default=str).decode()
    except TypeError:
        return str(input)


def fields(session: str, title: str | None, held: Held) -> dict[str, str]:
    """A hold's fields, sanitized."""
    expiry = held.expiry_text()
    raw = {"session": session, "title": title or "", "tool": held.name or "", "why": held.describe(),
           "summary": summary(held.input), "expires_at": held.expires_at or "",
           "expiry": f"{expiry} at {held.expires_at}" if expiry else "waits for you", "call_id": held.call_id,
           "agent": held.agent, "rule": held.rule or ""}
    return {k: sanitize(v) for k, v in raw.items()}


def command_for(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """``argv`` with each ``{field}`` replaced, in one pass: a field's text is never read as a placeholder."""
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], item) for item in argv]


def environment(values: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in SECRET_ENV}
    env.update({f"WATCHKEEPER_{k.upper()}": v for k, v in values.items()})
    return env


class Notifier:
    """Runs ``argv`` for each hold the relay sees; ``subscribe(relay)`` it before sources are added."""

    def __init__(self, argv: Sequence[str], report: Report, lookup: Callable[[str], SessionInfo | None], *,
                 running: int = RUNNING, queued: int = QUEUE, timeout: float = TIMEOUT) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self._report = report
        self._lookup = lookup
        self._queue: queue.Queue[tuple[str, Held] | None] = queue.Queue(maxsize=queued)
        self._reported: set[str] = set()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._work, name=f"watchkeeper-notify-{n}", daemon=True)
                         for n in range(running)]
        for worker in self._workers:
            worker.start()
        self._sub: Subscription | None = None

    def subscribe(self, relay: Any) -> Notifier:
        """Follow every session of ``relay`` (a ``RelayAPI``)."""
        self._sub = relay.subscribe(cast(BatchCallback, self.on_batch))
        return self

    def on_batch(self, batch: list[Event]) -> None:
        """On the relay's thread: queue each hold, never waiting."""
        for ev in batch:
            if ev.get("kind") != Kind.TOOL_WAITING:
                continue
            held = held_from(ev, cast(ToolWaitingData, ev.get("data") or {}))
            if held is None:
                continue
            try:
                self._queue.put_nowait((str(ev.get("session")), held))
            except queue.Full:
                self._once(str(ev.get("session")), "notify-dropped",
                           f"notify_command: more than {self._queue.maxsize} holds waiting to be announced; "
                           "some are not (the command may be too slow)")

    def close(self) -> None:
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        for _ in self._workers:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break

    # --- the workers -------------------------------------------------------------------

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            session, held = item
            try:
                self._run(session, held)
            except Exception as e:  # a worker must outlive any one command
                self._once(session, "notify-failed", f"notify_command could not run: {e!r}")

    def _run(self, session: str, held: Held) -> None:
        info = self._lookup(session)
        if info is not None and all(h.call_id != held.call_id for h in info.held):
            return  # decided (or let go: nobody watches) before its turn came: nothing to tell
        values = fields(session, info.title if info is not None else None, held)
        try:
            proc = subprocess.Popen(command_for(self.argv, values), env=environment(values),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True, close_fds=True)
        except OSError as e:
            self._once(session, "notify-failed", f"notify_command could not start {self.argv[0]!r}: {e.strerror}")
            return
        try:
            _, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            self._once(session, "notify-slow",
                       f"notify_command took longer than {self.timeout:g}s and was stopped; it runs again on the "
                       "next hold")
            return
        if proc.returncode != 0:
            said = sanitize(err.decode(errors="replace"), 300)
            self._once(session, "notify-failed",
                       f"notify_command exited with {proc.returncode}" + (f": {said}" if said else ""))

    def _once(self, session: str, code: str, text: str) -> None:
        with self._lock:
            if code in self._reported:
                return
            self._reported.add(code)
        self._report(session, text, code)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()


def start_notifier(relay: Any, argv: Sequence[str] | None = None) -> tuple[Notifier | None, str | None]:
    """A notifier on ``relay`` (a ``hub.Relay``) for ``argv`` (default: the config's ``notify_command``).

    (None, None) when no command is configured; (None, why) when the config is wrong.
    """
    if argv is None:
        try:
            argv = config.notify_command()
        except ValueError as e:
            return None, f"no alerts: {e}"
    if not argv:
        return None, None
    return Notifier(argv, relay.notice, relay.session).subscribe(relay), None
