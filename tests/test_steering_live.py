"""Steering the real Claude Code CLI, offline against the scripted Messages API.

The relay runs here with the hook endpoint on its loop and a viewer subscribed
to the session (a call is held only while someone watches). Claude Code is
started the two ways a person would: ``watchkeeper run -- claude …`` and,
separately, after ``watchkeeper hooks install`` into a temp HOME. Controls go
through ``watchkeeper ctl`` (the local control API), as a person would send them.
Every wait is bounded; nothing is asserted on time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import CLAUDE_VERSIONS
from standins.anthropic import ScriptedAnthropic, text, tool_use
from standins.claude import ClaudeProcess, claude_command, claude_env, read_jsonl
from waiting import until

from watchkeeper import config
from watchkeeper.adapters.claude_code.steering import Policy
from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay
from watchkeeper.relay.servers.hookserver import HookSource, serve_hooks

pytestmark = pytest.mark.node

WAIT = 30.0
NEWEST = CLAUDE_VERSIONS[-1]
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Viewer:
    """A relay subscriber for one session: it counts as someone watching."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.lock = threading.Lock()

    def __call__(self, batch: list[Event]) -> None:
        with self.lock:
            self.events.extend(batch)

    def kinds(self) -> list[str]:
        with self.lock:
            return [e["kind"] for e in self.events]

    def of(self, kind: str) -> list[Event]:
        with self.lock:
            return [e for e in self.events if e["kind"] == kind]


@dataclass
class Watchkeeper:
    """A relay with the hook endpoint, and the environment a person's shell would have."""

    relay: Relay
    hooks: HookSource
    env: dict[str, str]
    token: str

    def cli(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*WATCHKEEPER, *args], env={**self.env, **(extra_env or {})}, text=True,
                              capture_output=True, timeout=WAIT)

    def ctl(self, action: str, session: str, *args: str) -> tuple[int, str]:
        done = self.cli("ctl", action, session, *args)
        return done.returncode, done.stdout + done.stderr

    def watch(self, session: str) -> Viewer:
        viewer = Viewer()
        self.relay.subscribe(viewer, session=session)
        return viewer


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    yield from running_watchkeeper(tmp_path, monkeypatch)


def running_watchkeeper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    """A relay with the hook endpoint on a free port, its config in a temp dir, recording each session."""
    home = tmp_path / "wk-config"
    port = free_port()
    monkeypatch.setenv(config.ENV_HOME, str(home))
    monkeypatch.setenv(config.ENV_PORT, str(port))
    token = config.load_token(create=True)
    assert token
    relay = Relay().start()
    hooks = serve_hooks(relay, token, port=port, policy=Policy(hold_timeout=60), runtime_file=True,
                        record_dir=tmp_path / "recordings")
    assert hooks.ready.wait(WAIT) and hooks.error is None
    env = {"PATH": os.environ.get("PATH", ""), config.ENV_HOME: str(home), config.ENV_PORT: str(port),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    yield Watchkeeper(relay, hooks, env, token)
    relay.stop()


def two_bash_calls(cwd: Path) -> list[Any]:
    return [
        [tool_use("Bash", {"command": "echo one > one.txt", "description": "first"})],
        [tool_use("Bash", {"command": "echo two > two.txt", "description": "second"})],
        [text("done")],
    ]


def start_run(wk: Watchkeeper, version: str, api: ScriptedAnthropic, tmp: Path, *, run_args: tuple[str, ...] = (),
              allowed: tuple[str, ...] = ("Bash",), session_id: str | None = None) -> ClaudeProcess:
    """``watchkeeper run [run_args] -- claude -p …``, the way a person starts a steerable session."""
    sid = session_id or str(uuid.uuid4())
    cwd, home = tmp / "work", tmp / "home"
    cwd.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    claude = claude_command(version, "go", session_id=sid, allowed_tools=allowed, settings=None, extra_args=())
    env = claude_env(api, home, {k: v for k, v in wk.env.items() if k != "PATH"})
    return ClaudeProcess(version, [*WATCHKEEPER, "run", *run_args, "--", *claude], env, home, cwd, sid)


def tool_results(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {b["tool_use_id"]: b for r in records if r.get("type") == "user"
            and isinstance(r["message"].get("content"), list)
            for b in r["message"]["content"] if b.get("type") == "tool_result"}


def pause_before_turn(wk: Watchkeeper, api: ScriptedAnthropic, release: threading.Event, session: str,
                      turn: int, *ctl_args: str) -> None:
    """Pause while the model's answer for ``turn`` is held back, then let it come: its tool call is held.

    The CLI may ask the model before its first hook has reached the relay: a
    pause for a session the relay does not know yet is rejected (and changes
    nothing), so it is sent again until one is applied.
    """
    api.wait_for_request("main", turn=turn, timeout=WAIT)
    sent: list[str] = []

    def paused() -> bool:
        code, out = wk.ctl("pause", session, *ctl_args)
        sent.append(out)
        assert code == 0 or "unknown session" in out, out
        return code == 0 and out.startswith("applied")

    until(paused, "a pause the relay applies", timeout=2 * WAIT, seen=lambda: sent[-1:], poll=0.2)
    release.set()


def held_calls(wk: Watchkeeper, session: str) -> list[str]:
    state = wk.hooks.steering.state(session)
    return state["held"] if state else []


# --- through `watchkeeper run` -------------------------------------------------------


@pytest.mark.parametrize("version", CLAUDE_VERSIONS)
def test_pause_holds_the_second_call_until_resume(wk: Watchkeeper, tmp_path: Path, version: str) -> None:
    """Also: the hooks and the transcript make one session and one call per id; the record replays it."""
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=1)
        with start_run(wk, version, api, tmp_path) as proc:
            viewer = wk.watch(proc.session_id)
            api.wait_for_request("main", turn=1, timeout=WAIT)
            wk.relay.add_source(TranscriptSource(until(lambda: proc.transcript.exists() and proc.transcript)))
            pause_before_turn(wk, api, release, proc.session_id, 1)
            until(lambda: held_calls(wk, proc.session_id))
            waiting = until(lambda: viewer.of("tool.waiting"))
            call = waiting[0]["data"]["call_id"]
            assert call == api.tool_use_ids()[1]
            assert (cwd / "one.txt").exists()
            assert not (cwd / "two.txt").exists()
            assert wk.relay.call(proc.session_id, call).status == "waiting"
            assert proc.running
            code, out = wk.ctl("resume", proc.session_id)
            assert code == 0, out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n"
    outcomes = viewer.of("control.applied")
    assert [e["data"]["control"] for e in outcomes] == ["pause", "resume"]
    assert outcomes[1]["data"]["call_id"] == call
    assert all(e["data"]["by"] and e["ts"] for e in outcomes)
    merged = until(lambda: merged_calls(wk.relay, proc.session_id, api.tool_use_ids()[:2]))
    assert merged[call] == ["tool.started", "tool.waiting", "tool.finished"]
    info = wk.relay.session(proc.session_id)
    assert info is not None and info.capabilities["pause"] is True
    assert {"claude-code hooks"} < set(info.sources)
    recording = tmp_path / "recordings" / f"{proc.session_id}.jsonl"
    stream = lambda: [e["id"] for e in wk.relay.read_range(proc.session_id, 0, 100_000)]  # noqa: E731
    replayed = until(lambda: (got := list(convert_file(recording))) and [e["id"] for e in got] == stream() and got)
    assert [e["data"]["control"] for e in replayed if e["kind"] == "control.applied"] == ["pause", "resume"]


def merged_calls(relay: Relay, session: str, calls: list[str]) -> dict[str, list[str]] | None:
    """Each call's tool events in the session's stream, once the transcript has caught up with both."""
    events = relay.read_range(session, 0, 100_000)
    if not any(e["kind"] == "message.assistant" for e in events) or len(events) < 10:
        return None
    out = {c: [e["kind"] for e in events if e["kind"].startswith("tool.") and e["data"].get("call_id") == c]
           for c in calls}
    return out if all(kinds and kinds[-1] == "tool.finished" for kinds in out.values()) else None


@pytest.mark.parametrize("version", CLAUDE_VERSIONS)
def test_deny_reaches_the_transcript_and_the_model(wk: Watchkeeper, tmp_path: Path, version: str) -> None:
    cwd = tmp_path / "work"
    reason = "Denied by reviewer: no writes today"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=1)
        with start_run(wk, version, api, tmp_path) as proc:
            viewer = wk.watch(proc.session_id)
            pause_before_turn(wk, api, release, proc.session_id, 1)
            (call,) = until(lambda: held_calls(wk, proc.session_id))
            code, out = wk.ctl("deny", proc.session_id, call, "--reason", reason)
            assert code == 0 and call in out, out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert not (cwd / "two.txt").exists()
    result = tool_results(read_jsonl(run.transcript))[call]
    assert result["is_error"] is True and reason in str(result["content"])
    later = [r for r in api.requests_for("main") if r.turn == 2]
    assert later and reason in str(next(b for b in later[0].tool_results() if b["tool_use_id"] == call))
    finished = [e for e in viewer.of("tool.finished") if e["data"]["call_id"] == call]
    assert len(finished) == 1 and finished[0]["data"]["status"] == "denied"


def test_inject_reaches_the_model_in_the_next_request(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    note = "Also mention the weather in Lisbon"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=1)
        with start_run(wk, NEWEST, api, tmp_path) as proc:
            viewer = wk.watch(proc.session_id)
            api.wait_for_request("main", turn=1, timeout=WAIT)
            assert api.requests_containing(note) == []
            code, out = wk.ctl("inject", proc.session_id, note)
            assert code == 0, out
            release.set()
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    carrying = api.requests_containing(note, route="main")
    assert carrying and carrying[0].turn == 2
    delivered = [e for e in viewer.of("message.user") if e["data"].get("origin") == "injected"]
    assert [e["data"]["text"] for e in delivered] == [note]


def test_inject_when_the_agent_would_stop_keeps_it_going(wk: Watchkeeper, tmp_path: Path) -> None:
    note = "Before you finish, summarise in one line"
    with ScriptedAnthropic([[text("All done.")], [text("Summary: nothing to do.")]]) as api:
        release = api.hold(turn=0)
        with start_run(wk, NEWEST, api, tmp_path) as proc:
            viewer = wk.watch(proc.session_id)
            api.wait_for_request("main", turn=0, timeout=WAIT)
            code, out = wk.ctl("inject", proc.session_id, note)
            assert code == 0, out
            release.set()
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    (carrying,) = api.requests_containing(note, route="main")
    assert carrying.turn == 1
    feedback = [r for r in read_jsonl(run.transcript) if r.get("type") == "user" and note in json.dumps(r)]
    assert feedback and "Stop hook feedback" in json.dumps(feedback[0])
    assert [e["data"]["text"] for e in viewer.of("message.user") if e["data"].get("origin") == "injected"] == [note]


def test_cancel_denies_the_held_call_and_ends_the_turn(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=0)
        with start_run(wk, NEWEST, api, tmp_path) as proc:
            wk.watch(proc.session_id)
            pause_before_turn(wk, api, release, proc.session_id, 0)
            until(lambda: held_calls(wk, proc.session_id))
            code, out = wk.ctl("cancel", proc.session_id)
            assert code == 0, out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert not (cwd / "one.txt").exists() and not (cwd / "two.txt").exists()
    assert [r.turn for r in api.requests_for("main")] == [0]


def test_resume_leaves_the_clis_own_permission_check(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    target = cwd / "written.txt"
    script = [
        [tool_use("Write", {"file_path": str(target), "content": "one"})],
        [tool_use("Write", {"file_path": str(target), "content": "two"})],
        [text("done")],
    ]
    with ScriptedAnthropic(script) as api:
        release = api.hold(turn=0)
        # Prompts left to the agent's terminal: under -p, none, so the CLI's own rules answer them.
        with start_run(wk, NEWEST, api, tmp_path, allowed=("Bash",), run_args=("--prompts", "terminal")) as proc:
            wk.watch(proc.session_id)
            pause_before_turn(wk, api, release, proc.session_id, 0)
            assert until(lambda: held_calls(wk, proc.session_id)) == api.tool_use_ids()[:1]
            code, out = wk.ctl("resume", proc.session_id)
            assert code == 0, out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert not target.exists(), "resume must not allow what the CLI's own rules do not"
    denied = {d.get("tool_use_id") for d in run.result.get("permission_denials", [])}
    assert set(api.tool_use_ids()[:2]) <= denied


def test_every_control_one_outcome_and_a_duplicate_acts_once(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release, second_turn = api.hold(turn=0), api.hold(turn=1)
        with start_run(wk, NEWEST, api, tmp_path) as proc:
            viewer = wk.watch(proc.session_id)
            pause_before_turn(wk, api, release, proc.session_id, 0, "--id", "p1")
            call = until(lambda: held_calls(wk, proc.session_id))[0]
            first = wk.ctl("step", proc.session_id, call, "--id", "s1")
            again = wk.ctl("step", proc.session_id, call, "--id", "s1")
            late = wk.ctl("deny", proc.session_id, call, "--id", "d1")
            api.wait_for_request("main", turn=1, timeout=WAIT)
            nothing = wk.ctl("approve", proc.session_id, "--id", "a1")
            second_turn.set()
            assert until(lambda: held_calls(wk, proc.session_id)) == [api.tool_use_ids()[1]]
            assert wk.ctl("resume", proc.session_id, "--id", "r1")[0] == 0
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert first[0] == 0 and again == first
    assert late[0] == 1 and "first decision wins" in late[1]
    assert nothing[0] == 1 and "holds no call: nothing to approve" in nothing[1], "refused before it is sent"
    outcomes = [e["data"]["control_id"] for e in viewer.events if e["kind"].startswith("control.")
                and not e["data"]["control_id"].startswith(("timeout:", "unwatched:", "abandoned:"))]
    assert sorted(outcomes) == ["d1", "p1", "r1", "s1"]


def test_unknown_and_unsteerable_sessions_are_rejected_with_a_reason(wk: Watchkeeper) -> None:
    code, out = wk.ctl("pause", "no-such-session")
    assert code == 1 and out.startswith("rejected") and "no-such-session" in out


# --- the relay gone while a call is held ------------------------------------------------

RELAY_PROCESS = """
import sys, threading
from watchkeeper import config
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.relay import Relay
from watchkeeper.relay.servers.hookserver import serve_hooks
relay = Relay().start()
hooks = serve_hooks(relay, config.load_token(), port=config.hook_port(), runtime_file=True)
hooks.ready.wait(30)
relay.subscribe(lambda batch: None, session=sys.argv[1])
print("ready", flush=True)
threading.Event().wait()
"""


@pytest.mark.parametrize("fail_closed", [False, True])
def test_relay_killed_while_a_call_is_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          fail_closed: bool) -> None:
    home, port = tmp_path / "wk-config", free_port()
    monkeypatch.setenv(config.ENV_HOME, str(home))
    monkeypatch.setenv(config.ENV_PORT, str(port))
    config.load_token(create=True)
    env = {"PATH": os.environ.get("PATH", ""), config.ENV_HOME: str(home), config.ENV_PORT: str(port),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    wk = Watchkeeper(None, None, env, "")  # type: ignore[arg-type]
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=0)
        sid = str(uuid.uuid4())
        # The relay (and its watcher) first: hooks sent before it listens fail open and hold nothing.
        relay = subprocess.Popen([sys.executable, "-c", RELAY_PROCESS, sid], env=env, stdout=subprocess.PIPE,
                                 text=True)
        try:
            assert relay.stdout is not None and relay.stdout.readline().strip() == "ready"
            proc = start_run(wk, NEWEST, api, tmp_path, run_args=("--fail-closed",) if fail_closed else (),
                             session_id=sid)
            with proc:
                pause_before_turn(wk, api, release, proc.session_id, 0)
                status = until(lambda: (out := wk.cli("hooks", "status").stdout) and "held: toolu" in out and out,
                               "hooks status to list the held call", timeout=2 * WAIT)
                assert proc.running and not (cwd / "one.txt").exists()
                os.kill(relay.pid, signal.SIGKILL)
                run = proc.wait(60)
        finally:
            relay.kill()
            relay.wait(10)
    assert run.returncode == 0, run.stderr
    assert "steerable: hooked through watchkeeper run" in status
    files = [(cwd / name).exists() for name in ("one.txt", "two.txt")]
    assert files == ([False, False] if fail_closed else [True, True])
