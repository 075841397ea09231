"""A hostile Claude Code hook payload, held on a breakpoint, through the real hook endpoint to the screen.

The payload's cwd, tool name and input carry escape sequences and C1 and bidi
controls; the breakpoint rule's name does too. The call is held on the rule
(the app watches the session, so the hold takes); the person opens the
waiting session, looks at the controls and the deny dialog, and approves. The
agent's hook gets its answer, and the bytes the app wrote hold only Textual's
own sequences, with every hostile field shown escaped.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from pathlib import Path
from typing import Any

from hostile_text_support import capturing, effects, shown_text
from waiting import until_app

from watchkeeper.adapters.claude_code.steering import Policy
from watchkeeper.breakpoints import Book, Matcher, Rule, relay_facts
from watchkeeper.protocol.display import visible
from watchkeeper.relay import Relay
from watchkeeper.relay.servers.hookserver import serve_hooks
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.deny import DenyDialog
from watchkeeper.viewer.screens.session import SessionScreen

TOKEN = "hostile-test-token"
SID = "9f0c1e2d-0000-4000-8000-000000000009"
CWD = "/w/\x1b]0;CWD-TITLE\x07\u202eodd"
TOOL = "Bash\x1b]2;TOOL-TITLE\x1b\\"
COMMAND = "echo \x1b]52;c;T1dORUQ=\x07 OWNED \x9b2J \x1bP1$r\x1b\\"
RULE = "rule\x1b]8;;http://evil.example/\x1b\\x"
WAIT = 20.0


def hook(port: int, call: str, command: str) -> tuple[int, Any]:
    body = {"session_id": SID, "cwd": CWD, "hook_event_name": "PreToolUse", "tool_name": TOOL,
            "tool_input": {"command": command}, "tool_use_id": call}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/hook", body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


async def test_a_hostile_hook_payload_is_shown_escaped_and_decided(tmp_path: Path) -> None:
    relay = Relay().start()
    book = Book(tmp_path / "breakpoints.toml", [Rule(name=RULE, pattern="OWNED")])
    hooks = serve_hooks(relay, TOKEN, port=0, policy=Policy(hold_timeout=60),
                        breakpoint=Matcher(book, relay_facts(relay)))
    out: list[str] = []
    try:
        assert hooks.ready.wait(WAIT) and hooks.error is None
        app = WatchkeeperApp(relay, steer=SteerSetup(hooks_port=hooks.port, breakpoints=book))
        app.driver_class = capturing(out)
        async with app.run_test(headless=False, size=(160, 45), notifications=True) as pilot:
            # The first call announces the session (nobody watches it yet: it runs).
            assert await asyncio.to_thread(hook, hooks.port, "toolu_0", "ls") == (200, {})
            await until_app(pilot, lambda: SID in app.attention.watched, timeout=WAIT)
            held = asyncio.ensure_future(asyncio.to_thread(hook, hooks.port, "toolu_1", COMMAND))
            await until_app(pilot, lambda: app.attention.count == 1, timeout=WAIT)
            await pilot.press("w")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and bool(app.screen.steer.held),
                            timeout=WAIT)
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            await until_app(pilot, lambda: screen.why_not.get("approve") is None, timeout=WAIT)
            await pilot.press("end")
            await pilot.pause()
            await pilot.press("n")
            await until_app(pilot, lambda: isinstance(app.screen, DenyDialog))
            await pilot.pause()
            await pilot.press("escape")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            await pilot.press("y")
            status, answer = await asyncio.wait_for(held, WAIT)
    finally:
        relay.stop()
    assert status == 200 and answer["hookSpecificOutput"]["permissionDecision"] == "allow"
    written = "".join(out)
    for sequence in ("\x1b]0;", "\x1b]2;", "\x1b]8;", "\x1b]52;", "\x1bP", "\x1b[2J"):
        assert sequence not in written, f"{sequence!r} reached the terminal"
    assert effects(written) == []
    text = shown_text(written)
    for field in (CWD, TOOL, COMMAND, RULE):
        assert visible(field)[:16] in text, f"{visible(field)[:16]!r} not shown"
