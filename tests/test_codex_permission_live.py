"""Codex's own permission prompt, answered from watchkeeper: the real interactive Codex 0.171.0 in tmux.

``codex exec`` never asks (its approval policy is always "never"), so this runs
the interactive CLI under ``watchkeeper run --trust-hook -- codex …`` with the
``on-request`` policy and a read-only sandbox; the model asks to run a command
outside the sandbox (``require_escalated``), so Codex would show its approval
dialog. Its PermissionRequest hook is held as ``why=permission`` and
``watchkeeper ctl approve`` answers it; while held, Codex shows "Running hook",
not its dialog. With ``--prompts terminal`` nothing is held: a notice says the
prompt waits in the agent's terminal.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from codex_steering_support import held
from conftest import codex_binary
from standins.codex import MODEL, codex_env, config_toml
from standins.openai_responses import Exec, ScriptedResponses, Text, Turn
from test_steering_live import WATCHKEEPER, Viewer, Watchkeeper, running_watchkeeper
from tmux_support import Tmux, tmux_server
from waiting import until

pytestmark = pytest.mark.node

WAIT = 30.0
#: First-run screens of the interactive CLI, already seen (a model upsell, the screen-reader probe).
SEEN = """
[notice.model_migrations]
"gpt-5.5" = "gpt-6-sol"
[tui]
screen_reader_detection_done = true
[tui.model_availability_nux]
"gpt-6.1-sol" = 1
"""


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    yield from running_watchkeeper(tmp_path, monkeypatch)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A tmux server of its own per test: one killed at the end of the last test may still be going away."""
    yield from tmux_server(f"codex-permission-{uuid.uuid4().hex[:8]}")


def start_tui(wk: Watchkeeper, tmux: Tmux, api: ScriptedResponses, tmp: Path, *run_args: str) -> Path:
    cwd, home = tmp / "work", tmp / "codex"
    cwd.mkdir(parents=True)
    home.mkdir(parents=True)
    config = config_toml(api.url, sandbox="read-only").replace('approval_policy = "never"',
                                                                'approval_policy = "on-request"')
    (home / "config.toml").write_text(f'{config}{SEEN}\n[projects."{cwd}"]\ntrust_level = "trusted"\n')
    env = {**codex_env(home), **{k: v for k, v in wk.env.items() if k != "PATH"}, "TERM": "xterm-256color"}
    argv = [*WATCHKEEPER, "run", "--trust-hook", *run_args, "--", str(codex_binary()), "-C", str(cwd), "go"]
    line = "env -i " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + shlex.join(argv)
    tmux("new-session", "-d", "-s", "wk", "-x", "120", "-y", "40", line + "; sleep 600")
    return cwd


def escalating(target: Path) -> list[Turn]:
    """The call, then answers: the interactive CLI asks the model once more than ``codex exec`` does."""
    return [Turn([Exec(f"echo RAN > {target}", call_id="call_esc", escalate="write outside the workspace")]),
            Turn([Text("ALL-DONE")]), Turn([Text("ALL-DONE")])]


def watch_first(wk: Watchkeeper, api: ScriptedResponses, tmux: Tmux) -> tuple[str, Viewer]:
    """Once the CLI asked the model (its start, run's trust check and the TUI's first screen are slow under load)."""
    everything = Viewer()
    wk.relay.subscribe(everything)
    until(lambda: api.requests and api.response_bodies(), "the interactive CLI asks the model", timeout=3 * WAIT,
          seen=tmux.screen)
    (session,) = until(lambda: [e["session"] for e in everything.of("session.started")
                                if e["data"].get("source") == "codex hooks"])
    return session, wk.watch(session)


def test_a_permission_prompt_is_held_and_approved_from_watchkeeper(wk: Watchkeeper, tmux: Tmux,
                                                                  tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    with ScriptedResponses(escalating(target), model=MODEL) as api:
        gate = api.hold(0)
        start_tui(wk, tmux, api, tmp_path)
        session, viewer = watch_first(wk, api, tmux)
        gate.set()
        assert until(lambda: held(wk, session)) == ["call_esc"]
        (waiting,) = until(lambda: viewer.of("tool.waiting"))
        assert waiting["data"]["why"] == "permission" and waiting["data"]["input"]["command"] == f"echo RAN > {target}"
        assert "Running hook" in tmux.wait_for(lambda s: "Running hook" in s)
        assert not target.exists()
        code, out = wk.ctl("approve", session, "call_esc")
        assert code == 0 and "permission prompt is answered yes" in out, out
        tmux.wait_for(lambda s: "Worked for" in s)
    assert target.read_text() == "RAN\n"
    assert "exited with code 0" in api.function_outputs()["call_esc"]


def test_a_prompt_elsewhere_is_not_held_and_a_notice_says_so(wk: Watchkeeper, tmux: Tmux, tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    with ScriptedResponses(escalating(target), model=MODEL) as api:
        gate = api.hold(0)
        start_tui(wk, tmux, api, tmp_path, "--prompts", "terminal")
        session, viewer = watch_first(wk, api, tmux)
        gate.set()
        notice = until(lambda: [e for e in viewer.of("notice") if e["data"]["code"] == "permission-elsewhere"])
        assert "needs permission — answer in the agent's terminal" in notice[0]["data"]["text"]
        assert held(wk, session) == [] and viewer.of("tool.waiting") == []
        tmux.wait_for(lambda s: "echo RAN" in s and "Running hook" not in s)
        assert not target.exists()


def test_run_asks_once_on_the_terminal_before_trusting_the_hook(wk: Watchkeeper, tmux: Tmux, tmp_path: Path) -> None:
    """No --trust-hook: ``run`` shows the exact commands and asks; yes is recorded, so the next run does not ask."""
    cwd, home = tmp_path / "work", tmp_path / "codex"
    cwd.mkdir()
    home.mkdir()
    script = [Turn([Exec("echo one > one.txt", call_id="call_one")]), Turn([Text("done")]),
              Turn([Exec("echo two > two.txt", call_id="call_two")]), Turn([Text("done")])]
    everything = Viewer()
    wk.relay.subscribe(everything)
    with ScriptedResponses(script, model=MODEL) as api:
        (home / "config.toml").write_text(config_toml(api.url))
        env = {**codex_env(home), **{k: v for k, v in wk.env.items() if k != "PATH"}, "TERM": "xterm-256color"}
        line = "env -i " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        codex = [str(codex_binary()), "exec", "--skip-git-repo-check", "-C", str(cwd), "go"]
        tmux("new-session", "-d", "-s", "wk", "-x", "160", "-y", "50", "sh")
        tmux("send-keys", "-t", "wk", f"{line} {shlex.join([*WATCHKEEPER, 'run', '--', *codex])}; echo FIRST-$?",
             "Enter")
        asked = tmux.wait_for(lambda s: "[y/N]" in s)
        assert "PreToolUse (in this run's -c flags): curl " in asked and "Bearer" not in asked
        tmux.keys("y", "Enter")
        tmux.wait_for(lambda s: "FIRST-0" in s)
        tmux("send-keys", "-t", "wk", "clear", "Enter")
        tmux("send-keys", "-t", "wk", f"{line} {shlex.join([*WATCHKEEPER, 'run', '--', *codex])}; echo SECOND-$?",
             "Enter")
        second = tmux.wait_for(lambda s: "SECOND-0" in s)
    assert "[y/N]" not in second
    assert (cwd / "one.txt").exists() and (cwd / "two.txt").exists()
    hooked = {e["session"] for e in everything.of("session.started") if e["data"].get("source") == "codex hooks"}
    assert len(hooked) == 2


def test_a_permission_prompt_denied_from_watchkeeper_never_runs_and_codex_hears_why(
        wk: Watchkeeper, tmux: Tmux, tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    reason = "Denied by reviewer: stay in the workspace"
    with ScriptedResponses(escalating(target), model=MODEL) as api:
        gate = api.hold(0)
        start_tui(wk, tmux, api, tmp_path)
        session, _viewer = watch_first(wk, api, tmux)
        gate.set()
        assert until(lambda: held(wk, session)) == ["call_esc"]
        code, out = wk.ctl("deny", session, "call_esc", "--reason", reason)
        assert code == 0 and "call_esc" in out, out
        tmux.wait_for(lambda s: "Worked for" in s)
        assert until(lambda: api.function_outputs().get("call_esc")), "the model hears how the call ended"
        output = api.function_outputs()["call_esc"]
    assert not target.exists()
    assert "Rejected" in output and reason in output, output
    assert held(wk, session) == []
