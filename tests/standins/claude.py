"""Run the real Claude Code CLI offline against a ScriptedAnthropic, and read back what it wrote.

`run_claude` waits for the run; `start_claude` returns at once so a test can tail the transcript while the
CLI works. Both give HOME a temp dir, point ANTHROPIC_BASE_URL at the stand-in and route any other traffic
to it through a proxy setting, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import claude_binary

from standins.anthropic import ScriptedAnthropic, Turn, text, thinking, tool_use

DEFAULT_TOOLS = ("Bash", "Write", "Edit", "Read", "Agent", "Task")
SUBAGENT_KEY = "Count the lines of notes.txt"


def project_slug(cwd: Path | str) -> str:
    """The directory name Claude Code gives a project: every non-alphanumeric character becomes '-'."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(cwd))


def claude_env(api: ScriptedAnthropic, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing from the caller's CLAUDE_*/ANTHROPIC_* leaks into the run."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "SHELL": shutil.which("bash") or "/bin/bash",
        "ANTHROPIC_BASE_URL": api.url,
        "ANTHROPIC_API_KEY": "dummy",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "HTTP_PROXY": api.url,
        "HTTPS_PROXY": api.url,
        "NO_PROXY": "127.0.0.1,localhost,::1",
    }
    env.update(extra or {})
    return env


def claude_command(
    version: str,
    prompt: str,
    *,
    session_id: str | None,
    allowed_tools: Sequence[str],
    settings: Mapping[str, Any] | str | Path | None,
    extra_args: Sequence[str],
) -> list[str]:
    cmd = [str(claude_binary(version)), "-p", prompt, "--output-format", "stream-json", "--verbose"]
    if session_id is not None:
        cmd += ["--session-id", session_id]
    if allowed_tools:
        cmd += ["--allowedTools", ",".join(allowed_tools)]
    if settings is not None:
        cmd += ["--settings", str(settings) if isinstance(settings, str | Path) else json.dumps(settings)]
    return cmd + list(extra_args)


@dataclass
class ClaudeRun:
    """A finished run: exit code, parsed stdout, and where its transcript is."""

    version: str
    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    session_id: str
    home: Path
    cwd: Path
    wall_seconds: float

    @property
    def result(self) -> dict[str, Any] | None:
        return next((m for m in reversed(self.messages) if m.get("type") == "result"), None)

    @property
    def transcript(self) -> Path:
        return transcript_path(self.home, self.cwd, self.session_id)

    @property
    def subagent_dir(self) -> Path:
        return self.transcript.with_suffix("") / "subagents"

    def subagent_files(self) -> list[Path]:
        return sorted(self.subagent_dir.glob("agent-*.jsonl"))

    def records(self, path: Path | None = None) -> list[dict[str, Any]]:
        return read_jsonl(path or self.transcript)


def transcript_path(home: Path, cwd: Path, session_id: str) -> Path:
    """<home>/.claude/projects/<slug>/<session>.jsonl, falling back to a search if the slug differs."""
    expected = home / ".claude" / "projects" / project_slug(cwd.resolve()) / f"{session_id}.jsonl"
    if expected.exists():
        return expected
    found = sorted((home / ".claude" / "projects").glob(f"*/{session_id}.jsonl"))
    return found[0] if found else expected


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class ClaudeProcess:
    """A CLI run in progress. stdout is drained by a thread so the pipe never fills; `wait` bounds the run."""

    def __init__(
        self, version: str, cmd: list[str], env: dict[str, str], home: Path, cwd: Path, session_id: str
    ):
        self.version, self.home, self.cwd, self.session_id = version, home, cwd, session_id
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._lines: list[str] = []
        self._stderr: list[bytes] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._drain_stdout, daemon=True),
            threading.Thread(target=self._drain_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _drain_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._lock:
                self._lines.append(raw.decode("utf-8", "replace"))

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr.append(self.proc.stderr.read())

    @property
    def transcript(self) -> Path:
        return transcript_path(self.home, self.cwd, self.session_id)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def messages(self) -> list[dict[str, Any]]:
        """The stdout messages so far; a non-JSON line is kept as {"type": "unparsed", "line": ...}."""
        with self._lock:
            lines = list(self._lines)
        out = []
        for line in lines:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"type": "unparsed", "line": line})
        return out

    def wait(self, timeout: float = 60) -> ClaudeRun:
        """Wait for the exit; on timeout the CLI is killed and the run reports returncode -9."""
        try:
            returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            returncode = self.proc.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=5)
        return ClaudeRun(
            version=self.version,
            returncode=returncode,
            messages=self.messages(),
            stderr=b"".join(self._stderr).decode("utf-8", "replace"),
            session_id=self.session_id,
            home=self.home,
            cwd=self.cwd,
            wall_seconds=time.monotonic() - self.started,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def __enter__(self) -> ClaudeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
        self.proc.wait(timeout=10)


def start_claude(
    version: str,
    prompt: str,
    *,
    api: ScriptedAnthropic,
    cwd: Path,
    home: Path,
    allowed_tools: Sequence[str] = DEFAULT_TOOLS,
    settings: Mapping[str, Any] | str | Path | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    session_id: str | None = None,
) -> ClaudeProcess:
    """Start the CLI without waiting. The session id is chosen here (--session-id), so the transcript path
    is known before the CLI writes it, unless extra_args resume another session."""
    resuming = any(a in ("--resume", "-r", "--continue", "-c") for a in extra_args)
    sid = session_id or str(uuid.uuid4())
    cmd = claude_command(
        version,
        prompt,
        session_id=None if resuming else sid,
        allowed_tools=allowed_tools,
        settings=settings,
        extra_args=extra_args,
    )
    home.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    return ClaudeProcess(version, cmd, claude_env(api, home, env), home, cwd, sid)


def run_claude(
    version: str,
    prompt: str,
    *,
    api: ScriptedAnthropic,
    cwd: Path,
    home: Path,
    allowed_tools: Sequence[str] = DEFAULT_TOOLS,
    settings: Mapping[str, Any] | str | Path | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    session_id: str | None = None,
) -> ClaudeRun:
    """Run the CLI with -p to the end (bounded by ``timeout``) and return what it did."""
    process = start_claude(
        version,
        prompt,
        api=api,
        cwd=cwd,
        home=home,
        allowed_tools=allowed_tools,
        settings=settings,
        extra_args=extra_args,
        env=env,
        session_id=session_id,
    )
    with process:
        run = process.wait(timeout)
    if run.result is not None and run.result.get("session_id"):
        run.session_id = run.result["session_id"]
    return run


DEMO_PROMPT = "Set up notes.txt for the demo, then check it."


def demo_script(cwd: Path | str) -> tuple[list[Turn], dict[str, list[Turn]]]:
    """The reference session: Bash ok, Write a new file, Edit it, Bash that fails, a subagent running one
    tool, then a final answer. Returns (main turns, {subagent key: turns}) for ScriptedAnthropic."""
    notes = f"{cwd}/notes.txt"
    main: list[Turn] = [
        [
            thinking("Start by looking at the working directory."),
            text("I'll look around first."),
            tool_use("Bash", {"command": "echo hello from bash && pwd", "description": "Say hello"}),
        ],
        [tool_use("Write", {"file_path": notes, "content": "alpha\nbeta\ngamma\n"})],
        [tool_use("Edit", {"file_path": notes, "old_string": "beta", "new_string": "beta (edited)"})],
        [
            tool_use(
                "Bash", {"command": "ls missing-dir", "description": "List a directory that does not exist"}
            )
        ],
        [
            text("That directory does not exist. I'll ask a subagent to check the file."),
            tool_use(
                "Agent",
                {
                    "description": "Count lines",
                    "prompt": f"{SUBAGENT_KEY} in {cwd} and report the number.",
                    "subagent_type": "general-purpose",
                    "run_in_background": False,
                },
            ),
        ],
        [text("notes.txt is written and edited (3 lines); `missing-dir` does not exist.")],
    ]
    subagent: list[Turn] = [
        [tool_use("Bash", {"command": "wc -l notes.txt", "description": "Count lines"})],
        [text("notes.txt has 3 lines.")],
    ]
    return main, {SUBAGENT_KEY: subagent}


def demo_api(cwd: Path | str, **kwargs: Any) -> ScriptedAnthropic:
    main, subagents = demo_script(cwd)
    return ScriptedAnthropic(main, subagents=subagents, **kwargs)
