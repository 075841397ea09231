"""Starting the real Codex CLI the way a person would steer it: ``watchkeeper run [--trust-hook] -- codex …``.

Each run has its own CODEX_HOME (the stand-in's config.toml) and HOME, and the
watchkeeper environment of ``test_steering_live.running_watchkeeper``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conftest import codex_binary
from standins.codex import codex_env, config_toml
from standins.openai_responses import ScriptedResponses
from test_steering_live import WATCHKEEPER, Viewer, Watchkeeper
from waiting import until

WAIT = 30.0


@dataclass
class CodexRun:
    proc: subprocess.Popen[str]
    cwd: Path
    home: Path

    def wait(self, timeout: float = 90) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"codex did not finish within {timeout} s:\n{out}\n{err}") from None
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate(timeout=10)


#: The test MCP server, as a Codex config section (server ``touch``, tool ``touch``).
MCP = f"""
[mcp_servers.touch]
command = {json.dumps(sys.executable)}
args = [{json.dumps(str(Path(__file__).resolve().parent / "standins" / "mcp_touch.py"))}]
"""


def codex_home(tmp: Path, api: ScriptedResponses, sandbox: str = "workspace-write", mcp: bool = False,
               features: Sequence[str] = ()) -> Path:
    home = tmp / "codex"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "config.toml").exists():
        config = config_toml(api.url, sandbox=sandbox, features=features)
        (home / "config.toml").write_text(config + (MCP if mcp else ""))
    return home


def start_codex(wk: Watchkeeper, api: ScriptedResponses, tmp: Path, *run_args: str, prompt: str = "go",
                sandbox: str = "workspace-write", watchkeeper: bool = True, mcp: bool = False,
                features: Sequence[str] = ()) -> CodexRun:
    """``watchkeeper run RUN_ARGS -- codex exec --json …`` (or codex alone, with ``watchkeeper=False``)."""
    cwd = tmp / "work"
    cwd.mkdir(parents=True, exist_ok=True)
    home = codex_home(tmp, api, sandbox, mcp, features)
    env = {**codex_env(home), **{k: v for k, v in wk.env.items() if k != "PATH"}}
    codex = [str(codex_binary()), "exec", "--json", "--skip-git-repo-check", "--color", "never", "-C", str(cwd),
             prompt]
    argv = [*WATCHKEEPER, "run", *run_args, "--", *codex] if watchkeeper else codex
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    return CodexRun(proc, cwd, home)


def codex_sessions(everything: Viewer) -> list[str]:
    return [e["session"] for e in everything.of("session.started") if e["data"].get("source") == "codex hooks"]


def first_session(wk: Watchkeeper, everything: Viewer) -> str:
    (session,) = until(lambda: codex_sessions(everything), "the relay hears the Codex session's hooks")
    return session


def pause(wk: Watchkeeper, session: str) -> None:
    code, out = wk.ctl("pause", session)
    assert code == 0 and out.startswith("applied"), out


def held(wk: Watchkeeper, session: str) -> list[str]:
    state = wk.hooks.codex.state(session)
    return state["held"] if state else []
