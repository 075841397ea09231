"""Remote steering holds: the real Claude Code CLI (``watchkeeper run --``) beside ``watchkeeper serve``.

The person watches through ``attach``'s client (a local relay following serve
over websocket) and steers from it or with ``ctl --relay``. A pause, a step or
a breakpoint set through attach holds the next real tool call at serve's hook
endpoint: the command does not run (its file is not written) until the person
decides. When the screen goes away, the held call waits serve's reconnect
grace, then the session's failure policy decides it. Every wait is bounded;
nothing is asserted on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CLAUDE_VERSIONS
from remote_steering_support import WAIT, Screen, Serve, start_claude, start_serve
from standins.anthropic import ScriptedAnthropic, text, tool_use
from waiting import until

from watchkeeper.adapters.remote.book import RemoteBook
from watchkeeper.breakpoints import Book, Rule
from watchkeeper.protocol import Event

pytestmark = pytest.mark.node

NEWEST = CLAUDE_VERSIONS[-1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Serve]:
    s = start_serve(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def screen(served: Serve) -> Iterator[Screen]:
    s = Screen(served)
    yield s
    s.close()


def two_writes() -> list[Any]:
    return [
        [tool_use("Bash", {"command": "echo one > one.txt", "description": "first"})],
        [tool_use("Bash", {"command": "echo two > two.txt", "description": "second"})],
        [text("done")],
    ]


def tool_result(api: ScriptedAnthropic, call: str) -> str:
    """What the model was told about ``call`` (the stand-in records every request it received)."""
    return str(next(b for r in api.requests_for("main") for b in r.tool_results() if b["tool_use_id"] == call))


def kinds(events: list[Event], session: str) -> list[str]:
    return [e["kind"] for e in events if e["session"] == session]


def pause_second_call(served: Serve, screen: Screen, api: ScriptedAnthropic, session: str,
                      release: Any) -> str:
    """Pause from the screen while the model's second answer is held back, let it come: its call is held."""
    api.wait_for_request("main", turn=1, timeout=WAIT)
    until(lambda: screen.sees(session), what="the screen follows the session")
    outcome = screen.control(session, "pause")
    assert outcome["kind"] == "control.applied", outcome
    release.set()
    (call,) = until(lambda: served.held(session), what="the second call is held at serve")
    return str(call)


@pytest.mark.parametrize("version", CLAUDE_VERSIONS)
def test_a_pause_from_ctl_relay_holds_the_next_call_until_approved(served: Serve, screen: Screen,
                                                                   tmp_path: Path, version: str) -> None:
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(served, version, api, tmp_path) as proc:
            api.wait_for_request("main", turn=1, timeout=WAIT)
            until(lambda: screen.sees(proc.session_id), what="the screen follows the session")
            code, out = served.ctl("pause", proc.session_id)
            assert code == 0 and out.startswith("applied: paused: the next tool call waits"), out
            release.set()
            (call,) = until(lambda: served.held(proc.session_id), what="the second call is held")
            assert call == api.tool_use_ids()[1]
            waiting = until(lambda: screen.of(proc.session_id, "tool.waiting"), what="the screen shows the hold")
            assert waiting[0]["data"]["call_id"] == call and waiting[0]["data"]["reason"] == "paused"
            assert (cwd / "one.txt").exists() and not (cwd / "two.txt").exists()
            assert proc.running
            code, out = served.ctl("approve", proc.session_id, call)
            assert code == 0 and out.startswith(f"applied [{call}]: approved: the call runs"), out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n"
    applied = [e["data"]["control"] for e in screen.of(proc.session_id, "control.applied")]
    assert applied == ["pause", "approve"]


def test_deny_from_the_screen_stops_the_call_and_the_model_reads_why(served: Serve, screen: Screen,
                                                                     tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    reason = "Denied from the remote screen: not that file"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(served, NEWEST, api, tmp_path) as proc:
            call = pause_second_call(served, screen, api, proc.session_id, release)
            assert not (cwd / "two.txt").exists()
            outcome = screen.control(proc.session_id, "deny", call_id=call, reason=reason)
            assert outcome["kind"] == "control.applied" and outcome["data"]["call_id"] == call
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert not (cwd / "two.txt").exists()
    assert reason in tool_result(api, call)
    finished = until(lambda: [e for e in screen.of(proc.session_id, "tool.finished") if e["data"]["call_id"] == call])
    assert finished[0]["data"]["status"] == "denied"


def test_inject_from_the_screen_reaches_the_model(served: Serve, screen: Screen, tmp_path: Path) -> None:
    note = "Also say which files you wrote"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(served, NEWEST, api, tmp_path) as proc:
            api.wait_for_request("main", turn=1, timeout=WAIT)
            until(lambda: screen.sees(proc.session_id), what="the screen follows the session")
            outcome = screen.control(proc.session_id, "inject", text=note)
            assert outcome["kind"] == "control.applied", outcome
            assert api.requests_containing(note) == []
            release.set()
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    carrying = api.requests_containing(note, route="main")
    assert carrying and carrying[0].turn == 2
    until(lambda: [e for e in screen.of(proc.session_id, "message.user") if e["data"].get("origin") == "injected"],
         what="the screen shows the injected message delivered")


def test_step_runs_one_call_then_cancel_ends_the_turn(served: Serve, screen: Screen, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=0)
        with start_claude(served, NEWEST, api, tmp_path) as proc:
            api.wait_for_request("main", turn=0, timeout=WAIT)
            until(lambda: screen.sees(proc.session_id), what="the screen follows the session")
            assert screen.control(proc.session_id, "step")["kind"] == "control.applied"
            release.set()
            (first,) = until(lambda: served.held(proc.session_id), what="the first call waits for a step")
            assert not (cwd / "one.txt").exists()
            stepped = screen.control(proc.session_id, "step", call_id=first)
            assert stepped["kind"] == "control.applied" and "next one waits" in stepped["data"]["reason"]
            (second,) = until(lambda: [c for c in served.held(proc.session_id) if c != first],
                             what="the next call waits too")
            assert (cwd / "one.txt").read_text() == "one\n" and not (cwd / "two.txt").exists()
            cancelled = screen.control(proc.session_id, "cancel")
            assert cancelled["kind"] == "control.applied" and cancelled["data"]["call_id"] == second
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert not (cwd / "two.txt").exists()
    assert [r.turn for r in api.requests_for("main")] == [0, 1]


def test_a_control_nobody_can_act_on_is_rejected_with_the_reason(served: Serve, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(served, NEWEST, api, tmp_path) as proc:
            api.wait_for_request("main", turn=1, timeout=WAIT)
            for action in ("pause", "step"):
                code, out = served.ctl(action, proc.session_id)
                assert code == 1 and out.startswith("rejected: nobody watches this session"), out
            code, out = served.ctl("approve", proc.session_id)
            assert code == 1 and "holds no call: nothing to approve" in out, out
            release.set()
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n", "nothing was paused, so nothing was held"
    outcomes = [e for e in served.stream(proc.session_id) if e["kind"].startswith("control.")]
    assert [(e["kind"], e["data"]["control"]) for e in outcomes] == [
        ("control.rejected", "pause"), ("control.rejected", "step")], "the approve was refused before it was sent"


def test_a_screen_back_within_the_grace_finds_the_hold_still_there(tmp_path: Path) -> None:
    served = start_serve(tmp_path, "--reconnect-grace", "120")
    cwd = tmp_path / "work"
    first = Screen(served)
    second: Screen | None = None
    try:
        with ScriptedAnthropic(two_writes()) as api:
            release = api.hold(turn=1)
            with start_claude(served, NEWEST, api, tmp_path) as proc:
                call = pause_second_call(served, first, api, proc.session_id, release)
                first.close()
                notice = until(lambda: [e for e in served.stream(proc.session_id)
                                       if e["data"].get("code") == "reconnect-grace"],
                              what="serve saw the screen go and gives it the grace")
                assert "1 held call wait 120 s" in notice[0]["data"]["text"]
                assert served.held(proc.session_id) == [call] and proc.running
                second = back = Screen(served)
                until(lambda: back.of(proc.session_id, "notice"), what="the screen is back and has read the session")
                assert served.held(proc.session_id) == [call]
                assert not (cwd / "two.txt").exists()
                outcome = second.control(proc.session_id, "approve", call_id=call)
                assert outcome["kind"] == "control.applied", outcome
                run = proc.wait(60)
        assert run.returncode == 0, run.stderr
        assert (cwd / "two.txt").read_text() == "two\n"
        assert "control.applied" not in [e["kind"] for e in served.stream(proc.session_id)
                                          if e["id"].startswith("hold:")]
    finally:
        if second is not None:
            second.close()
        first.close()
        served.stop()


@pytest.mark.parametrize("fail_closed", [False, True])
def test_no_screen_back_within_the_grace_and_the_policy_decides(tmp_path: Path, fail_closed: bool) -> None:
    served = start_serve(tmp_path, "--reconnect-grace", "1")
    cwd = tmp_path / "work"
    screen = Screen(served)
    try:
        with ScriptedAnthropic(two_writes()) as api:
            release = api.hold(turn=1)
            run_args = ("--fail-closed",) if fail_closed else ()
            with start_claude(served, NEWEST, api, tmp_path, run_args=run_args) as proc:
                call = pause_second_call(served, screen, api, proc.session_id, release)
                screen.close()
                run = proc.wait(60)
    finally:
        screen.close()
    try:
        stream = served.stream(proc.session_id)
    finally:
        served.stop()
    assert run.returncode == 0, run.stderr
    ids = [e["id"] for e in stream]
    grace = next(i for i, e in enumerate(stream) if e["data"].get("code") == "reconnect-grace")
    assert ids.index(f"hold:{call}:unwatched") > grace, "the policy applied after the grace, not before"
    if fail_closed:
        assert not (cwd / "two.txt").exists()
        assert "nobody is watching" in tool_result(api, call)
        assert "denied (fail-closed)" in stream[grace]["data"]["text"]
    else:
        assert (cwd / "two.txt").read_text() == "two\n"
        assert "no decision (fail-open)" in stream[grace]["data"]["text"]


def test_a_breakpoint_set_through_attach_holds_a_call_on_serve(served: Serve, screen: Screen,
                                                               tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    until(lambda: screen.attached.source._ws is not None, what="the screen is connected")
    book = RemoteBook(screen.attached.source)
    done = book.request("add", rule=Rule("second file", pattern="two.txt")).result(WAIT)
    assert done == "added «second file»"
    assert [r.name for r in Book.load(served.home / "breakpoints.toml").rules] == ["second file"]
    assert str(served.home / "breakpoints.toml") in book.path
    with ScriptedAnthropic(two_writes()) as api, start_claude(served, NEWEST, api, tmp_path) as proc:
        (call,) = until(lambda: served.held(proc.session_id), what="the breakpoint holds the second call")
        waiting = until(lambda: screen.of(proc.session_id, "tool.waiting"))
        assert (waiting[0]["data"]["reason"], waiting[0]["data"]["rule"]) == ("breakpoint", "second file")
        assert (cwd / "one.txt").exists() and not (cwd / "two.txt").exists()
        assert screen.control(proc.session_id, "approve", call_id=call)["kind"] == "control.applied"
        run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n"
    assert [r.turn for r in api.requests_for("main")] == [0, 1, 2]
    assert book.request("remove", name="second file").result(WAIT) == "removed «second file»"
    assert Book.load(served.home / "breakpoints.toml").rules == ()
