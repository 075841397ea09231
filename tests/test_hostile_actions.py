"""What the person does with hostile rows: click them, copy them, write them to a file.

A title written as Rich markup (``[@click=app.quit]x[/]``) is text: clicking it
opens the session, it does not quit. Copy puts the row on the clipboard with
the screen's visible escapes (a copied ``ESC[201~`` would end the person's
bracketed paste and run the rest); the raw bytes go only to a file, on request.
"""

from __future__ import annotations

import base64
import re
import stat
import tempfile
from pathlib import Path

import orjson
import pytest
from hostile_text_support import capturing
from test_viewer_support import Events, Notices, relay_with
from textual.widgets import DataTable
from waiting import until_app

from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen

SIZE = (140, 30)
TITLE = "[@click=app.quit]x[/] and [/src]"
PASTE = "harmless \x1b[201~ rm -rf ~ \x1b[200~ \x9b201~"


def hostile_session() -> list[dict[str, object]]:
    e = Events()
    return [*e.started(TITLE), e.ev("message.user", {"text": PASTE, "origin": "prompt"})]


async def test_a_markup_title_is_text_and_a_click_on_it_opens_the_session() -> None:
    relay = relay_with(hostile_session())
    try:
        app = WatchkeeperApp(relay)
        async with app.run_test(size=SIZE) as pilot:
            sessions = app.screen
            assert isinstance(sessions, SessionsScreen)
            table = sessions.query_one(DataTable)
            await until_app(pilot, lambda: table.row_count == 1)
            # The title column's first characters: where markup would have put a live "x".
            x = sum(c.get_render_width(table) for c in list(table.columns.values())[:2]) + 1
            await pilot.click(DataTable, offset=(x, 1), times=2)
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) or not app.is_running)
            assert app.is_running and app.return_code is None
            assert str(table.get_cell_at((0, 2))) == TITLE
    finally:
        relay.stop()


async def open_the_row(app: WatchkeeperApp, pilot: object) -> SessionScreen:
    await until_app(pilot, lambda: bool(app.sessions))
    await pilot.press("enter")  # type: ignore[attr-defined]
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    await until_app(pilot, lambda: len(screen.timeline.store.events) == 3)
    await pilot.press("end")  # type: ignore[attr-defined]
    await until_app(pilot, lambda: screen.timeline.selected_head is not None
                and screen.timeline.store.events[screen.timeline.selected_head]["kind"] == "message.user")
    return screen


async def test_copy_puts_visible_escapes_on_the_clipboard() -> None:
    relay = relay_with(hostile_session())
    out: list[str] = []
    try:
        app = WatchkeeperApp(relay)
        app.driver_class = capturing(out)
        async with app.run_test(headless=False, size=SIZE) as pilot:
            await open_the_row(app, pilot)
            await pilot.press("c")
            await until_app(pilot, lambda: "\x1b]52;c;" in "".join(out))
    finally:
        relay.stop()
    payloads = re.findall(r"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07", "".join(out))
    assert len(payloads) == 1
    copied = base64.b64decode(payloads[0]).decode()
    assert copied == app.clipboard
    assert "\x1b" not in copied and "\x9b" not in copied
    assert copied.strip() == "harmless ␛[201~ rm -rf ~ ␛[200~ ⟨U+009B⟩201~", "the message's readable text"


async def test_write_raw_puts_the_bytes_as_received_in_a_private_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    events = hostile_session()
    relay = relay_with(events)
    try:
        app = WatchkeeperApp(relay)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            notices = Notices(app)
            await open_the_row(app, pilot)
            await pilot.press("W")
            await until_app(pilot, lambda: any(tmp_path.glob("watchkeeper-row-*.jsonl")))
            written = next(tmp_path.glob("watchkeeper-row-*.jsonl"))
            await until_app(pilot, lambda: any(str(written) in m for m in notices.messages()))
    finally:
        relay.stop()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    (row,) = [orjson.loads(line) for line in written.read_bytes().splitlines()]
    assert row["data"]["text"] == PASTE
    assert row["id"] == events[-1]["id"]
