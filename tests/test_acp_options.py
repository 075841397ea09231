"""An ACP agent that offers no plain answer (only "always" options, say): the person sees the agent's own options
and picks one, in the session screen and in the inbox; ``sessions --json`` lists them. Real ACP source, real
relay, the viewer under its pilot, the scripted agent writing the JSON-RPC by hand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from acp_support import AcpRun
from test_acp_hostile import answers, start
from test_tui_steering import open_session
from textual.pilot import Pilot
from textual.widgets import OptionList
from waiting import until_app

from watchkeeper.protocol.listing import held_call
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.deny import DenyDialog
from watchkeeper.viewer.screens.inbox import InboxScreen
from watchkeeper.viewer.screens.picker import Picker

pytestmark = pytest.mark.timeout(120)

ALWAYS_ONLY = [{"optionId": "aa", "name": "Always allow", "kind": "allow_always"},
               {"optionId": "rr", "name": "Never", "kind": "reject_always"}]


class OnScreen(NamedTuple):
    run: AcpRun
    answers: Path
    app: WatchkeeperApp
    pilot: Pilot[Any]


@contextlib.asynccontextmanager
async def on_screen(tmp_path: Path, scenario: dict[str, Any]) -> AsyncIterator[OnScreen]:
    """The scripted agent's session, once a call is held, open in the viewer under its pilot."""
    run, got = await asyncio.to_thread(start, tmp_path, scenario)
    try:
        await asyncio.to_thread(run.held, 1)
        app = WatchkeeperApp(run.relay, steer=SteerSetup())
        async with app.run_test(size=(100, 30)) as pilot:
            await open_session(app, pilot, run.session)
            yield OnScreen(run, got, app, pilot)
    finally:
        await asyncio.to_thread(run.close)


def asking(sid: str, options: list[dict[str, str]]) -> dict[str, Any]:
    ask = {"sessionId": sid, "options": options,
           "toolCall": {"toolCallId": "c1", "title": "rm", "rawInput": {"command": "rm -rf build"}}}
    return {"new": {"sessionId": sid}, "prompt": [{"requests": [["session/request_permission", ask]]}]}


def test_the_agents_options_travel_with_the_held_call(tmp_path: Path) -> None:
    run, _ = start(tmp_path, asking("acp-list", ALWAYS_ONLY))
    try:
        (held,) = run.held(1)
        listed = held_call(held)["options"]
        assert listed == [{"id": "aa", "name": "Always allow", "kind": "allow_always"},
                          {"id": "rr", "name": "Never", "kind": "reject_always"}]
    finally:
        run.close()


@pytest.mark.parametrize("where", ["session", "inbox"])
async def test_deny_with_no_reject_once_lets_the_person_pick_the_agents_own_option(tmp_path: Path,
                                                                                   where: str) -> None:
    """``n`` was refused ("the agent offers no reject_once option") and nothing else on screen could deny."""
    async with on_screen(tmp_path, asking("acp-pick", ALWAYS_ONLY)) as (_, got, app, pilot):
        if where == "inbox":
            await pilot.press("h")
            await until_app(pilot, lambda: isinstance(app.screen, InboxScreen) and app.screen.selected is not None)
        await pilot.press("n")
        await until_app(pilot, lambda: isinstance(app.screen, Picker))
        shown = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert shown == ["Never  (reject_always)"], "only what fits a deny, as the agent names it"
        await pilot.press("enter")
        await until_app(pilot, lambda: isinstance(app.screen, DenyDialog))
        await pilot.press("enter")
        await until_app(pilot, lambda: answers(got) != [], timeout=30)
    assert answers(got) == [{"outcome": "selected", "optionId": "rr"}]


async def test_approve_with_no_allow_once_sends_always_only_when_picked(tmp_path: Path) -> None:
    async with on_screen(tmp_path, asking("acp-pick-y", ALWAYS_ONLY)) as (run, got, app, pilot):
        await pilot.press("y")
        await until_app(pilot, lambda: isinstance(app.screen, Picker))
        await pilot.press("escape")
        await until_app(pilot, lambda: not isinstance(app.screen, Picker))
        assert answers(got) == [] and run.source.holds.pending, "escape sends nothing"
        await pilot.press("y")
        await until_app(pilot, lambda: isinstance(app.screen, Picker))
        await pilot.press("enter")
        await until_app(pilot, lambda: answers(got) != [], timeout=30)
    assert answers(got) == [{"outcome": "selected", "optionId": "aa"}]


async def test_a_deny_left_empty_sends_no_prompt_of_its_own(tmp_path: Path) -> None:
    """The deny dialog filled in "Denied by the user in watchkeeper", which an ACP session sent as the agent's next
    prompt: a whole extra turn for a reason nobody gave."""
    plain = [{"optionId": "yes", "name": "Allow", "kind": "allow_once"},
             {"optionId": "no", "name": "Reject", "kind": "reject_once"}]
    async with on_screen(tmp_path, asking("acp-empty", plain)) as (run, got, app, pilot):
        await pilot.press("n")
        dialog = await until_app(pilot, lambda: app.screen if isinstance(app.screen, DenyDialog) else None)
        assert "the agent is told only that you refused" in str(dialog.query_one(".dialog-note").render())
        await pilot.press("enter")
        await until_app(pilot, lambda: answers(got) != [], timeout=30)
        await asyncio.to_thread(run.idle_turns, 1)
        assert answers(got) == [{"outcome": "selected", "optionId": "no"}]
        assert len(run.kinds("message.user")) == 1, "only the first prompt: no reason was sent as another"
        (applied,) = [e for e in run.kinds("control.applied") if e["data"]["control"] == "deny"]
        assert "denied (reject_once)" in applied["data"]["reason"]
