"""The real Claude Code CLI, started with ``watchkeeper run --``, beside ``watchkeeper serve`` (a process).

The person's screen is ``attach``'s client: a local relay following the served
one through :class:`~watchkeeper.adapters.remote.RemoteSource` (what the
viewer runs on), or ``ctl --relay`` as a process. ``run`` finds the served hook
endpoint as a person's shell would: through the config directory they share.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from remote_support import Attached
from standins.anthropic import ScriptedAnthropic
from standins.claude import ClaudeProcess, claude_command, claude_env
from test_remote_cli import Lines, free_port

from watchkeeper.protocol import Event

ROOT = Path(__file__).resolve().parent.parent
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]
WAIT = 30.0


@dataclass
class Serve:
    """``watchkeeper serve`` as a process, with its own config directory and the environment to reach it."""

    proc: subprocess.Popen[str]
    out: Lines
    url: str
    env: dict[str, str]
    home: Path

    @property
    def token_file(self) -> str:
        return str(self.home / "token")

    @property
    def token(self) -> str:
        return (self.home / "token").read_text().strip()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*WATCHKEEPER, *args], cwd=ROOT, env=self.env, text=True, capture_output=True,
                              timeout=WAIT)

    def ctl(self, action: str, session: str, *args: str) -> tuple[int, str]:
        done = self.cli("ctl", action, session, *args, "--relay", self.url, "--token-file", self.token_file)
        return done.returncode, done.stdout + done.stderr

    def held(self, session: str) -> list[str]:
        """The calls serve's hook endpoint holds for ``session`` (its ``/sessions``, which ``hooks status`` reads)."""
        url = f"http://127.0.0.1:{self.env['WATCHKEEPER_PORT']}/sessions"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            answer = orjson.loads(response.read())
        for row in answer.get("sessions", []):
            if row.get("session") == session and row.get("steering"):
                return list(row["steering"]["held"])
        return []

    def stream(self, session: str) -> list[Event]:
        """The session's events on serve, read with one range request (a connection that does not watch)."""
        from watchkeeper.adapters.remote import request

        msg = {"t": "range", "id": "r", "session": session, "start": 0, "stop": 100_000}
        reply = asyncio.run(request(self.url, self.token, msg))[1]
        events: list[Event] = reply["events"]
        return events

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def start_serve(tmp: Path, *args: str) -> Serve:
    home, claude_home = tmp / "wk-config", tmp / "home"
    (claude_home / ".claude" / "projects").mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WATCHKEEPER_HOME": str(home),
           "WATCHKEEPER_PORT": str(free_port()), "HOME": str(tmp / "person"),
           "PYTHONPATH": str(ROOT)}
    port = free_port()
    proc = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-default-roots",
                             "--root", str(claude_home / ".claude" / "projects"), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    served = Serve(proc, Lines(proc.stdout), f"ws://127.0.0.1:{port}", env, home)
    try:
        served.out.until("attach:")
    except BaseException:
        served.stop()
        raise
    return served


def start_claude(served: Serve, version: str, api: ScriptedAnthropic, tmp: Path, *,
                 run_args: tuple[str, ...] = (), allowed: tuple[str, ...] = ("Bash",)) -> ClaudeProcess:
    """``watchkeeper run [run_args] -- claude -p …`` in the person's shell, beside ``serve``."""
    sid = str(uuid.uuid4())
    cwd, home = tmp / "work", tmp / "home"
    cwd.mkdir(parents=True, exist_ok=True)
    claude = claude_command(version, "go", session_id=sid, allowed_tools=allowed, settings=None, extra_args=())
    shell = {k: v for k, v in served.env.items() if k not in ("PATH", "HOME")}
    return ClaudeProcess(version, [*WATCHKEEPER, "run", *run_args, "--", *claude],
                         claude_env(api, home, shell), home, cwd, sid)


class Screen:
    """The person's screen: ``attach``'s client (a local relay following serve) and what it has shown."""

    def __init__(self, served: Serve) -> None:
        self.attached = Attached(served.url, token=served.token)
        self.n = 0

    def events(self, session: str) -> list[Event]:
        return self.attached.events(session)

    def sees(self, session: str) -> bool:
        """The session reached this screen: it follows serve (and so counts as watching there)."""
        return self.attached.relay.session(session) is not None

    def of(self, session: str, kind: str) -> list[Event]:
        return [e for e in self.events(session) if e["kind"] == kind]

    def control(self, session: str, kind: str, **fields: Any) -> Event:
        """One control as the viewer's controls send it; the remote relay's own outcome."""
        self.n += 1
        c = {"id": f"screen-{uuid.uuid4().hex[:8]}", "session": session, "control": kind, "by": "person",
             **fields}
        outcome: Event = self.attached.relay.control(c).result(WAIT)
        return outcome

    def close(self) -> None:
        self.attached.stop()
