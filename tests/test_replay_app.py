"""``watchkeeper replay`` under the pilot: real recordings played, paused, stepped, seeked and sped up.

The app is built as ``commands/replay.py`` builds it: a real relay converting
the file with a one-shot transcript source, and the replay app opened
straight into the session.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from conftest import CC_FIXTURES, SAMPLE_LOGS
from test_viewer_support import ClaudeTranscript, screen_text, status_text
from textual.binding import Binding
from textual.pilot import Pilot
from waiting import until_app

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.replay import first_session
from watchkeeper.relay import Relay
from watchkeeper.viewer.replay_app import ReplayApp
from watchkeeper.viewer.screens.replay import GoTo, ReplayScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen

SIZE = (120, 40)

Run = tuple[ReplayApp, Pilot[str | None], ReplayScreen]


@asynccontextmanager
async def replaying(path: Path, speed: float = 1.0, paused: bool = False) -> AsyncIterator[Run]:
    relay = Relay().start()
    relay.add_source(TranscriptSource(path, follow=False))
    try:
        app = ReplayApp(relay, open_session=first_session(path), speed=speed, paused=paused, looked_in=[str(path)])
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, ReplayScreen))
            screen = app.screen
            assert isinstance(screen, ReplayScreen)
            yield app, pilot, screen
    finally:
        relay.stop()


def on_screen(screen: ReplayScreen) -> Callable[[], bool]:
    """The timeline holds exactly the events up to the playhead."""
    return lambda: screen.playhead.shown == screen.playhead.goal == len(screen.timeline.store.events)


async def test_play_pause_step_seek_and_speed_on_a_session_with_subagents() -> None:
    path = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"
    total = len(list(convert_file(path)))
    async with replaying(path, speed=2.0) as (app, pilot, screen):
        playhead, timeline = screen.playhead, screen.timeline
        # Play: the first events are on screen at once, more follow with the recording's timing.
        await until_app(pilot, lambda: playhead.goal >= 1 and len(timeline.store.view) >= 1)
        await until_app(pilot, lambda: playhead.loaded and playhead.total == total)
        first = playhead.goal
        await until_app(pilot, lambda: playhead.goal > first)
        assert playhead.goal < total, "2× plays a 12 s recording for seconds, not at once"
        assert "▶ playing" in screen.player.text and "2×" in screen.player.text
        assert timeline.live and timeline.follow

        # Pause: the playhead holds.
        await pilot.press("space")
        assert not playhead.playing
        held = playhead.goal
        playhead.tick(time.monotonic() + 60)  # a minute passes: a paused playhead stays where it is
        await pilot.pause()
        assert playhead.goal == held and "⏸ paused" in screen.player.text
        await until_app(pilot, on_screen(screen))

        # Step forward and back, one event each; the newest row is selected.
        await pilot.press("full_stop")
        assert playhead.goal == held + 1
        await until_app(pilot, on_screen(screen))
        assert timeline.cursor == len(timeline.store.view) - 1
        assert f"event {held + 1} / {total} " in screen.player.text
        await pilot.press("comma", "comma")
        assert playhead.goal == held - 1
        await until_app(pilot, on_screen(screen))

        # Seek to 50%, forward and back by 10%, to the end, to the start, and to a typed position.
        tenth, half = round(total * 0.1), round(total * 0.5)
        await pilot.press("5")
        await until_app(pilot, lambda: on_screen(screen)() and playhead.goal == half)
        await pilot.press("greater_than_sign")
        assert playhead.goal == half + tenth
        await until_app(pilot, on_screen(screen))
        await pilot.press("less_than_sign", "less_than_sign")
        assert playhead.goal == half - tenth
        await until_app(pilot, on_screen(screen))
        await pilot.press("G")
        await until_app(pilot, lambda: on_screen(screen)() and playhead.goal == total)
        assert "Tour done: web renders columns" in screen_text(app) and "■ ended" in screen.player.text
        await pilot.press("0")
        await until_app(pilot, lambda: on_screen(screen)() and playhead.goal == 0)
        assert timeline.store.view == []
        await pilot.press("g")
        await until_app(pilot, lambda: isinstance(app.screen, GoTo))
        await pilot.press("1", "0", "enter")
        await until_app(pilot, lambda: isinstance(app.screen, ReplayScreen) and playhead.goal == 10)
        await until_app(pilot, on_screen(screen))

        # A filter survives going back.
        await pilot.press("slash", *"agent", "enter")
        await until_app(pilot, lambda: timeline.store.filter.text == "agent")
        await pilot.press("comma")
        await until_app(pilot, lambda: on_screen(screen)() and playhead.goal == 9)
        assert timeline.store.filter.text == "agent"
        await pilot.press("x")

        # Speed up while playing: it goes on playing, faster.
        await pilot.press("space")
        assert playhead.playing
        await pilot.press("right_square_bracket")
        assert playhead.speed == 5.0 and playhead.playing
        at = playhead.goal
        await until_app(pilot, lambda: playhead.goal > at)
        assert "5×" in screen.player.text
        await pilot.press("left_square_bracket", "minus")
        assert playhead.speed == 1.0 and playhead.playing
        await pilot.press("plus", "plus", "plus", "plus", "plus", "plus", "plus", "plus")
        assert playhead.speed == 0.0
        await until_app(pilot, lambda: playhead.ended and on_screen(screen)())
        assert "max" in screen.player.text

        # Space in the search box types a space; it does not play.
        assert not playhead.playing
        await pilot.press("slash", "a", "space", "b")
        assert screen.query_one("#search").value == "a b"  # type: ignore[attr-defined]
        assert not playhead.playing
        await pilot.press("escape", "escape")

        # The sessions list and back: the same replay, still where it was.
        await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("enter")
        await until_app(pilot, lambda: app.screen is screen)


@pytest.mark.parametrize("path", [
    SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl",
    SAMPLE_LOGS / "codex" / "rollout-reference.jsonl",
    SAMPLE_LOGS / "native" / "sdk-demo.jsonl",
], ids=["claude-code", "codex", "native"])
async def test_every_kind_of_file_replays_to_the_end_as_fast_as_possible(path: Path) -> None:
    events = list(convert_file(path))
    async with replaying(path, speed=0.0) as (app, pilot, screen):
        await until_app(pilot, lambda: screen.playhead.ended and on_screen(screen)())
        store = screen.timeline.store
        assert sorted(e["id"] for e in store.events) == sorted(e["id"] for e in events)
        assert f"event {len(events)} / {len(events)} " in screen.player.text
        tool_rows = [h for h in store.view if store.call_of(h) is not None]
        assert tool_rows
        await pilot.press("end")
        await pilot.pause()
        text = screen_text(app)
        assert " tool " in text and ("✓" in text or "✗" in text)
        if "claude-code" in str(path):
            started = [h for h in store.view if store.events[h]["kind"] == "agent.started"]
            assert len(started) == 1, "the subagent's own start and its parent's link make one row"


async def test_opens_paused_at_the_first_event_and_plays_from_there() -> None:
    path = SAMPLE_LOGS / "native" / "sdk-demo.jsonl"
    async with replaying(path, speed=1.0, paused=True) as (_app, pilot, screen):
        await until_app(pilot, lambda: screen.playhead.loaded)
        screen.playhead.tick(time.monotonic() + 60)  # a minute passes: it stays at the first event
        await pilot.pause()
        assert screen.playhead.goal == 0 and screen.timeline.store.events == []
        assert "⏸ paused" in screen.player.text
        await pilot.press("space")
        await until_app(pilot, lambda: screen.playhead.goal > 0 and len(screen.timeline.store.events) > 0)


async def test_a_summary_that_finds_the_replay_without_its_widgets_is_kept_for_when_they_are_drawn() -> None:
    """The app passes summaries to every kept screen: one not drawn yet, or one whose widgets the closing app
    has removed (a full run saw it: ``NoMatches`` for the player bar, and the app stopped with it); the
    playhead's timer may tick there too."""
    path = SAMPLE_LOGS / "native" / "sdk-demo.jsonl"
    async with replaying(path, paused=True) as (app, pilot, screen):
        await until_app(pilot, lambda: screen.playhead.loaded)
        info = app.session_info(screen.session_id)
        assert info is not None
        screen.playhead.loaded = False
        await screen.player.remove()
        screen.session_changed(info)
        assert screen.playhead.loaded
        screen._tick()  # what its timer calls 30 times a second, until the app has closed it


async def test_a_transcript_with_garbage_lines_replays_them_as_counted_raw_rows(tmp_path: Path) -> None:
    transcript = ClaudeTranscript(tmp_path / "22222222-2222-4333-8444-555555555555.jsonl",
                                  session="22222222-2222-4333-8444-555555555555")
    transcript.write(transcript.prompt("Try it"), "\x00\x01 binary junk", "[1, 2", '{"type": "mystery"}')
    transcript.bash_call(1)
    transcript.write("not json at all", '{"half": ')
    async with replaying(transcript.path, speed=0.0) as (app, pilot, screen):
        await until_app(pilot, lambda: screen.playhead.ended and on_screen(screen)())
        store = screen.timeline.store
        raws = [e for e in store.events if e["kind"] == "raw"]
        assert len(raws) >= 4 and store.session.raw == len(raws)
        await until_app(pilot, lambda: f"{len(raws)} raw" in status_text(app))
        await pilot.press("e")
        await until_app(pilot, lambda: store.filter.errors and len(store.view) >= len(raws))
        text = screen_text(app)
        assert sum(" raw " in line and "not JSON" in line for line in text.splitlines()) >= 4
        assert '{"half":' in text  # the selected raw row's own line, in the detail pane
        # Back to the start and through it again, a step at a time: nothing raises.
        await pilot.press("0")
        for _ in range(len(screen.playhead.events)):
            await pilot.press("full_stop")
        await until_app(pilot, lambda: on_screen(screen)() and screen.playhead.ended)
        assert screen.timeline.store.session.raw == len(raws)


async def test_z_collapses_a_subagent_since_space_plays() -> None:
    path = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"
    async with replaying(path, speed=0.0) as (app, pilot, screen):
        await until_app(pilot, lambda: screen.playhead.ended and on_screen(screen)())
        store, timeline = screen.timeline.store, screen.timeline
        everything = len(store.view)
        row = next(i for i, h in enumerate(store.view) if (c := store.call_of(h)) is not None and c.name == "Agent")
        await pilot.press("home", *["down"] * row)
        assert timeline.cursor == row
        await pilot.press("z")
        await until_app(pilot, lambda: len(screen.timeline.store.view) < everything)
        assert "▸ subagent" in screen_text(app)
        assert not screen.playhead.playing


async def test_a_replay_has_the_player_keys_and_no_steering_keys() -> None:
    path = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"
    async with replaying(path, paused=True) as (_, _, screen):
        actions = {active.binding.action for active in screen.active_bindings.values()}
        assert {"toggle_play", "step(1)", "go_to", "search", "errors"} <= actions
        # Not hidden: never declared, by the replay or a screen it builds on.
        declared = [b for cls in type(screen).__mro__ for b in vars(cls).get("BINDINGS", ())]
        assert declared and [b for b in declared if isinstance(b, Binding) and b.action.startswith("steer_")] == []
        assert not [name for name in dir(screen) if name.startswith("action_steer_")]
        assert not screen.query("Controls") and screen.query_one("#player")
