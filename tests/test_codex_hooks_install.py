"""``watchkeeper hooks install|status|uninstall --codex`` on a real ``$CODEX_HOME``, then a Codex 0.171.0 started
directly (not through ``run``) is steerable once the person trusted the hooks, and is not before."""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from codex_steering_support import codex_home, first_session, held, pause, start_codex
from conftest import codex_binary
from standins.codex import MODEL, codex_env
from standins.openai_responses import Exec, ScriptedResponses, Text, Turn
from test_steering_live import WATCHKEEPER, Viewer, Watchkeeper, running_watchkeeper
from waiting import until

pytestmark = pytest.mark.node

WAIT = 30.0
#: For the CLI's first model request: run's trust check and the CLI's start are slow on a loaded machine.
START = 90.0
OWN = {"description": "mine", "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
    {"type": "command", "command": "echo mine >/dev/null", "timeout": 5}]}]}}


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    yield from running_watchkeeper(tmp_path, monkeypatch)


def hooks_cli(wk: Watchkeeper, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**codex_env(home), **{k: v for k, v in wk.env.items() if k != "PATH"}}
    return subprocess.run([*WATCHKEEPER, "hooks", *args, "--codex", "--codex-command", str(codex_binary())],
                          env=env, text=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def test_install_merges_asks_for_trust_and_uninstall_restores(wk: Watchkeeper, tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.mkdir()
    hooks_json = home / "hooks.json"
    # The person's own hook, trusted before watchkeeper came: its trust must outlive watchkeeper's uninstall.
    own_key = f"{hooks_json}:pre_tool_use:0:0"
    (home / "config.toml").write_text(f'model = "gpt-5.5"\n\n[hooks.state."{own_key}"]\ntrusted_hash = "sha256:mine"\n')
    hooks_json.write_text(json.dumps(OWN))

    assert "not installed" in hooks_cli(wk, home, "status").stdout
    untrusted = hooks_cli(wk, home, "install")
    assert untrusted.returncode == 1 and "not trusted" in untrusted.stdout, untrusted.stdout + untrusted.stderr
    assert "`watchkeeper hooks install --codex --trust-hook`" in untrusted.stdout
    assert "NOT trusted" in hooks_cli(wk, home, "status").stdout
    installed = json.loads(hooks_json.read_text())
    assert installed["description"] == "mine"
    assert installed["hooks"]["PreToolUse"][0] == OWN["hooks"]["PreToolUse"][0]
    assert len(installed["hooks"]["PreToolUse"]) == 2 and set(installed["hooks"]) >= {"PermissionRequest", "Stop"}
    command = installed["hooks"]["PreToolUse"][1]["hooks"][0]["command"]
    assert command.startswith("curl ") and "Bearer" not in command and "wkh_" not in command

    trusted = hooks_cli(wk, home, "install", "--trust-hook")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert json.loads(hooks_json.read_text()) == installed
    assert "trusted (5 hooks)" in hooks_cli(wk, home, "status").stdout
    env = {**codex_env(home), **{k: v for k, v in wk.env.items() if k != "PATH"}}
    plain = subprocess.run([*WATCHKEEPER, "hooks", "status", "--codex-command", str(codex_binary())], env=env,
                           text=True, capture_output=True, timeout=60)
    assert "codex hooks: installed" in plain.stdout and "codex hook trust: trusted" in plain.stdout, plain.stdout
    state = tomllib.loads((home / "config.toml").read_text())["hooks"]["state"]
    assert len(state) == 6 and all(str(home / "hooks.json") in key for key in state)
    request = Path(wk.env["WATCHKEEPER_HOME"]) / "codex-hook.curl"
    assert request.stat().st_mode & 0o777 == 0o600
    assert "/hook/codex" in request.read_text() and "prompts=here" not in request.read_text()
    here = hooks_cli(wk, home, "install", "--prompts", "here")
    assert here.returncode == 0 and "answered here" in here.stdout, here.stdout + here.stderr
    assert "prompts=here" in request.read_text() and json.loads(hooks_json.read_text()) == installed

    removed = hooks_cli(wk, home, "uninstall")
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert json.loads(hooks_json.read_text()) == OWN
    assert not request.exists()
    # Codex's record of trusting them goes too: only the person's own entry, and the rest of the file, stay.
    assert "removed Codex's trust of 5 watchkeeper hooks" in removed.stdout, removed.stdout + removed.stderr
    config = tomllib.loads((home / "config.toml").read_text())
    assert config["model"] == "gpt-5.5"
    assert config["hooks"]["state"] == {own_key: {"trusted_hash": "sha256:mine"}}


def test_uninstall_removes_the_hooks_even_when_codex_cannot_be_asked_and_says_what_stays(wk: Watchkeeper,
                                                                                       tmp_path: Path) -> None:
    home = tmp_path / "codex"
    home.mkdir()
    hooks_json = home / "hooks.json"
    hooks_json.write_text(json.dumps(OWN))
    assert hooks_cli(wk, home, "install", "--trust-hook").returncode == 0
    (home / "bin").mkdir()
    broken = home / "bin" / "codex"
    broken.write_text("#!/bin/sh\necho 'no app-server here' >&2\nexit 3\n")
    broken.chmod(0o755)
    env = {**codex_env(home), **{k: v for k, v in wk.env.items() if k != "PATH"}}
    removed = subprocess.run([*WATCHKEEPER, "hooks", "uninstall", "--codex", "--codex-command", str(broken)],
                             env=env, text=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert removed.returncode == 0 and "removed the Codex steering hooks" in removed.stdout, removed.stderr
    assert json.loads(hooks_json.read_text()) == OWN
    assert "could not ask Codex to forget the hooks' trust" in removed.stderr
    assert "no app-server here" in removed.stderr
    assert len(tomllib.loads((home / "config.toml").read_text())["hooks"]["state"]) == 5


def test_a_codex_started_directly_is_steerable_after_install(wk: Watchkeeper, tmp_path: Path) -> None:
    script = [Turn([Exec("echo one > one.txt", call_id="call_write")]), Turn([Text("done")])]
    with ScriptedResponses(script, model=MODEL) as api:
        home = codex_home(tmp_path, api)
        done = hooks_cli(wk, home, "install", "--trust-hook")
        assert done.returncode == 0, done.stdout + done.stderr
        gate = api.hold(0)
        seen = Viewer()
        wk.relay.subscribe(seen)
        run = start_codex(wk, api, tmp_path, watchkeeper=False)
        api.wait_for_request(0, START)
        session = first_session(wk, seen)
        wk.watch(session)
        pause(wk, session)
        gate.set()
        assert until(lambda: held(wk, session)) == ["call_write"]
        code, out = wk.ctl("deny", session, "call_write", "--reason", "not now")
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not (tmp_path / "work" / "one.txt").exists()
    assert "not now" in api.function_outputs()["call_write"]
    started = [e for e in seen.of("session.started") if e["data"].get("source") == "codex hooks"]
    assert started[0]["data"]["answer_prompts_here"] is False


FAKE_CODEX = ("#!/bin/sh\n[ \"$1\" = app-server ] && exit 3\necho started > \"$MARKER\"\n"
              "cat \"$WATCHKEEPER_CODEX_HOOK\" >> \"$MARKER\" 2>/dev/null\n")


@pytest.mark.parametrize("installed_closed", [False, True])
def test_run_fail_closed_is_refused_over_hooks_installed_fail_open(tmp_path: Path, installed_closed: bool) -> None:
    """Codex runs the installed hooks for a ``run`` session too (``run`` adds none then): over fail-open ones,
    ``--fail-closed`` would be a promise the session does not keep."""
    from watchkeeper.adapters.codex import hooks as X

    home = tmp_path / "codex"
    home.mkdir()
    (home / "hooks.json").write_text(json.dumps({"hooks": X.steering_hooks(str(tmp_path / "r"), 600,
                                                                           installed_closed)}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "codex").write_text(FAKE_CODEX)
    (bin_dir / "codex").chmod(0o755)
    marker = tmp_path / "started"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "CODEX_HOME": str(home),
           "WATCHKEEPER_HOME": str(tmp_path / "wk"), "WATCHKEEPER_PORT": "9", "MARKER": str(marker)}
    out = subprocess.run([*WATCHKEEPER, "run", "--fail-closed", "--", "codex", "exec", "go"], env=env, text=True,
                         capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)
    if installed_closed:
        assert out.returncode == 0 and marker.exists(), out.stderr
        assert "until then its hooks fail closed" in out.stderr
    else:
        assert out.returncode == 2 and not marker.exists(), out.stderr
        assert "--fail-closed cannot take effect" in out.stderr
        assert "hooks install --codex --fail-closed" in out.stderr
    plain = subprocess.run([*WATCHKEEPER, "run", "--", "codex", "exec", "go"], env=env, text=True,
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert f"until then its hooks fail {'closed' if installed_closed else 'open'}" in plain.stderr, \
        "the message names the mode the installed hooks apply"
    # The installed hooks read this run's request file: it carries the session's mode, theirs included.
    assert ("fail=closed" in marker.read_text()) is installed_closed, marker.read_text()
