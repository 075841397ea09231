"""Help texts in the command palette read as written: a session's ``capabilities.why`` is data, not markup.

Textual reads a hit's help string as markup; ``textual.markup.escape`` leaves a ``[$variable]`` tag to
style the rest of the line and doubles a backslash before a bracket. The palette's steering commands say
why a control is unavailable in the session's own words, so those words are drawn exactly as sent.
"""

from __future__ import annotations

from hostile_text_support import LiveSource
from test_viewer_support import Events, screen_text
from textual.command import CommandPalette
from waiting import until_app

from watchkeeper.protocol.envelope import now_iso
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen

WHY = r"WHY [$text-error]RED?[/] [$block-cursor-background]X[/] C:\[path] [b]b[/b] END"
CAPS = {name: False for name in ("pause", "resume", "approve", "deny", "inject", "cancel", "step")}


async def test_a_sessions_why_is_shown_in_the_palette_as_written() -> None:
    e = Events()
    started = e.ev("session.started", {"agent_kind": "sdk", "title": "t", "cwd": "/w",
                                       "capabilities": {**CAPS, "why": WHY}})
    running = e.ev("state", {"state": "running", "reason": None})
    started["ts"] = running["ts"] = now_iso()  # written just now: the session is live, its controls listed
    relay = Relay().start()
    relay.add_source(LiveSource("why", [started, running]))
    try:
        app = WatchkeeperApp(relay, open_session=e.session)
        async with app.run_test(size=(160, 40)) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.why_not)
            await pilot.press("ctrl+p")
            await until_app(pilot, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*"steer: pause")
            await until_app(pilot, lambda: f"Unavailable: {WHY}" in screen_text(app), seen=lambda: screen_text(app))
    finally:
        relay.stop()
