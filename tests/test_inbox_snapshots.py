"""Snapshots of the approvals inbox at 80×24 and 160×45 (``--snapshot-update`` rewrites them).

Three live hooked sessions hold calls for three reasons (a breakpoint with a
countdown, a permission prompt that is denied at expiry, a pause that waits for
the person, in a subagent), drawn with a fixed clock and time zone.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_tui_steering_snapshots import NOW, utc  # noqa: F401  (the fixture)
from test_tui_steering_unit import LiveHooked
from test_viewer_support import Events
from waiting import until_app

from watchkeeper.adapters.claude_code.hooks import STEERABLE
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.inbox import InboxScreen


def holding(session: str, title: str, call: str, name: str, input: dict[str, Any], agent: str = "main",
            **waiting: Any) -> list[Any]:
    e = Events(session)
    out = e.started(title)
    out[0]["data"]["capabilities"] = dict(STEERABLE)
    out += [e.call_start(call, name, input, agent),
            e.ev("tool.waiting", {"call_id": call, "name": name, "input": input, **waiting}, agent=agent,
                 id=f"tool:{call}:waiting")]
    return out


SESSIONS = [
    holding("s-build", "Clean the build directory before the release", "toolu_rm", "Bash",
            {"command": "rm -rf build dist *.egg-info"}, reason="breakpoint", why="breakpoint",
            rule="input contains rm -rf", since="2026-11-27T18:01:10.000Z",
            expires_at="2026-11-27T18:09:32.000Z", on_expiry="continue"),
    holding("s-deploy", "Deploy the site", "toolu_push", "Bash", {"command": "git push --force origin main"},
            reason="permission", why="permission", since="2026-11-27T18:02:00.000Z",
            expires_at="2026-11-27T18:05:40.000Z", on_expiry="deny"),
    holding("s-notes", "Write the release notes for version 2.4, with every change since 2.3 listed by area",
            "toolu_write", "Write", {"file_path": "/home/dev/project/docs/release-notes/2.4.md", "content": "…"},
            agent="a32f3ef23c1d", reason="paused", why="pause", since="2026-11-27T18:03:30.000Z"),
]


def inbox_app(sessions: list[list[Any]]) -> tuple[WatchkeeperApp, Relay, Any]:
    relay = Relay().start()
    for events in sessions:
        relay.add_source(LiveHooked(events))
    app = WatchkeeperApp(relay, clock=lambda: NOW)

    async def settle(pilot: Any) -> None:
        await until_app(pilot, lambda: len(app.sessions) == len(sessions)
                        and sum(len(i.held) for i in app.sessions) == len(sessions))
        await pilot.press("h")
        await until_app(pilot, lambda: isinstance(app.screen, InboxScreen) and len(app.screen.entries)
                        == len(sessions))
        await pilot.pause()

    return app, relay, settle


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_the_inbox(utc: None, snap_compare: Any, size: tuple[int, int]) -> None:  # noqa: F811
    app, relay, settle = inbox_app(SESSIONS)
    try:
        assert snap_compare(app, terminal_size=size, run_before=settle)
    finally:
        relay.stop()


def test_an_empty_inbox(utc: None, snap_compare: Any) -> None:  # noqa: F811
    app, relay, settle = inbox_app([])
    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=settle)
    finally:
        relay.stop()
