"""Edges and a hub with the real Claude Code CLI (``watchkeeper run --``) against the Messages stand-in.

Two edges (``serve --upstream``, separate processes and config directories)
each run a real Claude Code session; the person attaches to the hub only. A
deny sent at the hub reaches the call held by an edge's hook endpoint: the
command never runs and the model reads the reason.
"""

from __future__ import annotations

import pytest
from fleet_support import Fleet
from remote_steering_support import WAIT, Screen, start_claude
from standins.anthropic import ScriptedAnthropic, text
from test_remote_steering_live import NEWEST, pause_second_call, tool_result, two_writes
from waiting import until

pytestmark = pytest.mark.node


def test_a_deny_at_the_hub_stops_a_real_call_on_an_edge_and_the_model_reads_why(fleet: Fleet) -> None:
    alpha, beta = fleet.start_edge("alpha"), fleet.start_edge("beta")
    screen = Screen(fleet.hub)
    try:
        with ScriptedAnthropic([[text("all done")]]) as api, \
                start_claude(beta, NEWEST, api, fleet.tmp / "beta-run") as other:
            assert other.wait(60).returncode == 0
        reason = "Denied at the hub: not on the build machine"
        cwd = fleet.tmp / "alpha-run" / "work"
        with ScriptedAnthropic(two_writes()) as api:
            release = api.hold(turn=1)
            with start_claude(alpha, NEWEST, api, fleet.tmp / "alpha-run") as proc:
                call = pause_second_call(alpha, screen, api, proc.session_id, release)
                outcome = screen.control(proc.session_id, "deny", call_id=call, reason=reason)
                assert outcome["kind"] == "control.applied" and outcome["data"]["call_id"] == call, outcome
                run = proc.wait(60)
        assert run.returncode == 0, run.stderr
        assert not (cwd / "two.txt").exists() and (cwd / "one.txt").exists()
        assert reason in tool_result(api, call)
        finished = until(lambda: [e for e in screen.of(proc.session_id, "tool.finished")
                                  if e["data"]["call_id"] == call], what="the hub shows the denied call")
        assert finished[0]["data"]["status"] == "denied"
        rows = {r["id"]: r for r in until(fleet.listing, what="the hub's listing", timeout=WAIT)}
        assert rows[proc.session_id]["origin"]["edge"] == "alpha"
        assert rows[other.session_id]["origin"]["edge"] == "beta"
        assert screen.sees(other.session_id)
    finally:
        screen.close()
