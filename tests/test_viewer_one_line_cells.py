"""Line breaks and tabs in a name stay inside its row: the timeline and the conversation view.

A tool named ``"Read\\n\\n\\t\\tSPOOFED"`` (a Claude ``tool_use``, a Codex ``function_call``) or a subagent
described with line breaks drew the rest of the name as a line of its own in the conversation view, and a
tab went to the terminal as a tab, moving the cursor over the next cells. Each is checked on what the app
draws (every line holding the name's tail also holds its head) and on what it writes (no tab).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_text_support import capturing, effects
from test_codex import SID, call, header, output
from test_viewer_support import ClaudeTranscript, Events, relay_with, screen_text
from waiting import until_app

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen

SIZE = (160, 40)
LF_NAME = "Read" + "\n" * 30 + "\t" * 6 + "SPOOFED LINE"
TAB_NAME = "Bash" + "\t" * 12 + "SPILL-INTO-DETAIL"
#: A line break the app did not write itself: Textual ends a line with one and then places the cursor.
DATA_LF = re.compile(r"\n(?!\x1b\[\d+;\d+H)")


def claude(path: Path) -> str:
    t = ClaudeTranscript(path / "s.jsonl")
    t.write(t.prompt("go"), t.tool_use("toolu_1", LF_NAME, {"file_path": "/etc/hosts"}), t.tool_result("toolu_1", "ok"),
            t.tool_use("toolu_2", TAB_NAME, {"command": "ls"}), t.tool_result("toolu_2", "ok"))
    return t.session


def codex(path: Path) -> str:
    lines = [*header("go"), call("c1", LF_NAME), output("c1", "ok"), call("c2", TAB_NAME), output("c2", "ok")]
    (path / f"rollout-2026-05-01T10-00-00-{SID}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return SID


def held_together(app: WatchkeeperApp, head: str, tail: str) -> bool:
    """Left of the detail pane (which wraps what it shows whole), ``tail`` is drawn, and only on lines that
    also show ``head`` before it (a line break that spills past the screen's last line fails ``screen_text``)."""
    left = (line.split("▏")[0] for line in screen_text(app).split("\n"))
    lines = [line for line in left if tail in line]
    return bool(lines) and all(head in line.split(tail)[0] for line in lines)


async def until_held(pilot: object, app: WatchkeeperApp, pairs: list[tuple[str, str]]) -> None:
    await until_app(pilot, lambda: all(held_together(app, h, t) for h, t in pairs), seen=lambda: screen_text(app))


@pytest.mark.parametrize("write", [claude, codex])
async def test_a_tool_name_with_line_breaks_and_tabs_stays_on_its_row(tmp_path: Path,
                                                                      write: Callable[[Path], str]) -> None:
    session = write(tmp_path)
    relay = Relay().start()
    relay.add_source(TranscriptSource(next(tmp_path.glob("*.jsonl")), follow=False))
    out: list[str] = []
    try:
        assert relay.drain(30)
        app = WatchkeeperApp(relay, open_session=session)
        app.driver_class = capturing(out)
        async with app.run_test(headless=False, size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            pairs = [("Read", "SPOOFED LINE"), ("Bash", "SPILL-INTO-DETAIL")]
            await until_held(pilot, app, pairs)
            for _ in range(len(app.screen.timeline.store.view)):
                await pilot.press("down")
                await pilot.pause()
            await pilot.press("v")
            await until_app(pilot, lambda: app.screen.conversation.display)
            await until_held(pilot, app, pairs)
    finally:
        relay.stop()
    written = "".join(out)
    assert effects(written) == [] and DATA_LF.findall(written) == []


async def test_a_subagent_described_on_several_lines_is_named_on_one() -> None:
    e = Events()
    events = [
        *e.started(),
        e.call_start("toolu_task", "Task", {"description": "x", "prompt": "y"}),
        e.ev("agent.started", {"agent_id": "sub1", "parent_call_id": "toolu_task",
                               "description": "Count\n\n\n\t\tSPOOFED DESCRIPTION", "agent_type": "Explore\n\tTYPE"}),
        e.ev("message.user", {"text": "sub prompt", "origin": "prompt"}, agent="sub1"),
        e.ev("message.assistant", {"text": "sub answer"}, agent="sub1"),
        e.ev("agent.finished", {"agent_id": "sub1", "status": "completed"}),
        e.call_end("toolu_task", "done"),
    ]
    relay = relay_with(events)
    out: list[str] = []
    try:
        app = WatchkeeperApp(relay, open_session=e.session)
        app.driver_class = capturing(out)
        async with app.run_test(headless=False, size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            await until_held(pilot, app, [("Count", "SPOOFED DESCRIPTION"), ("Explore", "TYPE")])
            await pilot.press("v")
            await until_app(pilot, lambda: app.screen.conversation.display)
            await until_held(pilot, app, [("Count", "SPOOFED DESCRIPTION")])
            assert "Prompt to Count SPOOFED DESCRIPTION" in screen_text(app)
    finally:
        relay.stop()
    written = "".join(out)
    assert effects(written) == [] and DATA_LF.findall(written) == []
