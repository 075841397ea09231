"""The replay's own words under the pilot: the go-to dialog's prompt is read whole, and the status bar never
calls a recording live (the player bar says whether it plays)."""

from __future__ import annotations

import pytest
from conftest import CC_FIXTURES, SAMPLE_LOGS
from test_viewer_support import screen_text, status_text
from textual.widget import Widget
from textual.widgets import Label
from waiting import until_app

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.replay import first_session
from watchkeeper.relay import Relay
from watchkeeper.viewer.replay_app import ReplayApp
from watchkeeper.viewer.screens.replay import GoTo, ReplayScreen

SAMPLE = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"
#: 12 s of recording: at 1× it plays for many status refreshes.
SHOWCASE = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"


def text_in(app: ReplayApp, widget: Widget) -> str:
    """What the widget shows on screen, its lines joined by a space (a wrapped text reads whole again)."""
    x, y, width, height = widget.region
    lines = screen_text(app).splitlines()[y:y + height]
    return " ".join(line[x:x + width].strip() for line in lines).strip()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
async def test_the_go_to_prompt_is_whole_and_its_dialog_fits(size: tuple[int, int]) -> None:
    relay = Relay().start()
    relay.add_source(TranscriptSource(SAMPLE, follow=False))
    try:
        app = ReplayApp(relay, open_session=first_session(SAMPLE), paused=True, looked_in=[str(SAMPLE)])
        async with app.run_test(size=size) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.playhead.loaded)
            await pilot.press("g")
            dialog = await until_app(pilot, lambda: app.screen if isinstance(app.screen, GoTo) else None)
            await pilot.pause()
            label = dialog.query_one(Label)
            prompt = str(label.content)
            assert prompt.startswith("Go to") and "(1:30, 90s)" in prompt
            assert text_in(app, label) == prompt, screen_text(app)
            box = dialog.query_one("Vertical").region
            assert box.x >= 0 and box.right <= size[0]
    finally:
        relay.stop()


async def test_a_playing_replay_is_never_called_live() -> None:
    relay = Relay().start()
    relay.add_source(TranscriptSource(SHOWCASE, follow=False))
    try:
        app = ReplayApp(relay, open_session=first_session(SHOWCASE), looked_in=[str(SHOWCASE)])
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await until_app(pilot, lambda: app.screen if isinstance(app.screen, ReplayScreen) else None)
            playhead = screen.playhead
            seen: list[str] = []

            def status_while_playing() -> bool:
                if playhead.playing and "▶ playing" in screen.player.text and status_text(app):
                    seen.append(status_text(app))
                return len(seen) >= 10 and playhead.goal > 1

            await until_app(pilot, status_while_playing, seen=lambda: (seen[-3:], screen.player.text))
            assert not [s for s in seen if "live" in s], set(seen)
            assert all(s.startswith("○ ") for s in seen), set(seen)
    finally:
        relay.stop()
