"""Claude Code's own permission prompts answered from watchkeeper: the real CLI 2.1.332, offline.

The CLI runs under ``-p`` with only Bash allowed, so a Write makes it ask
for permission (its PermissionRequest hook). Under ``-p`` there is no dialog:
the hook's answer decides, and no answer is a denial by the CLI's rules.
"""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import claude_binary
from standins.anthropic import ScriptedAnthropic, text, tool_use
from standins.claude import claude_env, read_jsonl
from test_steering_live import (
    NEWEST,
    WATCHKEEPER,
    Watchkeeper,
    held_calls,
    pause_before_turn,
    start_run,
    tool_results,
    wk,
)
from tmux_support import Tmux, tmux_server
from waiting import until

pytestmark = pytest.mark.node
__all__ = ["wk"]


def one_write(target: Path) -> list[list[object]]:
    return [[tool_use("Write", {"file_path": str(target), "content": "one"})], [text("done")]]


def test_a_prompt_is_held_and_approve_lets_the_write_run(wk: Watchkeeper, tmp_path: Path) -> None:
    target = tmp_path / "work" / "w.txt"
    api = ScriptedAnthropic(one_write(target))
    release = api.hold(turn=0)
    with api, start_run(wk, NEWEST, api, tmp_path) as proc:
        viewer = wk.watch(proc.session_id)
        release.set()  # watched before the CLI can ask: a prompt nobody watches is not held
        (call,) = until(lambda: held_calls(wk, proc.session_id), "the prompt held", timeout=60)
        assert call == api.tool_use_ids()[0], "matched to its call through the PreToolUse before it"
        assert not target.exists()
        waiting = until(lambda: [e for e in viewer.of("tool.waiting") if e["data"]["call_id"] == call],
                        "the held prompt reported")
        assert [e["data"]["why"] for e in waiting] == ["permission"]
        code, out = wk.ctl("approve", proc.session_id, call)
        assert code == 0 and out.startswith("applied"), out
        run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert target.read_text() == "one"
    assert not run.result.get("permission_denials")


def test_deny_answers_the_prompt_and_the_model_reads_the_reason(wk: Watchkeeper, tmp_path: Path) -> None:
    target = tmp_path / "work" / "w.txt"
    reason = "Denied by reviewer: write nothing under work/"
    api = ScriptedAnthropic(one_write(target))
    release = api.hold(turn=0)
    with api, start_run(wk, NEWEST, api, tmp_path) as proc:
        wk.watch(proc.session_id)
        release.set()
        (call,) = until(lambda: held_calls(wk, proc.session_id), "the prompt held", timeout=60)
        code, out = wk.ctl("deny", proc.session_id, call, "--reason", reason)
        assert code == 0 and out.startswith("applied"), out
        run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    result = tool_results(read_jsonl(run.transcript))[call]
    assert result["is_error"] is True and reason in str(result["content"])
    later = [r for r in api.requests_for("main") if r.turn == 1]
    assert later and reason in str(next(b for b in later[0].tool_results() if b["tool_use_id"] == call))


def test_prompts_left_to_the_terminal_are_only_announced(wk: Watchkeeper, tmp_path: Path) -> None:
    target = tmp_path / "work" / "w.txt"
    with ScriptedAnthropic(one_write(target)) as api, \
            start_run(wk, NEWEST, api, tmp_path, run_args=("--prompts", "terminal")) as proc:
        viewer = wk.watch(proc.session_id)
        run = proc.wait(60)
        notices = until(lambda: [e for e in viewer.of("notice")
                                 if e["data"].get("code") == "permission-elsewhere"], "the notice")
    assert run.returncode == 0, run.stderr
    assert not target.exists(), "no answer: under -p the CLI's own rules deny"
    assert "needs permission — answer in the agent's terminal" in notices[0]["data"]["text"]
    assert not viewer.of("tool.waiting")
    denied = {d.get("tool_use_id") for d in run.result.get("permission_denials", [])}
    assert api.tool_use_ids()[0] in denied


# --- the interactive CLI, in a real terminal ---------------------------------------------


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("permission")


def test_interactive_the_clis_dialog_shows_and_an_answer_there_lets_the_hold_go(
        wk: Watchkeeper, tmp_path: Path, tmux: Tmux) -> None:
    """2.1.332 keeps its own dialog on screen while the prompt is held here; the first answer wins."""
    cwd, home = tmp_path / "work", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    # What a person who has used the CLI before has: onboarding done, the folder trusted, the key accepted.
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True, "customApiKeyResponses": {"approved": ["dummy"], "rejected": []},
        "projects": {str(cwd): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}}}))
    target = cwd / "w.txt"
    sid = str(uuid.uuid4())
    with ScriptedAnthropic(one_write(target)) as api:
        env = claude_env(api, home, {k: v for k, v in wk.env.items() if k != "PATH"})
        env["TERM"] = "xterm-256color"
        cmd = [*WATCHKEEPER, "run", "--", str(claude_binary(NEWEST)), "--permission-mode", "default",
               "--session-id", sid, "go"]
        viewer = wk.watch(sid)
        tmux("new-session", "-d", "-s", "wk", "-x", "120", "-y", "40", "-c", str(cwd),
             f"env -i {' '.join(f'{k}={shlex.quote(v)}' for k, v in env.items())} {shlex.join(cmd)}")
        (call,) = until(lambda: held_calls(wk, sid), "the prompt held", timeout=60)
        tmux.wait_for(lambda s: "Do you want to create w.txt?" in s, timeout=60)
        tmux.keys("3")  # No, at the agent's terminal
        let_go = until(lambda: [e for e in viewer.of("control.applied") if e["data"].get("call_id") == call],
                       "the held prompt let go", timeout=60)
        assert "answered in the agent's terminal" in let_go[0]["data"]["reason"]
        assert not held_calls(wk, sid)
        code, out = wk.ctl("approve", sid, call)
        assert code != 0 and "already decided" in out, "a late approve from watchkeeper does not act"
        tmux.wait_for(lambda s: "Rejected write" in s or "rejected" in s.lower(), timeout=60)
    assert not target.exists()


def test_resume_then_the_clis_own_prompt_comes_here_and_is_not_allowed(wk: Watchkeeper, tmp_path: Path) -> None:
    """Resume lets a paused call go under the CLI's rules: a Write they don't allow becomes a prompt here."""
    target = tmp_path / "work" / "w.txt"
    api = ScriptedAnthropic(one_write(target))
    release = api.hold(turn=0)
    with api, start_run(wk, NEWEST, api, tmp_path) as proc:
        viewer = wk.watch(proc.session_id)
        pause_before_turn(wk, api, release, proc.session_id, 0)
        (call,) = until(lambda: held_calls(wk, proc.session_id), "the paused call held", timeout=60)
        waiting = until(lambda: viewer.of("tool.waiting"), "the held call reported")
        assert [e["data"]["why"] for e in waiting] == ["pause"]
        code, out = wk.ctl("resume", proc.session_id)
        assert code == 0, out
        prompts = until(lambda: [e for e in viewer.of("tool.waiting") if e["data"].get("why") == "permission"],
                        "the CLI's prompt held here", timeout=60)
        assert prompts[0]["data"]["call_id"] == call and not target.exists(), "resume did not allow the write"
        code, out = wk.ctl("resume", proc.session_id)
        assert code == 0, out
        run = proc.wait(60)
    assert not target.exists(), "no answer to the prompt: under -p the CLI's own rules deny"
    assert call in {d.get("tool_use_id") for d in run.result.get("permission_denials", [])}


def test_always_allow_adds_the_offered_rule_so_the_cli_stops_asking(wk: Watchkeeper, tmp_path: Path) -> None:
    work = tmp_path / "work"
    script = [[tool_use("Write", {"file_path": str(work / "a.txt"), "content": "a"})],
              [tool_use("Write", {"file_path": str(work / "b.txt"), "content": "b"})], [text("done")]]
    api = ScriptedAnthropic(script)
    release = api.hold(turn=0)
    with api, start_run(wk, NEWEST, api, tmp_path) as proc:
        viewer = wk.watch(proc.session_id)
        release.set()
        (call,) = until(lambda: held_calls(wk, proc.session_id), "the prompt held", timeout=60)
        listed = wk.cli("sessions", "--json")
        [row] = [r for r in json.loads(listed.stdout) if r["id"] == proc.session_id]
        rule = row["held"][0]["always_rule"]
        assert listed.returncode == 0 and rule and "acceptEdits" in rule, "the rule it would add, shown first"
        code, out = wk.ctl("approve", proc.session_id, call, "--always")
        assert code == 0 and "rule added" in out, out
        run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (work / "a.txt").exists() and (work / "b.txt").exists()
    prompts = [e for e in viewer.of("tool.waiting") if e["data"].get("why") == "permission"]
    assert len(prompts) == 1, "the second write was not asked about: the rule was added"
