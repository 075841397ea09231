"""``watchkeeper demo``: no set-up — the project's own recordings play as if agents were working now,
and a scripted agent runs live beside them, to be steered.

Each file in ``sample_logs/`` (a Claude Code session with a subagent, a Codex
rollout, an SDK agent's recording, all written by the real programs) is played
by a paced source into a live relay, so the sessions screen, follow mode and
the counters behave exactly as they do beside a real agent.

Steering needs an agent that listens: the demo serves its relay over websocket
on loopback (a random port, a fresh token that stays in memory) and runs
``examples/scripted_agent.py`` against it on a thread, through
``watchkeeper.sdk`` as any agent would. It asks before its tool calls, so the
person can approve, deny, pause or inject from its session screen. When the
app quits, the agent is stopped (its session ends) before the relay. If the
endpoint cannot start, the recordings still play and the app says why.
"""

from __future__ import annotations

import argparse
import importlib.util
import secrets
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..adapters.replay import PacedSource
    from ..relay.wsserver import WsServer
    from ..viewer import WatchkeeperApp

HELP = "play the built-in sample sessions as if agents were working right now, and steer a live one"

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE_LOGS = ROOT / "sample_logs"
SCRIPTED_AGENT = ROOT / "examples" / "scripted_agent.py"
#: Seconds per step of the scripted agent at speed 1.
AGENT_DELAY = 1.0
#: Seconds to wait for the endpoint to listen, and for the agent to stop when the app quits.
START_WAIT = 10.0
STOP_WAIT = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    parser.add_argument("--samples", type=Path, default=SAMPLE_LOGS, help=argparse.SUPPRESS)


def demo_files(root: Path) -> list[Path]:
    """The sessions under ``root``: main session files only (a session's subagents play with it)."""
    from ..adapters.source import scan_sessions

    return sorted(path for path, _ in scan_sessions(root)[0])


def demo_sources(files: list[Path], speed: float = 1.0) -> list[PacedSource]:
    """One paced source per file, starting one after another so the sessions arrive one by one."""
    from ..adapters.replay import PacedSource

    scale = 1 / speed if speed > 0 else 0.0
    return [PacedSource(path, speed, min_gap=0.6, start_delay=(0.5 + 1.5 * i) * scale)
            for i, path in enumerate(files)]


@dataclass
class LiveAgent:
    """The steerable half of the demo: the websocket endpoint and the scripted agent reporting to it."""

    server: WsServer
    #: ``examples/scripted_agent.AgentThread``: ``session``, ``ended``, ``stop()``.
    agent: Any

    def stop(self, timeout: float = STOP_WAIT) -> bool:
        """End the agent (its session ends, cancelled); False if its thread is still alive after ``timeout``."""
        stopped: bool = self.agent.stop(timeout)
        return stopped


def start_live_agent(relay: Any, delay: float = AGENT_DELAY, *, port: int = 0) -> tuple[LiveAgent | None, str | None]:
    """Serve ``relay`` on 127.0.0.1 and start the scripted agent against it; (None, why) if it cannot."""
    from ..relay.wsserver import serve_ws

    try:
        example = load_scripted_agent()
    except (OSError, ImportError, SyntaxError) as e:
        return None, f"No live agent to steer in this demo: {SCRIPTED_AGENT} cannot be loaded ({e})"
    token = secrets.token_urlsafe(24)
    server = serve_ws(relay, token, host="127.0.0.1", port=port)
    if not server.ready.wait(START_WAIT) or server.error is not None:
        why = server.error if server.error is not None else f"it did not start within {START_WAIT:g} s"
        return None, f"No live agent to steer in this demo: its endpoint on 127.0.0.1 could not listen ({why})"
    agent = example.start_in_thread(server.url, token, delay, watched=relay.viewers)
    return LiveAgent(server, agent), None


def load_scripted_agent(path: Path = SCRIPTED_AGENT) -> ModuleType:
    """``examples/scripted_agent.py`` (it sits beside the package, as ``sample_logs`` does)."""
    spec = importlib.util.spec_from_file_location("watchkeeper_scripted_agent", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python module: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def demo_app(relay: Any, samples: Path, problem: str | None = None) -> WatchkeeperApp:
    """The app over the demo's relay; ``problem`` (why there is no live agent) is said when it starts."""
    from ..viewer import WatchkeeperApp
    from ..viewer.steer import SteerSetup

    notices = [problem] if problem else []
    return WatchkeeperApp(relay, looked_in=[f"{samples} (demo)"], steer=SteerSetup(notices=notices))


def run(args: argparse.Namespace) -> int:
    import sys

    from ..relay import Relay

    files = demo_files(args.samples)
    if not files:
        print(f"no sample sessions under {args.samples}", file=sys.stderr)
        return 2
    relay = Relay().start()
    live: LiveAgent | None = None
    try:
        for source in demo_sources(files, args.speed):
            relay.add_source(source)
        live, problem = start_live_agent(relay, AGENT_DELAY / args.speed if args.speed > 0 else 0.0)
        app = demo_app(relay, args.samples, problem)
        app.run()
    finally:
        if live is not None and not live.stop():
            print("watchkeeper demo: the scripted agent did not stop in time", file=sys.stderr)
        relay.stop()
    return app.return_code or 0
