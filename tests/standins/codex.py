"""Run the real Codex CLI (`codex exec`) offline against the scripted Responses API stand-in.

Each run gets its own CODEX_HOME whose config.toml points a custom model provider at
the stand-in and switches off everything that would reach the internet (plugin and
app sync, analytics), so the only traffic is to 127.0.0.1. The CLI's own
workspace-write sandbox works here as root (a write outside the workspace fails with
"Read-only file system"), so it stays on; pass sandbox="danger-full-access" where it cannot.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .openai_responses import Exec, Reasoning, ScriptedResponses, Text, Turn

#: A slug in the CLI's bundled model catalog, so it has metadata (context window, instructions)
#: and does not warn "Model metadata … not found"; the stand-in answers for any name.
MODEL = "gpt-5.5"
PROVIDER = "standin"
API_KEY_ENV = "STANDIN_OPENAI_API_KEY"

#: The reference session: a command that succeeds, one that fails, reasoning, a final message.
REFERENCE_PROMPT = "What is in this project? And is there a notes.txt?"
REFERENCE_FILES = {"README.md": "# demo\n", "main.py": "print('hello')\n"}
REFERENCE_SCRIPT: list[Turn] = [
    Turn(
        [
            Reasoning("The user wants to know what the project holds; listing the directory answers that."),
            Exec("ls", call_id="call_ref_ls"),
        ]
    ),
    Turn(
        [
            Reasoning("Two files. Now check for notes.txt by reading it."),
            Exec("cat notes.txt", call_id="call_ref_cat"),
        ]
    ),
    Turn(
        [Text("The project has README.md and main.py. There is no notes.txt: `cat` failed with exit code 1.")]
    ),
]


@dataclass
class CodexRun:
    """What one `codex exec` run left behind."""

    exit_code: int
    stdout: str
    stderr: str
    #: The rollout it wrote under <codex_home>/sessions/YYYY/MM/DD/, if any.
    rollout: Path | None
    elapsed_s: float
    timed_out: bool = False

    def records(self) -> list[dict[str, Any]]:
        """The rollout's lines, parsed (empty if there is no rollout)."""
        if self.rollout is None:
            return []
        return [json.loads(line) for line in self.rollout.read_text().splitlines() if line.strip()]

    def events(self) -> list[dict[str, Any]]:
        """The `--json` event stream the CLI printed on stdout."""
        out = []
        for line in self.stdout.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def describe(self) -> str:
        head = f"exit {self.exit_code} (timed out: {self.timed_out}) after {self.elapsed_s:.1f}s"
        return f"{head}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def config_toml(api_url: str, *, model: str = MODEL, sandbox: str = "workspace-write",
                features: Sequence[str] = ()) -> str:
    """``features`` are switched on besides (e.g. ``multi_agent_v2``: the sub-agent tools)."""
    switched_on = "".join(f"{name} = true\n" for name in features)
    return f"""\
model = "{model}"
model_provider = "{PROVIDER}"
approval_policy = "never"
sandbox_mode = "{sandbox}"
check_for_update_on_startup = false

[model_providers.{PROVIDER}]
name = "Scripted Responses stand-in"
base_url = "{api_url}/v1"
wire_api = "responses"
env_key = "{API_KEY_ENV}"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 20000

# Each of these reaches the internet on start-up (git clone of the plugin marketplace,
# app connectors, analytics); tests must only talk to 127.0.0.1.
[features]
plugins = false
remote_plugin = false
apps = false
{switched_on}
[analytics]
enabled = false
"""


def codex_env(codex_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    home = codex_home / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        CODEX_HOME=str(codex_home),
        HOME=str(home),
        NO_COLOR="1",
        **{API_KEY_ENV: "sk-standin-dummy"},
    )
    return env


def _rollouts(codex_home: Path) -> set[Path]:
    return set((codex_home / "sessions").glob("*/*/*/rollout-*.jsonl"))


def run_codex(
    prompt: str,
    *,
    api: ScriptedResponses,
    cwd: Path,
    codex_home: Path,
    timeout: float = 60,
    extra_args: Sequence[str] = (),
    binary: Path | None = None,
    model: str = MODEL,
    sandbox: str = "workspace-write",
    features: Sequence[str] = (),
) -> CodexRun:
    """Run `codex exec --json` once in `cwd`; never hangs past `timeout` (the process group is killed)."""
    if binary is None:
        binary = Path(__file__).resolve().parents[2] / "tools" / "agents" / "node_modules" / ".bin" / "codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(config_toml(api.url, model=model, sandbox=sandbox, features=features))
    before = _rollouts(codex_home)
    argv = [str(binary), "exec", "--json", "--strict-config", "--skip-git-repo-check", "--color", "never"]
    argv += ["-C", str(cwd)]
    argv += [*extra_args, prompt]
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=codex_env(codex_home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=10)
    elapsed = time.monotonic() - start
    new = sorted(_rollouts(codex_home) - before, key=lambda p: p.stat().st_mtime)
    return CodexRun(proc.returncode, stdout, stderr, new[-1] if new else None, elapsed, timed_out)


def run_reference(
    workdir: Path, *, binary: Path | None = None, timeout: float = 60
) -> tuple[CodexRun, ScriptedResponses]:
    """The reference session in `workdir/demo` with CODEX_HOME `workdir/codex`."""
    cwd, codex_home = workdir / "demo", workdir / "codex"
    cwd.mkdir(parents=True, exist_ok=True)
    for name, text in REFERENCE_FILES.items():
        (cwd / name).write_text(text)
    with ScriptedResponses(REFERENCE_SCRIPT, model=MODEL) as api:
        run = run_codex(
            REFERENCE_PROMPT, api=api, cwd=cwd, codex_home=codex_home, timeout=timeout, binary=binary
        )
    return run, api
