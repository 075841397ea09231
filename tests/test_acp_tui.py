"""An ACP session in the viewer, with the real claude-agent-acp: the held request approved with ``y``, then
the agent, idle, prompted again from the inject dialog. Blocking waits run in threads; every wait is bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from acp_support import AcpRun, acp_binary
from standins.anthropic import ScriptedAnthropic, text, tool_use
from standins.claude import claude_env
from test_tui_steering import open_session, rows, type_text
from waiting import until_app

from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.inject import InjectDialog

pytestmark = [pytest.mark.node, pytest.mark.timeout(240)]


async def test_approve_then_prompt_the_idle_agent_again(tmp_path: Path) -> None:
    script = [[text("I will touch a file."), tool_use("Bash", {"command": "touch notes.txt"})], [text("All done.")],
              [text("Hello there.")]]
    with ScriptedAnthropic(script) as api:
        home, work = tmp_path / "home", tmp_path / "work"
        home.mkdir()
        work.mkdir()
        run = await asyncio.to_thread(AcpRun, [str(acp_binary("claude-agent-acp"))], claude_env(api, home), work,
                                      "make notes")
        try:
            app = WatchkeeperApp(run.relay, steer=SteerSetup())
            async with app.run_test(size=(120, 36)) as pilot:
                screen = await open_session(app, pilot, run.session)
                await until_app(pilot, lambda: any("waiting (permission)" in r for r in rows(screen)), timeout=90)
                await pilot.press("y")
                await until_app(pilot, lambda: any("All done." in r for r in rows(screen)), timeout=90)
                assert (work / "notes.txt").exists()
                await until_app(pilot, lambda: screen.timeline.store.session.state == "idle", timeout=90)
                await pilot.press("i")
                await until_app(pilot, lambda: isinstance(app.screen, InjectDialog))
                await type_text(pilot, "say hello")
                await pilot.press("ctrl+s")
                await until_app(pilot, lambda: any("Hello there." in r for r in rows(screen)), timeout=90)
                assert api.requests_containing("say hello", route="main")
        finally:
            await asyncio.to_thread(run.close)
