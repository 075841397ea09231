"""Steering the real Codex CLI 0.171.0 (``codex exec``), offline against the scripted Responses API.

Codex is started as a person would: ``watchkeeper run --trust-hook -- codex exec …``
(the hooks go in as ``-c`` flags, the trust is recorded through Codex's own
app-server). The relay runs here with the hook endpoint; a viewer subscribed
to the session makes holds possible; controls go through ``watchkeeper ctl``.
The stand-in holds a model response back where a test must act before a call.
What the model read is what the stand-in was sent. Nothing is asserted on time.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from codex_steering_support import CodexRun, codex_sessions, first_session, held, pause, start_codex
from conftest import codex_binary
from standins.codex import MODEL
from standins.openai_responses import Call, Exec, McpCall, Patch, ScriptedResponses, Text, Turn
from test_steering_live import Viewer, Watchkeeper, running_watchkeeper
from waiting import until

from watchkeeper.adapters.codex import hooks as X

pytestmark = pytest.mark.node

WAIT = 30.0
#: For the CLI's first model request: run's trust check and the CLI's start are slow on a loaded machine.
START = 90.0
REASON = "Denied by reviewer: no writes today"


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    yield from running_watchkeeper(tmp_path, monkeypatch)


def one_write(name: str = "one.txt") -> list[Turn]:
    return [Turn([Exec(f"echo one > {name}", call_id="call_write")]), Turn([Text("done")])]


def everything(wk: Watchkeeper) -> Viewer:
    viewer = Viewer()
    wk.relay.subscribe(viewer)
    return viewer


def held_first_call(wk: Watchkeeper, api: ScriptedResponses, tmp: Path, *run_args: str,
                    sandbox: str = "workspace-write") -> tuple[CodexRun, str, Viewer]:
    """Start Codex, pause it before the model's first answer, let the answer come: its call is held."""
    gate = api.hold(0)
    seen = everything(wk)
    run = start_codex(wk, api, tmp, "--trust-hook", *run_args, sandbox=sandbox)
    api.wait_for_request(0, START)
    session = first_session(wk, seen)
    viewer = wk.watch(session)
    pause(wk, session)
    gate.set()
    assert until(lambda: held(wk, session)) == ["call_write"]
    return run, session, viewer


def test_deny_never_runs_the_command_and_the_model_reads_why(wk: Watchkeeper, tmp_path: Path) -> None:
    with ScriptedResponses(one_write(), model=MODEL) as api:
        run, session, viewer = held_first_call(wk, api, tmp_path)
        code, out = wk.ctl("deny", session, "call_write", "--reason", REASON)
        assert code == 0 and "call_write" in out, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not (tmp_path / "work" / "one.txt").exists()
    assert REASON in api.function_outputs()["call_write"]
    finished = [e for e in viewer.of("tool.finished") if e["data"]["call_id"] == "call_write"]
    assert [e["data"]["status"] for e in finished] == ["denied"]
    waiting = viewer.of("tool.waiting")
    assert [(e["data"]["why"], e["data"]["name"]) for e in waiting] == [("pause", "Bash")]
    info = wk.relay.session(session)
    assert info is not None and info.agent_kind == "codex" and info.capabilities["deny"] is True


def test_approve_runs_the_held_command(wk: Watchkeeper, tmp_path: Path) -> None:
    with ScriptedResponses(one_write(), model=MODEL) as api:
        run, session, _ = held_first_call(wk, api, tmp_path)
        assert not (tmp_path / "work" / "one.txt").exists()
        code, out = wk.ctl("approve", session, "call_write")
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert (tmp_path / "work" / "one.txt").read_text() == "one\n"
    assert "exited with code 0" in api.function_outputs()["call_write"]


def test_pause_then_resume_lets_the_call_go_on(wk: Watchkeeper, tmp_path: Path) -> None:
    with ScriptedResponses(one_write(), model=MODEL) as api:
        run, session, viewer = held_first_call(wk, api, tmp_path)
        code, out = wk.ctl("resume", session)
        assert code == 0 and "1 held call" in out, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert (tmp_path / "work" / "one.txt").exists()
    assert [e["data"]["control"] for e in viewer.of("control.applied")] == ["pause", "resume"]


def test_approve_never_widens_codexs_own_sandbox(wk: Watchkeeper, tmp_path: Path) -> None:
    """A read-only sandbox still refuses the write after the person approves it (approve is no decision)."""
    with ScriptedResponses(one_write(), model=MODEL) as api:
        run, session, _ = held_first_call(wk, api, tmp_path, sandbox="read-only")
        code, out = wk.ctl("approve", session, "call_write")
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not (tmp_path / "work" / "one.txt").exists()
    output = api.function_outputs()["call_write"]
    assert "Read-only file system" in output or "exited with code 1" in output, output


def test_inject_reaches_the_model_in_the_next_request(wk: Watchkeeper, tmp_path: Path) -> None:
    note = "Also mention the weather in Lisbon"
    with ScriptedResponses(one_write(), model=MODEL) as api:
        gate = api.hold(0)
        seen = everything(wk)
        run = start_codex(wk, api, tmp_path, "--trust-hook")
        api.wait_for_request(0, START)
        session = first_session(wk, seen)
        viewer = wk.watch(session)
        code, out = wk.ctl("inject", session, note)
        assert code == 0, out
        gate.set()
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    bodies = api.response_bodies()
    assert note not in str(bodies[0]) and note in str(bodies[1])
    delivered = [e for e in viewer.of("message.user") if e["data"].get("origin") == "injected"]
    assert [e["data"]["text"] for e in delivered] == [note]


def test_fail_open_when_watchkeeper_is_gone(wk: Watchkeeper, tmp_path: Path) -> None:
    wk.relay.stop()
    with ScriptedResponses(one_write(), model=MODEL) as api:
        rc, _, stderr = start_codex(wk, api, tmp_path, "--trust-hook").wait()
    assert rc == 0, stderr
    assert (tmp_path / "work" / "one.txt").exists()


def test_fail_closed_denies_when_watchkeeper_is_gone(wk: Watchkeeper, tmp_path: Path) -> None:
    wk.relay.stop()
    with ScriptedResponses(one_write(), model=MODEL) as api:
        rc, _, stderr = start_codex(wk, api, tmp_path, "--trust-hook", "--fail-closed").wait()
    assert rc == 0, stderr
    assert not (tmp_path / "work" / "one.txt").exists()
    assert "watchkeeper is unreachable: denied (fail-closed)" in api.function_outputs()["call_write"]


def test_untrusted_hook_leaves_the_session_observe_only(wk: Watchkeeper, tmp_path: Path) -> None:
    seen = everything(wk)
    with ScriptedResponses(one_write(), model=MODEL) as api:
        rc, _, stderr = start_codex(wk, api, tmp_path).wait()
    assert rc == 0, stderr
    assert "not trusted" in stderr and "observe-only" in stderr and "--trust-hook" in stderr
    assert (tmp_path / "work" / "one.txt").exists()
    assert codex_sessions(seen) == []
    config = tomllib.loads((tmp_path / "codex" / "config.toml").read_text())
    assert "state" not in config.get("hooks", {})


def test_trust_covers_exactly_watchkeepers_hooks(wk: Watchkeeper, tmp_path: Path) -> None:
    with ScriptedResponses(one_write(), model=MODEL) as api:
        rc, _, stderr = start_codex(wk, api, tmp_path, "--trust-hook").wait()
    assert rc == 0, stderr
    state = tomllib.loads((tmp_path / "codex" / "config.toml").read_text())["hooks"]["state"]
    assert sorted(state) == sorted(f"/<session-flags>/config.toml:{e}:0:0" for e in
                                   ("pre_tool_use", "permission_request", "post_tool_use", "user_prompt_submit",
                                    "stop"))
    assert all(v["trusted_hash"].startswith("sha256:") for v in state.values())
    assert len(X.EVENTS) == len(state)


@pytest.mark.parametrize("fail_closed", [False, True])
def test_when_codexs_hook_timeout_passes_first_the_call_goes_on(wk: Watchkeeper, tmp_path: Path,
                                                                fail_closed: bool) -> None:
    """Codex kills a hook at its ``timeout`` and goes on under its own policy, even for a fail-closed hook
    (the shell that would exit 2 is killed too): hence each holding hook's timeout is the hold timeout plus a
    margin, so that the relay's policy, not Codex, ends a hold. The relay sees the request dropped."""
    from codex_steering_support import codex_home
    from standins.codex import codex_env

    from watchkeeper import config
    from watchkeeper.adapters.codex import setup
    from watchkeeper.adapters.codex.launch import ensure_trust

    with ScriptedResponses(one_write(), model=MODEL) as api:
        home = codex_home(tmp_path, api)
        env = {**codex_env(home), **{k: v for k, v in wk.env.items() if k != "PATH"}}
        request = setup.write_request_file(tmp_path / "request.curl",
                                           setup.hook_url(wk.hooks.port, fail_closed, False), config.load_hook_token())
        env[X.ENV_HOOK_FILE] = str(request)
        hooks = X.steering_hooks(str(request), 60, fail_closed)
        hooks["PreToolUse"][0]["hooks"][0]["timeout"] = 2
        flags = X.config_flags(hooks)
        trusted, message = ensure_trust([str(codex_binary())], flags, env, True)
        assert trusted, message
        cwd = tmp_path / "work"
        cwd.mkdir()
        gate = api.hold(0)
        seen = everything(wk)
        proc = subprocess.Popen([str(codex_binary()), *flags, "exec", "--json", "--skip-git-repo-check", "-C",
                                 str(cwd), "go"], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        run = CodexRun(proc, cwd, home)
        api.wait_for_request(0, START)
        session = first_session(wk, seen)
        viewer = wk.watch(session)
        pause(wk, session)
        gate.set()
        assert until(lambda: held(wk, session)) == ["call_write"]
        rc, _, stderr = run.wait()
        ended = until(lambda: [e for e in viewer.of("control.applied") if e["data"]["control"] == "abandoned"])
    assert rc == 0, stderr
    assert (cwd / "one.txt").exists()
    assert ended[0]["data"]["call_id"] == "call_write"
    assert held(wk, session) == []


def test_an_apply_patch_call_is_held_and_denied_too(wk: Watchkeeper, tmp_path: Path) -> None:
    """apply_patch fires PreToolUse in 0.171.0 (tool_name apply_patch, the patch as tool_input.command)."""
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
    with ScriptedResponses([Turn([Patch(patch, call_id="call_write")]), Turn([Text("done")])], model=MODEL) as api:
        run, session, viewer = held_first_call(wk, api, tmp_path)
        (waiting,) = until(lambda: viewer.of("tool.waiting"))
        assert waiting["data"]["name"] == "apply_patch" and waiting["data"]["input"] == {"command": patch}
        code, out = wk.ctl("deny", session, "call_write", "--reason", REASON)
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not (tmp_path / "work" / "hello.txt").exists()
    assert REASON in api.function_outputs()["call_write"]


def test_inject_when_codex_would_stop_keeps_it_going(wk: Watchkeeper, tmp_path: Path) -> None:
    note = "Before you finish, summarise in one line"
    with ScriptedResponses([Turn([Text("All done.")]), Turn([Text("Summary: nothing to do.")])], model=MODEL) as api:
        gate = api.hold(0)
        seen = everything(wk)
        run = start_codex(wk, api, tmp_path, "--trust-hook")
        api.wait_for_request(0, START)
        session = first_session(wk, seen)
        viewer = wk.watch(session)
        code, out = wk.ctl("inject", session, note)
        assert code == 0, out
        gate.set()
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    bodies = api.response_bodies()
    assert len(bodies) == 2 and note not in str(bodies[0]) and note in str(bodies[1])
    assert [e["data"]["text"] for e in viewer.of("message.user") if e["data"].get("origin") == "injected"] == [note]
    recording = tmp_path / "recordings" / f"{session}.jsonl"
    assert until(lambda: recording.exists() and note in recording.read_text())


# --- MCP calls: PreToolUse fires for them, and under `codex exec` each asks for permission ---------------


def mcp_touch(target: Path) -> list[Turn]:
    return [Turn([McpCall("touch", "touch", json.dumps({"path": str(target)}), call_id="call_mcp")]),
            Turn([Text("done")])]


def start_mcp(wk: Watchkeeper, api: ScriptedResponses, tmp: Path, *run_args: str) -> tuple[CodexRun, str, Viewer]:
    gate = api.hold(0)
    seen = everything(wk)
    run = start_codex(wk, api, tmp, "--trust-hook", *run_args, mcp=True)
    api.wait_for_request(0, START)
    session = first_session(wk, seen)
    viewer = wk.watch(session)
    gate.set()
    return run, session, viewer


def test_an_mcp_call_asks_permission_and_approve_from_watchkeeper_runs_it(wk: Watchkeeper, tmp_path: Path) -> None:
    target = tmp_path / "work" / "mcp.txt"
    with ScriptedResponses(mcp_touch(target), model=MODEL) as api:
        run, session, viewer = start_mcp(wk, api, tmp_path)
        assert until(lambda: held(wk, session)) == ["call_mcp"]
        (waiting,) = until(lambda: viewer.of("tool.waiting"))
        assert (waiting["data"]["why"], waiting["data"]["name"]) == ("permission", "mcp__touch__touch")
        assert waiting["data"]["input"] == {"path": str(target)} and waiting["data"]["attached"] is True
        assert not target.exists()
        code, out = wk.ctl("approve", session, "call_mcp")
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert target.read_text() == "mcp\n"
    assert "touched" in str(api.function_outputs()["call_mcp"])


def test_resume_on_a_permission_prompt_leaves_codexs_own_refusal(wk: Watchkeeper, tmp_path: Path) -> None:
    """Never widen: with no decision from the person, Codex's own policy ("never" under exec) refuses the call."""
    target = tmp_path / "work" / "mcp.txt"
    with ScriptedResponses(mcp_touch(target), model=MODEL) as api:
        run, session, _ = start_mcp(wk, api, tmp_path)
        assert until(lambda: held(wk, session)) == ["call_mcp"]
        code, out = wk.ctl("resume", session)
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not target.exists()
    assert "requires approval, but approval policy is never" in str(api.function_outputs()["call_mcp"])


def test_a_prompt_not_answered_here_is_left_to_codex_with_a_notice(wk: Watchkeeper, tmp_path: Path) -> None:
    target = tmp_path / "work" / "mcp.txt"
    with ScriptedResponses(mcp_touch(target), model=MODEL) as api:
        run, _, viewer = start_mcp(wk, api, tmp_path, "--prompts", "terminal")
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not target.exists()
    notices = [e for e in viewer.of("notice") if e["data"]["code"] == "permission-elsewhere"]
    assert len(notices) == 1 and "mcp__touch__touch" in notices[0]["data"]["text"]
    assert viewer.of("tool.waiting") == []


def test_an_mcp_call_is_held_at_pre_tool_use_and_denied(wk: Watchkeeper, tmp_path: Path) -> None:
    target = tmp_path / "work" / "mcp.txt"
    with ScriptedResponses(mcp_touch(target), model=MODEL) as api:
        gate = api.hold(0)
        seen = everything(wk)
        run = start_codex(wk, api, tmp_path, "--trust-hook", mcp=True)
        api.wait_for_request(0, START)
        session = first_session(wk, seen)
        wk.watch(session)
        pause(wk, session)
        gate.set()
        assert until(lambda: held(wk, session)) == ["call_mcp"]
        code, out = wk.ctl("deny", session, "call_mcp", "--reason", REASON)
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not target.exists()
    assert REASON in str(api.function_outputs()["call_mcp"])


def test_cancel_denies_the_held_call_and_the_model_reads_why(wk: Watchkeeper, tmp_path: Path) -> None:
    """Codex hooks cannot end a turn (``continue: false`` makes Codex drop the reply and run the call)."""
    with ScriptedResponses(one_write(), model=MODEL) as api:
        run, session, viewer = held_first_call(wk, api, tmp_path)
        code, out = wk.ctl("cancel", session, "--reason", "Stop: wrong branch")
        assert code == 0 and "cancelled" in out, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not (tmp_path / "work" / "one.txt").exists()
    assert "Stop: wrong branch" in api.function_outputs()["call_write"]
    assert [e["data"]["status"] for e in viewer.of("tool.finished") if e["data"]["call_id"] == "call_write"][:1] == [
        "denied"]


def test_step_runs_one_call_and_holds_the_next(wk: Watchkeeper, tmp_path: Path) -> None:
    script = [Turn([Exec("echo one > one.txt", call_id="call_write")]),
              Turn([Exec("echo two > two.txt", call_id="call_two")]), Turn([Text("done")])]
    with ScriptedResponses(script, model=MODEL) as api:
        run, session, _ = held_first_call(wk, api, tmp_path)
        code, out = wk.ctl("step", session)
        assert code == 0, out
        assert until(lambda: held(wk, session)) == ["call_two"]
        assert (tmp_path / "work" / "one.txt").exists() and not (tmp_path / "work" / "two.txt").exists()
        code, out = wk.ctl("resume", session)
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert (tmp_path / "work" / "two.txt").exists()


def test_a_breakpoint_holds_a_codex_call_that_scripts_see_and_decide(wk: Watchkeeper, tmp_path: Path) -> None:
    """No pause: the person's rule alone holds the call; ``sessions --json`` shows it as a breakpoint hit and
    ``ctl deny`` on that call id ends it, exactly as for Claude Code."""
    from watchkeeper.breakpoints import Book, Matcher, Rule

    wk.hooks.codex.breakpoint = wk.hooks.guard.before(Matcher(Book(None, [Rule("writes", pattern="echo one")])))
    with ScriptedResponses(one_write(), model=MODEL) as api:
        seen = everything(wk)
        run = start_codex(wk, api, tmp_path, "--trust-hook")
        session = first_session(wk, seen)
        wk.watch(session)
        assert until(lambda: held(wk, session), timeout=START) == ["call_write"]
        listed = wk.cli("sessions", "--json")
        assert listed.returncode == 0, listed.stderr
        (row,) = [r for r in json.loads(listed.stdout) if r["id"] == session]
        (call,) = row["held"]
        assert (call["call_id"], call["tool"], call["why"], call["rule"]) == ("call_write", "Bash", "breakpoint",
                                                                             "writes")
        assert row["agent"] == "codex" and row["steerable"] is True
        code, out = wk.ctl("deny", session, "call_write", "--reason", REASON)
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert not (tmp_path / "work" / "one.txt").exists()
    assert REASON in api.function_outputs()["call_write"]


def test_input_typed_into_a_running_command_is_said_to_have_gone_unheld(wk: Watchkeeper, tmp_path: Path) -> None:
    """Codex sends no hook for ``write_stdin``: paused, the session said the next call waits, and the input went
    in. The rollout shows it, so the session is told it ran without being held."""
    import re

    from codex_steering_support import codex_home

    from watchkeeper.adapters.files.source import DirectorySource, TranscriptSource

    tty = {"cmd": "read a; echo got-$a > got.txt", "yield_time_ms": 300, "tty": True}
    script = [Turn([Call("", "exec_command", tty, call_id="c_long")]), Turn([Text("placeholder")]),
              Turn([Text("done")]), Turn([Text("done")])]
    with ScriptedResponses(script, model=MODEL) as api:
        home = codex_home(tmp_path, api)
        (home / "sessions").mkdir(exist_ok=True)
        relay = wk.relay
        relay.add_source(DirectorySource([home / "sessions"], lambda p: relay.add_source(TranscriptSource(p)),
                                         poll_interval=0.2))
        gate = api.hold(0)
        seen = everything(wk)
        run = start_codex(wk, api, tmp_path, "--trust-hook")
        api.wait_for_request(0, START)
        session = first_session(wk, seen)
        viewer = wk.watch(session)
        pause(wk, session)
        typing = api.hold(1)
        gate.set()
        assert until(lambda: held(wk, session)) == ["c_long"]
        code, out = wk.ctl("approve", session, "c_long")
        assert code == 0, out
        api.wait_for_request(1, WAIT)
        output = api.function_outputs()["c_long"]
        pty = int(re.search(r"session ID (\d+)", output).group(1))  # type: ignore[union-attr]
        api.script[1] = Turn([Call("", "write_stdin", {"session_id": pty, "chars": "hello\n", "yield_time_ms": 1000},
                                   call_id="c_ws")])
        typing.set()
        rc, _, stderr = run.wait()
        assert rc == 0, stderr
        (notice,) = until(lambda: [e for e in viewer.of("notice") if e["data"].get("code") == "call-not-held"],
                          "the notice that write_stdin was not held")
    assert (tmp_path / "work" / "got.txt").read_text() == "got-hello\n", "the input went in: nothing held it"
    assert notice["data"]["text"].startswith("write_stdin (c_ws) ran without being held although the session is "
                                             "paused")
    assert [e["data"]["call_id"] for e in viewer.of("tool.waiting")] == ["c_long"]
