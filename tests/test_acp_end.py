"""The person ends one ACP session (``end``: ``ctl end``, E on its screen) while watchkeeper and its other
sessions go on: a held request is answered ``cancelled``, the agent is stopped (even one that outlives its stdin,
as claude-agent-acp does) and the session ends; nothing reaches it after. Real ACP source and relay, the scripted
agent writing the JSON-RPC by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from acp_support import alive, group
from test_acp_hostile import OPTIONS, answers, start

from watchkeeper.protocol.controls import ENDED_REASON

pytestmark = pytest.mark.timeout(120)


def scenario(tmp_path: Path, sid: str, *, ask: bool) -> dict[str, Any]:
    steps = [{"requests": [["session/request_permission", {
        "sessionId": sid, "options": OPTIONS,
        "toolCall": {"toolCallId": "c1", "title": "rm", "rawInput": {"command": "rm -rf build"}}}]]}] if ask else []
    return {"new": {"sessionId": sid}, "prompt": steps, "pid_to": str(tmp_path / "pid"), "on_eof": "stay"}


@pytest.mark.parametrize("held", [True, False], ids=["a-call-held", "idle"])
def test_end_answers_what_waits_stops_the_agent_and_ends_the_session(tmp_path: Path, held: bool) -> None:
    run, got = start(tmp_path, scenario(tmp_path, f"acp-end-{held}", ask=held))
    try:
        if held:
            run.held(1)
        else:
            run.idle_turns(1)
        pid = int(run.wait(lambda evs: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(), "its pid"))
        applied = run.control("end")
        assert applied["kind"] == "control.applied", applied
        assert applied["data"]["reason"].startswith("ending: the turn is cancelled and the agent stopped")
        (ended,) = run.wait(lambda evs: [e for e in evs if e["kind"] == "session.ended"], "the session's end")
        assert ended["data"]["reason"] == "done"
        run.wait(lambda evs: not alive(pid) and not group(pid), "the agent and its group gone")
        assert answers(got) == ([{"outcome": "cancelled"}] if held else [])
        later = run.control("inject", text="are you there?")
        assert later["kind"] == "control.rejected" and ENDED_REASON in later["data"]["reason"]
        info = run.relay.session(run.session)
        assert info is not None and not info.held
    finally:
        run.close()


def test_a_hooked_or_sdk_session_does_not_offer_end(tmp_path: Path) -> None:
    """Only an agent watchkeeper started and drives can be ended from here: the others say so."""
    run, _ = start(tmp_path, scenario(tmp_path, "acp-caps", ask=False))
    try:
        info = run.relay.session(run.session)
        assert info is not None and info.capabilities.get("end") is True
    finally:
        run.close()
    from watchkeeper.adapters.claude_code.hooks import STEERABLE as CLAUDE
    from watchkeeper.adapters.codex.hooks import STEERABLE as CODEX

    assert not CLAUDE.get("end") and not CODEX.get("end")


async def test_e_on_the_session_screen_asks_then_ends_it(tmp_path: Path) -> None:
    from test_acp_options import on_screen
    from waiting import until_app

    from watchkeeper.viewer.screens.confirm import Confirm

    async with on_screen(tmp_path, scenario(tmp_path, "acp-e", ask=True)) as (run, got, app, pilot):
        await pilot.press("E")
        await until_app(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("n")
        await until_app(pilot, lambda: not isinstance(app.screen, Confirm))
        assert not run.kinds("session.ended") and run.source.holds.pending, "n ends nothing"
        await pilot.press("E")
        await until_app(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await until_app(pilot, lambda: run.kinds("session.ended"), timeout=60)
    assert answers(got) == [{"outcome": "cancelled"}]
