"""``watchkeeper run --acp`` into a running watchkeeper; ``sessions --json`` and ``ctl`` on the ACP session."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acp_support import acp_binary
from standins.anthropic import ScriptedAnthropic, text, tool_use
from standins.claude import claude_env

from watchkeeper import config
from watchkeeper.relay import Relay
from watchkeeper.relay.servers.hookserver import serve_hooks

pytestmark = [pytest.mark.node, pytest.mark.timeout(240)]
WAIT = 90.0


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Relay, dict[str, str]]]:
    home = tmp_path / "wk-config"
    monkeypatch.setenv(config.ENV_HOME, str(home))
    token = config.load_token(create=True)
    assert token
    relay = Relay().start()
    hooks = serve_hooks(relay, token, port=0, runtime_file=True)
    assert hooks.ready.wait(WAIT) and hooks.error is None
    env = {config.ENV_HOME: str(home), config.ENV_PORT: str(hooks.port),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    yield relay, env
    relay.stop()


def cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "watchkeeper"), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=WAIT + 30)


def test_run_acp_into_the_running_watchkeeper(tmp_path: Path, wk: tuple[Relay, dict[str, str]]) -> None:
    _relay, wk_env = wk
    script = [[text("I will touch a file."), tool_use("Bash", {"command": "touch notes.txt"})], [text("All done.")]]
    with ScriptedAnthropic(script) as api:
        home, work = tmp_path / "home", tmp_path / "work"
        home.mkdir()
        work.mkdir()
        env = {**claude_env(api, home), **wk_env}
        started = cli(env, "run", "--acp", "--prompt", "make notes", "--", str(acp_binary("claude-agent-acp")),
                      cwd=work)
        assert started.returncode == 0, started.stderr
        session = started.stdout.split()[2]
        rows: list[dict[str, Any]] = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            listed = cli(env, "sessions", "--json")
            assert listed.returncode == 0, listed.stderr
            rows = [r for r in json.loads(listed.stdout) if r["id"] == session]
            if rows and rows[0]["held"]:
                break
            time.sleep(0.2)
        assert rows[0]["agent"] == "acp"
        (held,) = rows[0]["held"]
        assert (held["call_id"], held["why"], held["expires_at"]) == ("toolu_01", "permission", None)
        approved = cli(env, "ctl", "approve", session, "toolu_01")
        assert approved.returncode == 0, approved.stdout + approved.stderr
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not (work / "notes.txt").exists():
            time.sleep(0.1)
        assert (work / "notes.txt").exists()
