"""Copy that helps: ``c`` copies a row's readable text, the palette the rest; the toast says the text was
*sent*, and under tmux whether it can arrive. The app's clipboard hook (``app.clipboard``, what Textual
sent as OSC 52) in the pilot; a real tmux for ``set-clipboard``."""

from __future__ import annotations

import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import SAMPLE_LOGS
from test_viewer_support import Events, Notices, relay_with, screen_text
from textual.pilot import Pilot
from tmux_support import Tmux, tmux_server
from waiting import until, until_app

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.clipboard import tmux_set_clipboard
from watchkeeper.viewer.screens.session import SessionScreen

SIZE = (120, 40)
SAMPLE = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"
BASH_OUTPUT = "Error: Exit code 1\nFAILED tests/test_app.py::test_total - TypeError"
ANSWER = "Two things:\n\n1. `total` skips None\n2. a test for it\n\tthat's all \x1b[201~ (pasted safely)"


@pytest.fixture(autouse=True)
def no_tmux(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pilot runs outside tmux whatever terminal runs the tests."""
    monkeypatch.delenv("TMUX", raising=False)


def session_events() -> list[dict]:
    ev = Events()
    return [
        *ev.started(),
        ev.ev("message.assistant", {"text": ANSWER}),
        *ev.call("toolu_bash", "Bash", {"command": "pytest -q tests/test_app.py", "description": "run"},
                 BASH_OUTPUT, "error"),
    ]


async def opened(app: WatchkeeperApp, pilot: Pilot[None], events: list[dict]) -> SessionScreen:
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                    and len(app.screen.timeline.store.events) == len(events))
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    return screen


async def select_kind(pilot: Pilot[None], screen: SessionScreen, kind: str) -> None:
    store = screen.timeline.store
    row = next(i for i, h in enumerate(store.view) if store.events[h]["kind"] == kind)
    await pilot.press("home", *["down"] * row)
    assert screen.timeline.cursor == row


async def palette(pilot: Pilot[None], title: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.press(*title)
    await until_app(pilot, lambda: title in screen_text(pilot.app))
    await pilot.press("enter")


async def test_c_copies_the_command_and_output_of_a_bash_call_and_says_it_was_sent() -> None:
    events = session_events()
    relay = relay_with(events)
    try:
        app = WatchkeeperApp(relay, open_session=events[0]["session"])
        async with app.run_test(size=SIZE) as pilot:
            screen = await opened(app, pilot, events)
            notices = Notices(app)
            await select_kind(pilot, screen, "tool.started")
            await pilot.press("c")
            assert app.clipboard == f"$ pytest -q tests/test_app.py\n{BASH_OUTPUT}"
            await until_app(pilot, lambda: notices)
            assert "sent to the terminal's clipboard" in notices.messages()[-1]
            assert "Copied" not in notices.messages()[-1] and "Write row text to a file" in notices.messages()[-1]

            await palette(pilot, "Copy output")
            await until_app(pilot, lambda: app.clipboard == BASH_OUTPUT)
            await palette(pilot, "Copy command")
            await until_app(pilot, lambda: app.clipboard == "pytest -q tests/test_app.py")
            await palette(pilot, "Copy as JSON lines")
            await until_app(pilot, lambda: app.clipboard.startswith("{"))
            copied = [orjson.loads(line) for line in app.clipboard.splitlines()]
            assert [e["id"] for e in copied] == ["tool:toolu_bash:started", "tool:toolu_bash:finished"]
    finally:
        relay.stop()


async def test_c_copies_an_answer_as_written_with_controls_made_visible_and_writes_it_to_a_file() -> None:
    events = session_events()
    relay = relay_with(events)
    try:
        app = WatchkeeperApp(relay, open_session=events[0]["session"])
        async with app.run_test(size=SIZE) as pilot:
            screen = await opened(app, pilot, events)
            notices = Notices(app)
            await select_kind(pilot, screen, "message.assistant")
            await pilot.press("c")
            assert app.clipboard == ANSWER.replace("\x1b", "␛"), "line breaks and tabs kept, ESC shown, not sent"

            await palette(pilot, "Write row text to a file")
            await until_app(pilot, lambda: any("Wrote the row's text" in m for m in notices.messages()))
            said = next(m for m in notices.messages() if "Wrote the row's text" in m)
            match = re.search(r" to (/\S+\.txt)$", said)
            assert match, said
            path = Path(match.group(1))
            try:
                assert path.read_text(encoding="utf-8") == app.clipboard, "the file holds exactly the copied text"
                assert stat.S_IMODE(path.stat().st_mode) == 0o600
            finally:
                path.unlink()
    finally:
        relay.stop()


def test_outside_tmux_set_clipboard_is_not_asked() -> None:
    assert tmux_set_clipboard({}) is None


def toast(screen: str) -> str:
    """The toasts' text, their lines joined: a toast is drawn right of a ``▌`` border."""
    return " ".join(" ".join(line.rsplit("▌", 1)[1].split()) for line in screen.splitlines() if "▌" in line)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("copy")


def test_under_tmux_a_copy_warns_when_set_clipboard_is_off_and_arrives_when_on(tmp_path: Path, tmux: Tmux) -> None:
    exe = Path(sys.executable).with_name("watchkeeper")
    command = f"env -u COLUMNS -u LINES HOME={tmp_path} {exe} replay {SAMPLE} --paused"
    tmux("new-session", "-d", "-s", "wk", "-x", "120", "-y", "40", command)
    tmux("resize-window", "-t", "wk", "-x", "120", "-y", "40")
    assert tmux("set", "-g", "set-clipboard", "off").returncode == 0
    tmux.wait_for(lambda s: "event 0 / " in s)
    tmux.keys("G")
    tmux.wait_for(lambda s: "■ ended" in s)
    tmux.keys("/")
    tmux.wait_for(lambda s: "search: text in rows" in s)
    tmux("send-keys", "-t", "wk", "-l", "echo hello")
    tmux.wait_for(lambda s: "1 of " in s)
    tmux.keys("Enter")
    # Keys typed ahead go where the focus is when the app reads them: "c" sent with the Enter could still land in
    # the search box. The footer shows the timeline's keys once it has the focus back.
    tmux.wait_for(lambda s: "q Quit" in s.rstrip().splitlines()[-1])
    tmux.keys("c")
    said = toast(tmux.wait_for(lambda s: "set-clipboard is off" in s))
    assert "will not reach the clipboard" in said and "sent to the terminal" not in said, said
    assert "Write row text to a file" in said
    assert tmux("list-buffers").stdout == "", "nothing reached tmux"

    bash = next(e for e in convert_file(SAMPLE) if e["kind"] == "tool.started" and e["data"]["name"] == "Bash")
    assert bash["data"]["input"]["command"] == "echo hello from bash && pwd"
    assert tmux("set", "-g", "set-clipboard", "on").returncode == 0
    tmux.keys("c")
    tmux.wait_for(lambda s: "sent to the terminal's clipboard" in toast(s))
    (buffer,) = until(lambda: (b,) if (b := tmux("show-buffer").stdout) else None, what="tmux to take the copy",
                      seen=lambda: tmux("list-buffers").stdout)
    assert buffer == "$ echo hello from bash && pwd\nhello from bash\n/home/dev/demo"
    tmux.keys("q")
    until(lambda: not tmux.alive(), what="q to quit the app", timeout=15, seen=tmux.screen, poll=0.2)
