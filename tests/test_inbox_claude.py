"""The inbox and the alert command on a real Claude Code session, held by a breakpoint at its hook.

The real CLI (through ``watchkeeper run``) against the scripted Messages API,
the real hook endpoint on loopback, the app under the pilot: the breakpoint
holds ``rm -rf build``, the configured command announces it, the inbox lists it
with its countdown (the hook's hold timeout), and **n** denies it with a reason
that the model is sent in place of the tool's result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from standins.anthropic import ScriptedAnthropic, text, tool_use
from test_notify import Recorder
from test_steering_live import NEWEST, Watchkeeper, running_watchkeeper, start_run
from test_viewer_support import screen_text
from waiting import until_app

from watchkeeper.breakpoints import Book, Matcher, Rule, relay_facts
from watchkeeper.relay.notify import start_notifier
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.deny import DenyDialog
from watchkeeper.viewer.screens.inbox import InboxScreen

pytestmark = pytest.mark.node


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    yield from running_watchkeeper(tmp_path, monkeypatch)


async def test_a_breakpoint_hold_is_announced_listed_and_denied_from_the_inbox(wk: Watchkeeper,
                                                                               tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    (cwd / "build").mkdir(parents=True)
    reason = "keep build, it has the signed artefacts"
    book = Book(tmp_path / "breakpoints.toml")
    book.add(Rule("rm -rf", pattern="rm -rf"))
    wk.hooks.steering.breakpoint = Matcher(book, relay_facts(wk.relay))
    rec = Recorder(tmp_path)
    alerts, problem = start_notifier(wk.relay, rec.argv("{tool}", "{summary}", "{why}", "{expiry}"))
    assert alerts is not None and problem is None
    script = [[tool_use("Bash", {"command": "rm -rf build", "description": "clean"})], [text("done")]]
    try:
        with ScriptedAnthropic(script) as api, start_run(wk, NEWEST, api, tmp_path) as proc:
            app = WatchkeeperApp(wk.relay, steer=SteerSetup(hooks_port=wk.hooks.port, breakpoints=book))
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.press("h")
                inbox = await until_app(pilot, lambda: app.screen if isinstance(app.screen, InboxScreen) else None)
                await until_app(pilot, lambda: len(inbox.entries) == 1, timeout=90, seen=lambda: screen_text(app))
                call = inbox.entries[0].call
                assert (call.name, call.why, call.rule, call.on_expiry) == ("Bash", "breakpoint", "rm -rf", "continue")
                await until_app(pilot, lambda: "breakpoint «rm -rf» · goes on under the agent's own rules in 0:"
                                in screen_text(app), seen=lambda: screen_text(app))
                run = (await asyncio.to_thread(rec.until_runs, 1))[0]
                assert run["argv"][:3] == ["Bash", "rm -rf build", "breakpoint «rm -rf»"]
                assert run["argv"][3] == f"goes on under the agent's own rules at {call.expires_at}"
                assert (cwd / "build").is_dir()

                await pilot.press("n")
                await until_app(pilot, lambda: isinstance(app.screen, DenyDialog))
                await pilot.press(*("space" if c == " " else c for c in reason))
                await pilot.press("enter")
                await until_app(pilot, lambda: not inbox.entries)
                await until_app(pilot, lambda: "✓ deny  Bash rm -rf build — denied" in screen_text(app),
                                seen=lambda: screen_text(app))
                done = await asyncio.to_thread(proc.wait, 60)
    finally:
        alerts.close()
    assert done.returncode == 0, done.stderr
    assert (cwd / "build").is_dir()
    result = api.tool_result(call.call_id)
    assert result is not None and reason in str(result["content"])
