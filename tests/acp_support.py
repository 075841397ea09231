"""Real ACP agents (claude-agent-acp, codex-acp) driven by watchkeeper's ACP source on a real relay, offline.

The agent runs against a model stand-in on 127.0.0.1, with HOME a temp dir; the relay is the one the
viewer and ``watchkeeper sessions`` read, and controls go through its control router as the viewer's do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import AGENTS, _missing

from watchkeeper.adapters.acp.source import AcpSource
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay

WAIT = 90.0


def acp_binary(name: str) -> Path:
    path = AGENTS / ".bin" / name
    if not path.exists():
        _missing(f"ACP adapter {name}")
    return path


class AcpRun:
    """One ACP agent as a source of a started relay; ``events()`` are its session's events so far."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, prompt: str | None = None,
                 breakpoint: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        self.relay = Relay().start()
        self.source = AcpSource(argv, prompt=prompt, cwd=str(cwd), env=env, breakpoint=breakpoint)
        self.relay.add_source(self.source)
        assert self.source.ready.wait(WAIT), "the agent opened no session"
        assert self.source.session is not None, self.source.error
        self.session: str = self.source.session
        self._n = 0
        self.wait(lambda evs: any(e["kind"] == "session.started" for e in evs), "the session on the relay")

    def events(self) -> list[Event]:
        return self.relay.read_range(self.session, 0, 10**9)

    def kinds(self, kind: str) -> list[Event]:
        return [e for e in self.events() if e["kind"] == kind]

    def wait(self, cond: Callable[[list[Event]], Any], what: str, timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = cond(self.events())
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; events: "
                             f"{[(e['kind'], e['data']) for e in self.events()][-30:]}")

    def held(self, n: int = 1) -> list[Any]:
        """Wait until ``n`` calls are held in the session (as the inbox and ``sessions --json`` see them)."""
        def check(_: list[Event]) -> Any:
            info = self.relay.session(self.session)
            return info.held if info is not None and len(info.held) >= n else None
        return list(self.wait(check, f"{n} held call(s)"))

    def idle_turns(self, n: int) -> list[Event]:
        return self.wait(lambda evs: len([e for e in evs if e["kind"] == "state" and e["data"]["state"] == "idle"])
                         >= n, f"{n} finished turn(s)")

    def control(self, control: str, **fields: Any) -> Event:
        self._n += 1
        body = {"id": f"test-{control}-{self._n}", "session": self.session, "control": control, "by": "test",
                **fields}
        return self.relay.control(body).result(10)

    def close(self) -> None:
        self.relay.stop()


def alive(pid: int) -> bool:
    """``pid`` runs (a zombie nobody has reaped yet does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found
