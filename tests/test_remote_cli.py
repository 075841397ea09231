"""The commands as a person runs them: ``serve``, ``attach --json`` and ``ctl --relay``, as real processes.

``serve`` runs with its own config directory (token file created mode 0600),
discovery of a directory with a recording in it, and the hook endpoint on a
free port; an SDK agent connects to it from this process.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson
import pytest
from waiting import until, until_async

from watchkeeper import sdk

ROOT = Path(__file__).resolve().parent.parent
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lines:
    """A process's output, line by line, read on a thread so waits stay bounded."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self.changed:
                self.seen.append(line)
                self.changed.notify_all()

    def until(self, needle: str, timeout: float = 30.0) -> str:
        """The first line printed that contains ``needle``."""
        return until(lambda: next((line for line in self.seen if needle in line), None),
                     what=f"{needle!r} printed", timeout=timeout, condition=self.changed, seen=lambda: self.seen)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WATCHKEEPER_HOME": str(home),
            "WATCHKEEPER_PORT": str(free_port()), "HOME": str(home)}


@pytest.fixture
def serve(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, Lines, str]]:
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    with sdk.Run(sessions / "recorded.jsonl", title="a recorded run") as rec:
        rec.user("hello from the recording")
    port = free_port()
    proc = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-default-roots",
                             "--root", str(sessions)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = Lines(proc.stdout)
    try:
        out.until("attach:")
        yield f"ws://127.0.0.1:{port}", out, rec.session
    finally:
        proc.terminate()
        proc.wait(20)


def token_file(env: dict[str, str]) -> Path:
    return Path(env["WATCHKEEPER_HOME"]) / "token"


def ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WATCHKEEPER, "ctl", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


async def test_serve_prints_how_to_attach_and_never_the_token(serve: tuple[str, Lines, str],
                                                              env: dict[str, str]) -> None:
    url, out, _ = serve
    path = token_file(env)
    token = path.read_text().strip()
    assert path.stat().st_mode & 0o777 == 0o600
    printed = "".join(out.seen)
    assert f"watchkeeper attach {url} --token-file {path}" in printed
    assert "hooks on port" in printed
    assert token not in printed


async def test_attach_json_shows_the_agent_and_ctl_steers_it(serve: tuple[str, Lines, str],
                                                             env: dict[str, str]) -> None:
    url, _, recorded = serve
    token = token_file(env).read_text().strip()
    run = await sdk.connect(url, token=token, title="cli agent")
    attach = subprocess.Popen([*WATCHKEEPER, "attach", url, "--json", "--token-file", str(token_file(env))],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert attach.stdout is not None
        lines = Lines(attach.stdout)
        run.user("steer me")
        await run.flush()
        shown = await asyncio.to_thread(lines.until, "steer me")
        assert orjson.loads(shown)["session"] == run.session
        await asyncio.to_thread(lines.until, "hello from the recording")

        paused = await asyncio.to_thread(ctl, env, "pause", run.session[:8], "--relay", url,
                                         "--token-file", str(token_file(env)))
        assert paused.returncode == 0 and paused.stdout.startswith("applied: paused"), paused
        await until_async(lambda: run._link.paused, what="the pause reaches the agent")
        await asyncio.to_thread(lines.until, '"control.applied"')

        call = run.tool_started("Bash", {"command": "make deploy"})
        asking = asyncio.create_task(run.approval(call))
        await asyncio.to_thread(lines.until, '"tool.waiting"')
        approved = await asyncio.to_thread(ctl, env, "approve", run.session, "--relay", url,
                                           "--token-file", str(token_file(env)))
        assert approved.returncode == 0, approved
        assert approved.stdout.startswith(f"applied [{call}]: approved: the call runs"), approved.stdout
        assert (await asyncio.wait_for(asking, 10)).verdict == "approve"
        again = await asyncio.to_thread(ctl, env, "approve", run.session, call, "--relay", url,
                                        "--token-file", str(token_file(env)))
        assert again.returncode == 1 and "already decided" in again.stdout, again

        observe_only = await asyncio.to_thread(ctl, env, "pause", recorded, "--relay", url)
        assert observe_only.returncode == 1 and observe_only.stdout.startswith("rejected:")
        unknown = await asyncio.to_thread(ctl, env, "pause", "no-such-session", "--relay", url)
        assert unknown.returncode == 1 and "no session no-such-session" in unknown.stdout
    finally:
        attach.terminate()
        attach.wait(20)
        await run.close()


def test_attach_with_a_wrong_token_says_so_and_exits(serve: tuple[str, Lines, str], env: dict[str, str],
                                                     tmp_path: Path) -> None:
    url, _, _ = serve
    wrong = tmp_path / "wrong-token"
    wrong.write_text("not-the-token\n")
    out = subprocess.run([*WATCHKEEPER, "attach", url, "--json", "--token-file", str(wrong)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "refused (401: the token was refused)" in out.stderr
    assert "not-the-token" not in out.stderr + out.stdout


#: What ``openssl rand -base64 16`` prints: a token ending in ``==``, which was read as ``name=token`` (token ``=``).
BASE64_TOKEN = "q7Zk3+9fPaLmN0xYvW2RtA=="


async def test_a_base64_token_ending_in_equals_is_the_whole_token_for_serve_and_attach(
        tmp_path: Path, env: dict[str, str]) -> None:
    people, padding = tmp_path / "people.token", tmp_path / "padding.token"
    people.write_text(BASE64_TOKEN + "\n")
    padding.write_text("=\n")
    port = free_port()
    serve = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-default-roots",
                              "--no-hooks", "--token-file", str(people)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert serve.stdout is not None
    url, attach = f"ws://127.0.0.1:{port}", None
    try:
        await asyncio.to_thread(Lines(serve.stdout).until, "attach:")
        run = await sdk.connect(url, token=BASE64_TOKEN, title="base64 agent")
        run.user("the whole token steers")
        await run.flush()
        attach = subprocess.Popen([*WATCHKEEPER, "attach", url, "--json", "--token-file", str(people)], cwd=ROOT,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert attach.stdout is not None
        await asyncio.to_thread(Lines(attach.stdout).until, "the whole token steers")
        refused = await asyncio.to_thread(subprocess.run, [*WATCHKEEPER, "attach", url, "--json", "--token-file",
                                                           str(padding)], cwd=ROOT, env=env, capture_output=True,
                                          text=True, timeout=60)
        assert refused.returncode == 2 and "refused (401: the token was refused)" in refused.stderr, refused
        await run.close()
    finally:
        for proc in (attach, serve):
            if proc is not None:
                proc.terminate()
                proc.wait(20)
