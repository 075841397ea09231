"""``watchkeeper demo``: no set-up — the project's own recordings play as if agents were working now,
and a scripted agent runs live beside them, to be steered.

Each recording in the package's ``watchkeeper/demo/sample_logs/`` (a Claude Code
session with a subagent, a Codex rollout, an SDK agent's recording, all written
by the real programs; read through ``importlib.resources``, so an installed
copy finds them wherever it is run from) is played
by a paced source into a live relay, so the sessions screen, follow mode and
the counters behave exactly as they do beside a real agent.

Steering needs an agent that listens: the demo serves its relay over websocket
on loopback (a random port, a fresh person token that stays in memory) and runs
``watchkeeper.demo.scripted_agent`` against it on a thread with an agent
credential of its own (registered in a temporary directory removed at the
end), so the agent can report and be steered but not steer, through
``watchkeeper.sdk`` as any agent would. It asks before its tool calls, so the
person can approve, deny, pause or inject from its session screen. When the
app quits, the agent is stopped (its session ends) before the relay. If the
endpoint cannot start, the recordings still play and the app says why.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
from dataclasses import dataclass
from importlib.resources import as_file
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..adapters.files.replay import PacedSource
    from ..relay.servers.wsserver import WsServer
    from ..viewer import WatchkeeperApp

HELP = "play the built-in sample sessions as if agents were working right now, and steer a live one"

#: Seconds per step of the scripted agent at speed 1.
AGENT_DELAY = 1.0
#: Seconds to wait for the endpoint to listen, and for the agent to stop when the app quits.
START_WAIT = 10.0
STOP_WAIT = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    parser.add_argument("--samples", type=Path, default=None, help=argparse.SUPPRESS)


def demo_files(root: Path) -> list[Path]:
    """The sessions under ``root``: main session files only (a session's subagents play with it)."""
    from ..adapters.files.discovery import scan_sessions

    return sorted(path for path, _ in scan_sessions(root)[0])


def demo_sources(files: list[Path], speed: float = 1.0) -> list[PacedSource]:
    """One paced source per file, starting one after another so the sessions arrive one by one."""
    from ..adapters.files.replay import PacedSource

    scale = 1 / speed if speed > 0 else 0.0
    return [PacedSource(path, speed, min_gap=0.6, start_delay=(0.5 + 1.5 * i) * scale)
            for i, path in enumerate(files)]


@dataclass
class LiveAgent:
    """The steerable half of the demo: the websocket endpoint and the scripted agent reporting to it."""

    server: WsServer
    #: ``watchkeeper.demo.scripted_agent.AgentThread``: ``session``, ``ended``, ``stop()``.
    agent: Any
    #: where the agent's credential is registered (by hash) while the demo runs.
    store: tempfile.TemporaryDirectory[str]

    def stop(self, timeout: float = STOP_WAIT) -> bool:
        """End the agent (its session ends, cancelled); False if its thread is still alive after ``timeout``."""
        stopped: bool = self.agent.stop(timeout)
        self.store.cleanup()
        return stopped


def start_live_agent(relay: Any, delay: float = AGENT_DELAY, *, port: int = 0) -> tuple[LiveAgent | None, str | None]:
    """Serve ``relay`` on 127.0.0.1 and start the scripted agent against it; (None, why) if it cannot."""
    from ..credentials import Keyring, mint
    from ..demo import scripted_agent
    from ..relay.servers.wsserver import serve_ws

    store = tempfile.TemporaryDirectory(prefix="watchkeeper-demo-")
    keyring = Keyring([(None, secrets.token_urlsafe(24))], Path(store.name))
    server = serve_ws(relay, keyring, host="127.0.0.1", port=port)
    if not server.ready.wait(START_WAIT) or server.error is not None:
        store.cleanup()
        why = server.error if server.error is not None else f"it did not start within {START_WAIT:g} s"
        return None, f"No live agent to steer in this demo: its endpoint on 127.0.0.1 could not listen ({why})"
    credential = mint(Path(store.name), "agent", "demo agent")
    agent = scripted_agent.start_in_thread(server.url, credential, delay, watched=relay.viewers)
    return LiveAgent(server, agent, store), None


def demo_app(relay: Any, samples: Path, problem: str | None = None) -> WatchkeeperApp:
    """The app over the demo's relay; ``problem`` (why there is no live agent) is said when it starts."""
    from .. import config
    from ..viewer import WatchkeeperApp
    from ..viewer.model.control_availability import SteerSetup

    notices = [problem] if problem else []
    return WatchkeeperApp(relay, looked_in=[f"{samples} (demo)"], steer=SteerSetup(notices=notices),
                          preferences=config.preferences_path())


def run(args: argparse.Namespace) -> int:
    from ..demo import sample_logs

    with as_file(args.samples or sample_logs()) as samples:
        return play(samples, args.speed)


def play(samples: Path, speed: float) -> int:
    """The demo over the recordings under ``samples`` (a directory on disk); the exit code."""
    import sys

    from ..relay import Relay

    files = demo_files(samples)
    if not files:
        print(f"no sample sessions under {samples}", file=sys.stderr)
        return 2
    relay = Relay().start()
    live: LiveAgent | None = None
    try:
        for source in demo_sources(files, speed):
            relay.add_source(source)
        live, problem = start_live_agent(relay, AGENT_DELAY / speed if speed > 0 else 0.0)
        app = demo_app(relay, samples, problem)
        app.run()
    finally:
        if live is not None and not live.stop():
            print("watchkeeper demo: the scripted agent did not stop in time", file=sys.stderr)
        relay.stop()
    return app.return_code or 0
