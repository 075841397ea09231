"""``watchkeeper run --acp`` with no watchkeeper running opens a viewer of its own, in a real terminal (tmux,
80x24), on the scripted agent: approved with ``y``, quit with ``q``; and SIGTERM or SIGHUP (the terminal
closed) to it, or to a ``watchkeeper`` hosting the agent, ends the agent cleanly: its request answered
``cancelled``, its process group gone, the runtime file removed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from acp_support import alive, group
from test_acp_hostile import AGENT, OPTIONS, answers
from tmux_support import Tmux, tmux_server
from waiting import until

pytestmark = pytest.mark.timeout(180)
WAIT = 60.0
EXE = Path(sys.executable).with_name("watchkeeper")
CALL = {"sessionUpdate": "tool_call", "toolCallId": "c1", "title": "rm -rf build", "kind": "execute",
        "status": "pending", "rawInput": {"command": "rm -rf build"}}


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("acp-viewer")


class Setup:
    """A private HOME and WATCHKEEPER_HOME, and the scripted agent's scenario: one call it asks about."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.work, self.wk = tmp_path / "work", tmp_path / "wk"
        self.work.mkdir()
        self.pid_file, self.answers = tmp_path / "agent.pid", tmp_path / "answers.jsonl"
        self.scenario = tmp_path / "scenario.json"
        done = {"sessionUpdate": "tool_call_update", "toolCallId": "c1", "status": "completed", "rawOutput": "ok"}
        ask = {"sessionId": "acp-tui", "toolCall": {"toolCallId": "c1"}, "options": OPTIONS}
        self.scenario.write_text(json.dumps({
            "new": {"sessionId": "acp-tui"}, "pid_to": str(self.pid_file), "on_eof": "stay",
            "prompt": [{"notify": CALL}, {"requests": [["session/request_permission", ask]]}, {"notify": done},
                       {"notify": {"sessionUpdate": "agent_message_chunk",
                                   "content": {"type": "text", "text": "Turn over."}}}]}))
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WATCHKEEPER_HOME": str(self.wk),
                    "WATCHKEEPER_PORT": "0", "TERM": "xterm-256color", "LANG": "C.UTF-8"}
        self.agent_argv = ["--", sys.executable, AGENT, str(self.scenario), str(self.answers)]

    def open(self, tmux: Tmux, *args: str) -> int:
        """``watchkeeper ARGS`` in the tmux pane; its pid."""
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        tmux("new-session", "-d", "-s", "wk", "-x", "80", "-y", "24", "-c", str(self.work),
             f"exec env -i {env} {EXE} {' '.join(args)}")
        tmux("resize-window", "-t", "wk", "-x", "80", "-y", "24")
        pid = int(tmux("display", "-p", "-t", "wk", "#{pane_pid}").stdout)
        assert "watchkeeper" in Path(f"/proc/{pid}/cmdline").read_text()
        return pid

    def run_acp(self, tmux: Tmux) -> int:
        return self.open(tmux, "run", "--acp", "--prompt", "hello", *self.agent_argv)

    def agent_ended(self) -> None:
        """The agent and its process group are gone, and so is the runtime file."""
        agent = int(self.pid_file.read_text())
        until(lambda: not alive(agent) and not group(agent), "the agent's process group to end", timeout=WAIT)
        until(lambda: not (self.wk / "relay.json").exists(), "the runtime file removed", timeout=WAIT)

    def cleanup(self) -> None:
        if self.pid_file.exists():
            for pid in group(int(self.pid_file.read_text())):
                os.kill(pid, signal.SIGKILL)


def held(screen: str) -> bool:
    return "waiting for you" in screen and "rm -rf build" in screen and "waiting (permission)" in screen


def test_the_viewer_opens_on_the_session_and_y_approves(tmp_path: Path, tmux: Tmux) -> None:
    setup = Setup(tmp_path)
    try:
        setup.run_acp(tmux)
        screen = tmux.wait_for(held, timeout=WAIT)
        assert "watchkeeper" in screen.splitlines()[0] and "hello" in screen.splitlines()[0], "titled by the prompt"
        tmux.keys("y")
        tmux.wait_for(lambda s: "Turn over." in s and "approved" in s, timeout=WAIT)
        assert answers(setup.answers) == [{"outcome": "selected", "optionId": "yes"}]
        tmux.keys("q")
        until(lambda: not tmux.alive(), what="q to quit the viewer", timeout=WAIT, seen=tmux.screen, poll=0.2)
        setup.agent_ended()
        assert answers(setup.answers) == [{"outcome": "selected", "optionId": "yes"}]
    finally:
        setup.cleanup()


@pytest.mark.parametrize("command", ["run", "watch"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_to_watchkeeper_answers_the_agent_and_ends_it(tmp_path: Path, tmux: Tmux, command: str,
                                                                  sig: signal.Signals) -> None:
    """Killed by the signal, watchkeeper left the agent running (in a session of its own, and claude-agent-acp
    outlives its stdin), its permission request unanswered, and relay.json behind."""
    setup = Setup(tmp_path)
    try:
        if command == "run":
            pid = setup.run_acp(tmux)
        else:
            pid = setup.open(tmux)
            until(lambda: (setup.wk / "relay.json").exists(), "watchkeeper's runtime file", timeout=WAIT)
            started = subprocess.run([str(EXE), "run", "--acp", "--prompt", "hello", *setup.agent_argv],
                                     env=setup.env, cwd=setup.work, capture_output=True, text=True, timeout=WAIT)
            assert started.returncode == 0, started.stderr
        tmux.wait_for(lambda s: "waiting for you" in s, timeout=WAIT)
        assert answers(setup.answers) == []
        os.kill(pid, sig)
        until(lambda: not alive(pid), "watchkeeper to exit", timeout=WAIT, seen=tmux.screen)
        setup.agent_ended()
        assert answers(setup.answers) == [{"outcome": "cancelled"}]
    finally:
        setup.cleanup()
