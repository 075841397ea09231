"""``watchkeeper hooks install|uninstall|status`` on a temp HOME, then the real CLI started as usual.

The settings merge is checked on the file the person owns (their other
settings and hooks untouched, installing twice changes nothing, the token
never written); then Claude Code, started the ordinary way in that HOME with
the hook credential in its environment, is steered; and ``hooks status`` says which live
sessions can be steered and, if not, why. The file is kept whole: a symlink
is edited through, a read-only or oddly shaped file is refused with one line
and left byte for byte, and uninstall gives back the bytes install found.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CLAUDE_VERSIONS
from standins.anthropic import ScriptedAnthropic
from standins.claude import ClaudeProcess, read_jsonl, start_claude
from test_steering_live import (
    WATCHKEEPER,
    Watchkeeper,
    held_calls,
    pause_before_turn,
    running_watchkeeper,
    tool_results,
    two_bash_calls,
)
from waiting import until

from watchkeeper import config
from watchkeeper.adapters.claude_code.settings import installed

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
    env = {config.ENV_HOOK_TOKEN: config.load_hook_token()} if token else {}
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
    assert sorted(merged["hooks"]) == ["PermissionRequest", "PostToolUse", "PreToolUse", "Stop", "UserPromptSubmit"]
    ours = merged["hooks"]["PreToolUse"][1]["hooks"][0]
    assert ours["headers"]["Authorization"] == f"Bearer ${config.ENV_HOOK_TOKEN}"
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
        assert gate["url"] == "http://127.0.0.1:4321/hook?fail=closed&prompts=here" and gate["onFailure"] == "block"
    with pytest.raises(ValueError, match="not valid JSON"):
        steerable_argv(["claude", "--settings", "{oops"], 4321, fail_closed=False)


# --- the settings file kept whole -------------------------------------------------------


def hooks_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``watchkeeper hooks ...`` as the person runs it, with HOME and the config dir under ``tmp_path``."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home"),
           config.ENV_HOME: str(tmp_path / "wk-config"), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run([*WATCHKEEPER, "hooks", *args], env=env, text=True, capture_output=True, timeout=60)


def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "home" / ".claude" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def ours_in(path: Path) -> dict[str, Any] | None:
    return installed(json.loads(path.read_bytes()), config.ENV_HOOK_TOKEN)


def in_our_format(settings: dict[str, Any]) -> bytes:
    return json.dumps(settings, indent=2, ensure_ascii=False).encode() + b"\n"


def test_a_symlinked_settings_file_is_edited_through_the_link(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "claude-settings.json"
    original = in_our_format(THEIRS)
    target.write_bytes(original)
    target.chmod(0o640)
    link = user_file(tmp_path)
    link.symlink_to(Path("..", "..", "dotfiles", "claude-settings.json"))
    done = hooks_cli(tmp_path, "install")
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert ours_in(target) is not None and json.loads(target.read_bytes())["model"] == "opus"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in dotfiles.iterdir()) == ["claude-settings.json"]
    assert sorted(p.name for p in link.parent.iterdir()) == ["settings.json"]
    done = hooks_cli(tmp_path, "uninstall")
    assert done.returncode == 0 and "removed" in done.stdout, done.stderr
    assert link.is_symlink() and target.read_bytes() == original


def test_a_read_only_settings_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = user_file(tmp_path)
    path.write_bytes(in_our_format(THEIRS))
    assert hooks_cli(tmp_path, "install").returncode == 0
    installed_bytes = path.read_bytes()
    path.chmod(0o444)
    for action in ("install", "uninstall"):
        args = (action, "--fail-closed") if action == "install" else (action,)
        done = hooks_cli(tmp_path, *args)
        assert done.returncode == 1
        assert done.stderr.splitlines() == [done.stderr.strip()] and "Traceback" not in done.stderr
        assert str(path) in done.stderr and "read-only" in done.stderr and "nothing changed" in done.stderr
        assert path.read_bytes() == installed_bytes and stat.S_IMODE(path.stat().st_mode) == 0o444
    plain = tmp_path / "untouched"
    user_file(plain).write_text("{}")
    user_file(plain).chmod(0o444)
    done = hooks_cli(plain, "install")
    assert done.returncode == 1 and "read-only" in done.stderr
    assert user_file(plain).read_text() == "{}"


@pytest.mark.parametrize("theirs", [
    {"hooks": {"PreToolUse": []}},
    {"hooks": {}},
    {"permissions": {}, "hooks": {"Stop": [], "PreToolUse": [{"matcher": "Bash", "hooks": []}]}, "env": {}},
    {"hooks": {"SessionStart": [], "PostToolUse": [{"hooks": [{"type": "command", "command": "a.sh"}]}]},
     "model": "é"},
    {},
], ids=["empty-list", "empty-hooks", "empty-everything", "their-own-hooks", "empty-object"])
def test_install_then_uninstall_gives_back_the_same_bytes(tmp_path: Path, theirs: dict[str, Any]) -> None:
    path = user_file(tmp_path)
    original = in_our_format(theirs)
    path.write_bytes(original)
    for args in (("install",), ("install",), ("install", "--fail-closed")):
        done = hooks_cli(tmp_path, *args)
        assert done.returncode == 0, done.stderr
    assert ours_in(path) is not None
    done = hooks_cli(tmp_path, "uninstall")
    assert done.returncode == 0 and "removed" in done.stdout, done.stderr
    assert path.read_bytes() == original


def test_uninstall_restores_the_json_of_a_file_written_another_way(tmp_path: Path) -> None:
    path = user_file(tmp_path)
    theirs = {"hooks": {"PreToolUse": [], "Stop": [{"hooks": []}]}, "permissions": {"deny": []}}
    path.write_text(json.dumps(theirs, separators=(",", ":")))
    assert hooks_cli(tmp_path, "install").returncode == 0
    assert hooks_cli(tmp_path, "uninstall").returncode == 0
    assert json.loads(path.read_bytes()) == theirs


def test_a_file_install_created_is_gone_after_uninstall(tmp_path: Path) -> None:
    path = user_file(tmp_path)
    assert hooks_cli(tmp_path, "install").returncode == 0
    assert ours_in(path) is not None
    assert hooks_cli(tmp_path, "uninstall").returncode == 0
    assert not path.exists()


@pytest.mark.parametrize(("odd", "key"), [
    ('{"hooks": "disabled"}', '"hooks"'),
    ('{"hooks": ["PreToolUse"]}', '"hooks"'),
    ('{"hooks": {"Stop": {"hooks": []}}}', '"hooks.Stop"'),
    ('{"hooks": {"PreToolUse": null}}', '"hooks.PreToolUse"'),
    ('{"hooks": {"PreToolUse": ["audit.sh"]}}', '"hooks.PreToolUse[0]"'),
    ('{"hooks": {"Stop": [{"hooks": []}, {"hooks": "x.sh"}]}}', '"hooks.Stop[1].hooks"'),
    ('["model", "opus"]', "not a JSON object"),
    ('{"model": "opus",', "not valid JSON"),
], ids=["hooks-string", "hooks-list", "event-object", "event-null", "group-string", "inner-string",
        "top-list", "invalid-json"])
def test_odd_shapes_get_one_line_naming_file_and_key(tmp_path: Path, odd: str, key: str) -> None:
    user = user_file(tmp_path)
    project_dir = tmp_path / "work"
    project = project_dir / ".claude" / "settings.local.json"
    project.parent.mkdir(parents=True)
    for path in (user, project):
        path.write_text(odd)
    for path, where in ((user, ()), (project, ("--project", str(project_dir)))):
        for args in (("install", *where), ("install", "--fail-closed", *where), ("uninstall", *where)):
            done = hooks_cli(tmp_path, *args)
            assert done.returncode == 1, done.stdout
            assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
            assert str(path) in done.stderr and key in done.stderr and "nothing changed" in done.stderr
            assert path.read_text() == odd
    status = hooks_cli(tmp_path, "status")
    assert status.returncode == 0 and "Traceback" not in status.stderr
    assert any(str(user) in line and key in line for line in status.stdout.splitlines()), status.stdout


def test_run_refuses_odd_settings_it_is_given() -> None:
    from watchkeeper.commands.run import steerable_argv

    with pytest.raises(ValueError, match='"hooks" is a string'):
        steerable_argv(["claude", "--settings", '{"hooks": "disabled"}'], 4321, fail_closed=False)
