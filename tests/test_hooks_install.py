"""``watchkeeper hooks install|uninstall|status`` on a temp HOME, then the real CLI started as usual.

The settings merge is checked on the file the person owns (their other
settings and hooks untouched, installing twice changes nothing, the token
never written); then Claude Code, started the ordinary way in that HOME with
the token in its environment, is steered; and ``hooks status`` says which live
sessions can be steered and, if not, why.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CLAUDE_VERSIONS
from standins.anthropic import ScriptedAnthropic
from standins.claude import ClaudeProcess, read_jsonl, start_claude
from test_steering_live import (
    Watchkeeper,
    held_calls,
    pause_before_turn,
    running_watchkeeper,
    tool_results,
    two_bash_calls,
)
from waiting import until

from watchkeeper import config

NEWEST = CLAUDE_VERSIONS[-1]

THEIRS: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "true"}]}]},
}


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    yield from running_watchkeeper(tmp_path, monkeypatch)


def install(wk: Watchkeeper, home: Path, *args: str) -> str:
    done = wk.cli("hooks", "install", *args, extra_env={"HOME": str(home)})
    assert done.returncode == 0, done.stderr
    return done.stdout


def start_plain(wk: Watchkeeper, api: ScriptedAnthropic, tmp: Path, name: str, *, token: bool = True,
                cwd: Path | None = None) -> ClaudeProcess:
    """Claude Code started the ordinary way, in the HOME the hooks went into."""
    env = {config.ENV_TOKEN: wk.token} if token else {}
    return start_claude(NEWEST, "go", api=api, cwd=cwd or tmp / name, home=tmp / "home", env=env,
                        allowed_tools=("Bash",))


def test_install_merges_idempotently_and_uninstall_restores(wk: Watchkeeper, tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps(THEIRS))
    out = install(wk, home)
    assert wk.token not in out
    first = settings.read_bytes()
    install(wk, home)
    assert settings.read_bytes() == first
    merged = json.loads(first)
    assert wk.token not in first.decode()
    assert merged["model"] == "opus" and merged["permissions"] == THEIRS["permissions"]
    assert merged["hooks"]["PreToolUse"][0] == THEIRS["hooks"]["PreToolUse"][0]
    assert sorted(merged["hooks"]) == ["PostToolUse", "PreToolUse", "Stop", "UserPromptSubmit"]
    ours = merged["hooks"]["PreToolUse"][1]["hooks"][0]
    assert ours["headers"]["Authorization"] == f"Bearer ${config.ENV_TOKEN}"
    assert stat.S_IMODE(config.token_path().stat().st_mode) == 0o600
    done = wk.cli("hooks", "uninstall", extra_env={"HOME": str(home)})
    assert done.returncode == 0 and "removed" in done.stdout
    assert json.loads(settings.read_text()) == THEIRS


def test_a_broken_settings_file_is_left_alone(wk: Watchkeeper, tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"model": "opus",')
    done = wk.cli("hooks", "install", extra_env={"HOME": str(home)})
    assert done.returncode == 1 and "not valid JSON" in done.stderr
    assert settings.read_text() == '{"model": "opus",'


@pytest.mark.node
def test_user_install_makes_a_plain_session_steerable(wk: Watchkeeper, tmp_path: Path) -> None:
    home = tmp_path / "home"
    install(wk, home, "--user")
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=1)
        with start_plain(wk, api, tmp_path, "work") as proc:
            viewer = wk.watch(proc.session_id)
            pause_before_turn(wk, api, release, proc.session_id, 1)
            (call,) = until(lambda: held_calls(wk, proc.session_id))
            assert not (cwd / "two.txt").exists()
            assert wk.ctl("resume", proc.session_id)[0] == 0
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").exists()
    assert [e["data"]["call_id"] for e in viewer.of("tool.waiting")] == [call]


@pytest.mark.node
def test_project_install_denies_with_the_reason(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    cwd.mkdir()
    install(wk, tmp_path / "home", "--project", str(cwd))
    assert (cwd / ".claude" / "settings.local.json").exists()
    reason = "Not on a Friday"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=1)
        with start_plain(wk, api, tmp_path, "work", cwd=cwd) as proc:
            wk.watch(proc.session_id)
            pause_before_turn(wk, api, release, proc.session_id, 1)
            (call,) = until(lambda: held_calls(wk, proc.session_id))
            assert wk.ctl("deny", proc.session_id, "--reason", reason)[0] == 0
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert not (cwd / "two.txt").exists()
    result = tool_results(read_jsonl(run.transcript))[call]
    assert result["is_error"] is True and reason in str(result["content"])


@pytest.mark.node
def test_status_says_which_live_sessions_can_be_steered_and_why_not(wk: Watchkeeper, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ScriptedAnthropic(two_bash_calls(tmp_path)) as api:
        release = api.hold(turn=0)
        arrived = lambda n: lambda: len(api.requests_for("main")) >= n  # noqa: E731
        with start_plain(wk, api, tmp_path, "early") as early:
            until(arrived(1))
            install(wk, home)
            with start_plain(wk, api, tmp_path, "hooked") as hooked, \
                    start_plain(wk, api, tmp_path, "tokenless", token=False) as tokenless:
                until(arrived(3))
                done = wk.cli("hooks", "status", extra_env={"HOME": str(home)})
                release.set()
                runs = [p.wait(60) for p in (early, hooked, tokenless)]
    assert done.returncode == 0, done.stderr
    assert f"installed in {home / '.claude' / 'settings.json'}" in done.stdout
    assert wk.token not in done.stdout
    lines = done.stdout.splitlines()

    def verdict(proc: ClaudeProcess) -> str:
        at = next(i for i, line in enumerate(lines) if f"pid {proc.proc.pid} " in line)
        return lines[at + 1].strip()

    assert verdict(hooked).startswith("steerable")
    assert verdict(early).startswith("not steerable: started before the install")
    assert verdict(tokenless).startswith("not steerable: token missing")
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]


def test_run_merges_the_persons_own_settings_flag(tmp_path: Path) -> None:
    from watchkeeper.commands.run import steerable_argv

    theirs = tmp_path / "mine.json"
    theirs.write_text(json.dumps(THEIRS))
    for given in (["claude", "--settings", str(theirs), "-p", "hi"], ["claude", f"--settings={theirs}", "-p", "hi"],
                  ["claude", "--settings", json.dumps(THEIRS), "-p", "hi"]):
        argv = steerable_argv(given, 4321, fail_closed=True)
        assert argv[0] == "claude" and argv[3:] == ["-p", "hi"] and argv.count("--settings") == 1
        merged = json.loads(argv[2])
        assert merged["model"] == "opus"
        assert merged["hooks"]["PreToolUse"][0] == THEIRS["hooks"]["PreToolUse"][0]
        gate = merged["hooks"]["PreToolUse"][1]["hooks"][0]
        assert gate["url"] == "http://127.0.0.1:4321/hook?fail=closed" and gate["onFailure"] == "block"
    with pytest.raises(ValueError, match="not valid JSON"):
        steerable_argv(["claude", "--settings", "{oops"], 4321, fail_closed=False)
