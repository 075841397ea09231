"""Steering through the hub: the real Claude Code CLI (``watchkeeper run --``) on an edge, the person at the hub.

The edge (``serve --upstream``) runs the hook endpoint that holds the calls;
the person is ``attach``'s client following the hub (a :class:`Screen`) or
``ctl --relay HUB``. Each control goes person → hub → edge, is decided
there, and its one outcome comes back: the command of a held call does not
run (its file is not written) until the person lets it go, an injected
message reaches the model (the stand-in records every request), a cancel
ends the turn. Each test mirrors one of ``test_remote_steering_live.py``
(the same controls, one relay and no hub).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from conftest import CLAUDE_VERSIONS
from fleet_support import Fleet
from remote_steering_support import WAIT, Screen, Serve, start_claude
from standins.anthropic import ScriptedAnthropic
from test_remote_steering_live import NEWEST, pause_second_call, tool_result, two_writes
from waiting import until

from watchkeeper.adapters.remote.book import RemoteBook
from watchkeeper.breakpoints import Book, Rule
from watchkeeper.protocol import Event

pytestmark = pytest.mark.node


@pytest.fixture
def edge(fleet: Fleet) -> Serve:
    return fleet.start_edge("alpha")


@pytest.fixture
def screen(fleet: Fleet, edge: Serve) -> Iterator[Screen]:
    s = Screen(fleet.hub)
    yield s
    s.close()


def outcomes(stream: list[Event]) -> list[tuple[str, str, str]]:
    """(kind, control, control id) of every control outcome in a stream (not the hub's hold notices)."""
    return [(e["kind"], e["data"]["control"], e["data"]["control_id"]) for e in stream
            if e["kind"] in ("control.applied", "control.rejected") and e["data"].get("control_id")]


def one_outcome_each(fleet: Fleet, edge: Serve, screen: Screen, session: str) -> list[tuple[str, str]]:
    """Each control has exactly one outcome, the same on the edge, the hub and the person's screen."""
    on_edge = outcomes(edge.stream(session))
    assert len({cid for _, _, cid in on_edge}) == len(on_edge), on_edge
    until(lambda: outcomes(fleet.hub.stream(session)) == on_edge, what="the hub has the edge's outcomes, once",
          timeout=WAIT)
    until(lambda: outcomes(screen.events(session)) == on_edge, what="the screen has them, once", timeout=WAIT)
    return [(kind, control) for kind, control, _ in on_edge]


@pytest.mark.parametrize("version", CLAUDE_VERSIONS)
def test_pause_and_resume_with_ctl_at_the_hub_hold_the_next_call_on_the_edge(
        fleet: Fleet, edge: Serve, screen: Screen, version: str) -> None:
    cwd = fleet.tmp / "run" / "work"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(edge, version, api, fleet.tmp / "run") as proc:
            sid = proc.session_id
            api.wait_for_request("main", turn=1, timeout=WAIT)
            until(lambda: screen.sees(sid), what="the person at the hub follows the session")
            code, out = fleet.hub.ctl("pause", sid)
            assert code == 0 and out.startswith("applied: paused: the next tool call waits"), out
            release.set()
            (call,) = until(lambda: edge.held(sid), what="the second call is held on the edge")
            assert call == api.tool_use_ids()[1]
            waiting = until(lambda: screen.of(sid, "tool.waiting"), what="the hub's person sees the hold")
            assert waiting[0]["data"]["call_id"] == call and waiting[0]["data"]["reason"] == "paused"
            assert (cwd / "one.txt").exists() and not (cwd / "two.txt").exists() and proc.running
            assert [r.turn for r in api.requests_for("main")] == [0, 1], "the model heard nothing of the call"
            code, out = fleet.hub.ctl("resume", sid)
            assert code == 0 and out.startswith("applied"), out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n"
    assert one_outcome_each(fleet, edge, screen, sid) == [("control.applied", "pause"),
                                                          ("control.applied", "resume")]


def test_pause_from_the_screen_then_approve_with_ctl_naming_only_a_prefix(fleet: Fleet, edge: Serve,
                                                                          screen: Screen) -> None:
    cwd = fleet.tmp / "run" / "work"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(edge, NEWEST, api, fleet.tmp / "run") as proc:
            call = pause_second_call(edge, screen, api, proc.session_id, release)
            assert not (cwd / "two.txt").exists() and proc.running
            until(lambda: (r := fleet.row(proc.session_id)) is not None and [h["call_id"] for h in r["held"]]
                  == [call], what="the hub's listing shows the held call", timeout=WAIT)
            code, out = fleet.hub.ctl("approve", proc.session_id[:8])  # the call: the one the hub lists
            assert code == 0 and out.startswith(f"applied [{call}]: approved: the call runs"), out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n"
    assert [r.turn for r in api.requests_for("main")] == [0, 1, 2] and "denied" not in tool_result(api, call)
    assert one_outcome_each(fleet, edge, screen, proc.session_id) == [("control.applied", "pause"),
                                                                      ("control.applied", "approve")]


def test_step_at_the_hub_lets_one_call_through_then_cancel_ends_the_turn(fleet: Fleet, edge: Serve,
                                                                         screen: Screen) -> None:
    cwd = fleet.tmp / "run" / "work"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=0)
        with start_claude(edge, NEWEST, api, fleet.tmp / "run") as proc:
            sid = proc.session_id
            api.wait_for_request("main", turn=0, timeout=WAIT)
            until(lambda: screen.sees(sid), what="the person at the hub follows the session")
            assert screen.control(sid, "step")["kind"] == "control.applied"
            release.set()
            (first,) = until(lambda: edge.held(sid), what="the first call waits for a step on the edge")
            assert not (cwd / "one.txt").exists()
            stepped = screen.control(sid, "step", call_id=first)
            assert stepped["kind"] == "control.applied" and "next one waits" in stepped["data"]["reason"], stepped
            (second,) = until(lambda: [c for c in edge.held(sid) if c != first], what="the next call waits too")
            assert (cwd / "one.txt").read_text() == "one\n" and not (cwd / "two.txt").exists()
            code, out = fleet.hub.ctl("cancel", sid)
            assert code == 0 and out.startswith(f"applied [{second}]"), out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert not (cwd / "two.txt").exists()
    assert [r.turn for r in api.requests_for("main")] == [0, 1], "the cancel ended the turn: no third request"
    assert one_outcome_each(fleet, edge, screen, sid) == [("control.applied", "step"), ("control.applied", "step"),
                                                          ("control.applied", "cancel")]


def test_inject_at_the_hub_reaches_the_model_on_the_edge(fleet: Fleet, edge: Serve, screen: Screen) -> None:
    note = "Also say which files you wrote, from the hub"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(edge, NEWEST, api, fleet.tmp / "run") as proc:
            sid = proc.session_id
            api.wait_for_request("main", turn=1, timeout=WAIT)
            until(lambda: screen.sees(sid), what="the person at the hub follows the session")
            code, out = fleet.hub.ctl("inject", sid, note)
            assert code == 0 and out.startswith("applied"), out
            assert api.requests_containing(note) == []
            release.set()
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    carrying = api.requests_containing(note, route="main")
    assert carrying and carrying[0].turn == 2
    until(lambda: [e for e in screen.of(sid, "message.user") if e["data"].get("origin") == "injected"],
          what="the hub's person sees the injected message delivered")
    assert one_outcome_each(fleet, edge, screen, sid) == [("control.applied", "inject")]


def test_a_breakpoint_the_hubs_person_sets_for_the_edge_holds_a_call_there(fleet: Fleet, edge: Serve,
                                                                           screen: Screen) -> None:
    cwd = fleet.tmp / "run" / "work"
    until(lambda: "alpha" in fleet.hub_edges(), what="the edge is connected", timeout=WAIT)
    until(lambda: screen.attached.source._ws is not None, what="the screen is connected")
    book = RemoteBook(screen.attached.source, edge="alpha")
    assert book.request("add", rule=Rule("second file", pattern="two.txt")).result(WAIT) == "added «second file»"
    assert [r.name for r in Book.load(edge.home / "breakpoints.toml").rules] == ["second file"]
    assert book.path.startswith("edge alpha: ") and book.path.endswith(str(edge.home / "breakpoints.toml"))
    assert book.name == f"edge alpha (via {screen.attached.source.name})"
    assert not (fleet.hub.home / "breakpoints.toml").exists()
    with ScriptedAnthropic(two_writes()) as api, start_claude(edge, NEWEST, api, fleet.tmp / "run") as proc:
        (call,) = until(lambda: edge.held(proc.session_id), what="the edge's breakpoint holds the second call")
        waiting = until(lambda: screen.of(proc.session_id, "tool.waiting"), what="the hub's person sees it")
        assert (waiting[0]["data"]["reason"], waiting[0]["data"]["rule"]) == ("breakpoint", "second file")
        assert (cwd / "one.txt").exists() and not (cwd / "two.txt").exists()
        assert screen.control(proc.session_id, "approve", call_id=call)["kind"] == "control.applied"
        run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n"
    assert book.request("disable", name="second file").result(WAIT) == "disabled «second file»"
    assert [r.enabled for r in Book.load(edge.home / "breakpoints.toml").rules] == [False]
    assert book.request("remove", name="second file").result(WAIT) == "removed «second file»"
    assert Book.load(edge.home / "breakpoints.toml").rules == ()


@pytest.mark.parametrize("fail_closed", [False, True], ids=["fail-open", "fail-closed"])
def test_a_control_for_a_killed_edges_session_is_rejected_and_its_held_call_follows_the_policy(
        fleet: Fleet, edge: Serve, screen: Screen, fail_closed: bool) -> None:
    """The edge held the call; killed, it cannot decide it: Claude Code's hook fails and its policy decides."""
    cwd = fleet.tmp / "run" / "work"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(edge, NEWEST, api, fleet.tmp / "run",
                          run_args=("--fail-closed",) if fail_closed else ()) as proc:
            sid = proc.session_id
            call = pause_second_call(edge, screen, api, sid, release)
            os.kill(edge.proc.pid, signal.SIGKILL)
            edge.proc.wait(10)
            until(lambda: (r := fleet.row(sid)) is not None and r["state"] == "unreachable",
                  what="the hub shows the session unreachable", timeout=WAIT)
            outcome = screen.control(sid, "approve", call_id=call)
            assert outcome["kind"] == "control.rejected", outcome
            assert "edge alpha" in outcome["data"]["reason"] and "not connected to this hub" in \
                outcome["data"]["reason"], outcome
            assert proc.wait(60).returncode == 0
    assert (cwd / "one.txt").exists()
    assert (cwd / "two.txt").exists() is not fail_closed, "fail-open runs the held call, fail-closed denies it"
    stream = until(lambda: [o for o in outcomes(screen.events(sid)) if o[1] == "approve"] or None,
                   what="the screen has the rejection", timeout=WAIT)
    assert [kind for kind, _, _ in stream] == ["control.rejected"]
