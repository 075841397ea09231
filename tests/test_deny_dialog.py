"""The deny dialog under the pilot, at the narrowest and a wide terminal: nothing it says is cut, the
reason the agent reads when the box is left empty included."""

from __future__ import annotations

import pytest
from test_viewer_support import screen_text
from textual.app import App
from textual.widget import Widget
from textual.widgets import Input
from waiting import until_app

from watchkeeper.protocol.controls import DEFAULT_DENY_REASON
from watchkeeper.protocol.kinds import HoldWhy
from watchkeeper.protocol.session import Held
from watchkeeper.viewer.screens.deny import DenyDialog

CALL = Held("call-1", "Bash", {"command": "pytest -q tests/test_total.py"}, None, None, why=HoldWhy.APPROVAL)


def text_in(app: App[None], widget: Widget) -> str:
    """What the widget shows on screen, its lines joined by a space (a wrapped text reads whole again)."""
    x, y, width, height = widget.content_region
    lines = screen_text(app).splitlines()[y:y + height]
    return " ".join(line[x:x + width].strip() for line in lines).strip()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
async def test_the_deny_dialog_says_everything_in_full(size: tuple[int, int]) -> None:
    denied: list[str | None] = []
    app: App[None] = App()
    async with app.run_test(size=size) as pilot:
        app.push_screen(DenyDialog(CALL), denied.append)
        dialog = await until_app(pilot, lambda: app.screen if isinstance(app.screen, DenyDialog) else None)
        reason = await until_app(pilot, lambda: f if isinstance(f := app.focused, Input) and f.size.width else None)
        assert reason.id == "reason"
        await pilot.pause()

        assert reason.placeholder and len(reason.placeholder) < reason.content_size.width
        assert text_in(app, reason) == reason.placeholder, screen_text(app)
        note = text_in(app, dialog.query_one(".dialog-note"))
        assert note.endswith(f"what to do next. Left empty, the agent reads “{DEFAULT_DENY_REASON}”."), screen_text(app)

        await pilot.press("enter")
        await until_app(pilot, lambda: denied == [""])
