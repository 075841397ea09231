"""The app under the pilot, fed by the real relay: sessions, timeline, detail, filters, follow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from test_viewer_support import SESSION, ClaudeTranscript, Events, relay_with, screen_text, status_text, ts
from textual.pilot import Pilot
from waiting import until_app

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.protocol.envelope import parse_ts
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.confirm import Confirm
from watchkeeper.viewer.screens.help import HelpScreen
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen
from watchkeeper.viewer.widgets.detail_pane import DetailPane
from watchkeeper.viewer.widgets.timeline import Timeline

SIZE = (120, 40)


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = relay_with(Events().whole_session())
    yield relay
    relay.stop()


def detail_text(app: WatchkeeperApp) -> str:
    console = Console(width=100, record=True, color_system=None)
    console.print(app.screen.query_one(DetailPane).renderable())
    return console.export_text()


async def open_first(app: WatchkeeperApp, pilot: Pilot[str | None]) -> SessionScreen:
    await until_app(pilot, lambda: bool(app.sessions))
    await pilot.press("enter")
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    await until_app(pilot, lambda: len(screen.timeline.store.events) == screen.info.events)  # type: ignore[union-attr]
    await pilot.pause()
    return screen


async def select(pilot: Pilot[str | None], screen: SessionScreen, tool: str) -> None:
    store = screen.timeline.store
    row = next(i for i, h in enumerate(store.view) if (c := store.call_of(h)) is not None and c.name == tool)
    await pilot.press("home", *["down"] * row)
    assert screen.timeline.cursor == row


async def test_sessions_screen_lists_and_opens_a_session(relay: Relay) -> None:
    app = WatchkeeperApp(relay)
    async with app.run_test(size=SIZE) as pilot:
        await until_app(pilot, lambda: "Fix the failing test" in screen_text(app))
        assert isinstance(app.screen, SessionsScreen)
        assert "claude-code" in screen_text(app) and "/home/dev/project" in screen_text(app)
        screen = await open_first(app, pilot)
        assert screen.session_id == SESSION
        text = screen_text(app)
        assert "Bash  pytest -q tests/test_app.py" in text and "✗ error 2.3s" in text
        assert "┆ Glob  **/*.py" in text
        count = len(Events().whole_session())
        await until_app(pilot, lambda: f"{count} events" in status_text(app))
        status = status_text(app)
        assert "in 2,000 out 120" in status and "$0.0200" in status and "1 raw" in status
        assert "⊘ observe-only" in status and status.count("observe-only") == 1
        await pilot.press("escape")
        await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))


async def test_cursor_moves_and_the_detail_pane_follows(relay: Relay) -> None:
    app = WatchkeeperApp(relay)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(app, pilot)
        timeline = screen.timeline
        assert timeline.cursor == 0 and not timeline.follow
        await pilot.press("down", "down", "down")
        assert timeline.cursor == 3
        await pilot.press("up")
        assert timeline.cursor == 2
        await pilot.press("end")
        assert timeline.cursor == len(timeline.store.view) - 1
        await pilot.press("home")
        assert timeline.cursor == 0

        await select(pilot, screen, "Bash")
        await pilot.pause()
        text = detail_text(app)
        assert "pytest -q tests/test_app.py" in text and "FAILED tests/test_app.py::test_total" in text

        await select(pilot, screen, "Edit")
        await pilot.pause()
        text = detail_text(app)
        assert "-    return sum(xs)" in text and "+    return sum(x for x in xs if x is not None)" in text

        await pilot.click(Timeline, offset=(20, 3))
        assert timeline.cursor == 3

        await select(pilot, screen, "Edit")
        await pilot.press("c")
        assert app.clipboard.splitlines()[0] == "Edit /home/dev/project/app.py", "c copies the readable text"
        assert "+    return sum(x for x in xs if x is not None)" in app.clipboard
        screen.action_copy_part("JSON lines")
        copied = [orjson.loads(line) for line in app.clipboard.splitlines()]
        assert [e["id"] for e in copied] == ["tool:toolu_edit:started", "tool:toolu_edit:finished"]


async def test_errors_only_search_and_pickers(relay: Relay) -> None:
    app = WatchkeeperApp(relay)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(app, pilot)
        timeline = screen.timeline
        everything = len(timeline.store.view)

        await pilot.press("e")
        await app.workers.wait_for_complete()
        await until_app(pilot, lambda: len(timeline.store.view) == 2)
        assert "filter: errors only — 2 of" in screen_text(app)
        await pilot.press("e")
        await until_app(pilot, lambda: len(timeline.store.view) == everything)

        await pilot.press("slash")
        await pilot.press(*"glob")
        await app.workers.wait_for_complete()
        await until_app(pilot, lambda: len(timeline.store.view) == 1)
        assert "Glob  **/*.py" in screen_text(app)
        await pilot.press("enter")
        assert timeline.has_focus
        await pilot.press("x")
        await until_app(pilot, lambda: len(timeline.store.view) == everything)

        await pilot.press("t")
        await until_app(pilot, lambda: "Only calls of the tool" in screen_text(app))
        await pilot.press("down", "down", "enter")  # (any), then tools by count: the second
        await app.workers.wait_for_complete()
        await until_app(pilot, lambda: len(timeline.store.view) == 1)
        assert screen.filter.tool is not None and f"tool={screen.filter.tool}" in screen_text(app)


async def test_collapse_a_subagent_and_use_the_palette(relay: Relay) -> None:
    app = WatchkeeperApp(relay)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(app, pilot)
        timeline = screen.timeline
        everything = len(timeline.store.view)
        await select(pilot, screen, "Task")
        await pilot.press("z")
        await until_app(pilot, lambda: len(timeline.store.view) == everything - 5)
        assert "▸ subagent (5)" in screen_text(app)

        await pilot.press("ctrl+p")
        await pilot.press(*"errors only")
        await until_app(pilot, lambda: "Errors only" in screen_text(app))
        await pilot.press("enter")
        await until_app(pilot, lambda: screen.filter.errors and len(timeline.store.view) == 2)

        await pilot.press("question_mark")
        await until_app(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("question_mark")
        await until_app(pilot, lambda: app.screen is screen)


async def test_no_sessions_says_where_it_looked_and_offers_the_demo(tmp_path: Path) -> None:
    relay = Relay().start()
    try:
        app = WatchkeeperApp(relay, looked_in=[str(tmp_path / "claude"), str(tmp_path / "codex")])
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: "No agent sessions found" in screen_text(app))
            text = screen_text(app)
            assert str(tmp_path / "claude") in text and str(tmp_path / "codex") in text
            assert "watchkeeper demo" in text and "Ctrl+P, then Demo" in text
            # No single key leaves the watch: d does nothing here, the palette's Demo asks first.
            await pilot.press("d")
            await pilot.press("ctrl+p", *"demo", "enter")
            await until_app(pilot, lambda: isinstance(app.screen, Confirm))
            assert app.return_value is None and app.is_running
            await pilot.press("n")
            await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))
            await pilot.press("ctrl+p", *"demo", "enter")
            await until_app(pilot, lambda: isinstance(app.screen, Confirm))
            await pilot.press("y")
            await until_app(pilot, lambda: app.return_value == "demo")
    finally:
        relay.stop()


async def test_a_growing_transcript_follow_mode_and_the_new_events_marker(tmp_path: Path) -> None:
    transcript = ClaudeTranscript(tmp_path / "11111111-2222-4333-8444-555555555555.jsonl")
    transcript.write(transcript.prompt("Run every step"))
    for i in range(30):
        transcript.bash_call(i)
    # A minute after the writes (their timestamps are fixed): the session is live.
    now = parse_ts(ts(200))
    assert now is not None
    relay = Relay(clock=lambda: now).start()
    relay.add_source(TranscriptSource(transcript.path, follow=True, poll_interval=0.1))
    try:
        app = WatchkeeperApp(relay, open_session=transcript.session, clock=lambda: now)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            timeline = screen.timeline
            await until_app(pilot, lambda: timeline.live and len(timeline.store.calls) == 30)
            assert timeline.follow and timeline.cursor == len(timeline.store.view) - 1

            transcript.bash_call(100)
            await until_app(pilot, lambda: "echo step 100" in screen_text(app))
            assert timeline.cursor == len(timeline.store.view) - 1 and timeline.unseen == 0

            await pilot.press("up")
            assert not timeline.follow
            cursor = timeline.cursor
            transcript.bash_call(101, fail=True)
            transcript.write("{ garbage that is not json")
            await until_app(pilot, lambda: len(timeline.store.calls) == 32 and timeline.store.session.raw == 1)
            await until_app(pilot, lambda: f"↓ {timeline.unseen} new events" in screen_text(app))
            assert timeline.unseen >= 2 and timeline.cursor == cursor  # the call and the raw row; usage hidden

            await pilot.press("end")
            await until_app(pilot, lambda: "new event" not in screen_text(app))
            assert timeline.follow and timeline.cursor == len(timeline.store.view) - 1
            await until_app(pilot, lambda: "1 raw" in status_text(app))
            assert "● live" in status_text(app) and "1 error " in status_text(app)
            assert "{ garbage that is not json" in screen_text(app)
    finally:
        relay.stop()


async def test_garbage_lines_are_raw_rows_with_a_count(tmp_path: Path) -> None:
    transcript = ClaudeTranscript(tmp_path / "22222222-2222-4333-8444-555555555555.jsonl",
                                  session="22222222-2222-4333-8444-555555555555")
    transcript.write(transcript.prompt("Try it"), "\x00\x01 binary junk", "[1, 2", '{"type": "mystery"}')
    transcript.bash_call(1)
    transcript.write("{\"half\": ")
    relay = Relay().start()
    relay.add_source(TranscriptSource(transcript.path, follow=False))
    try:
        assert relay.drain(10)
        app = WatchkeeperApp(relay, open_session=transcript.session)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            store = screen.timeline.store
            await until_app(pilot, lambda: store.session.raw >= 3)
            raws = store.session.raw
            await until_app(pilot, lambda: f"{raws} raw" in status_text(app))
            await pilot.press("e")
            await until_app(pilot, lambda: store.filter.errors)
            assert len(store.view) >= raws
            for _ in range(len(store.view)):
                await pilot.press("down")
                detail_text(app)
    finally:
        relay.stop()


async def test_render_line_in_an_app_is_cached(relay: Relay) -> None:
    app = WatchkeeperApp(relay)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first(app, pilot)
        timeline = screen.query_one(Timeline)
        first = timeline.render_line(0)
        assert first is timeline.render_line(0).crop(0) or first.text == timeline.render_line(0).text
        assert first.cell_length == timeline.scrollable_content_region.width
        beyond = timeline.render_line(len(timeline.store.view) + 5)
        assert beyond.text.strip() == ""


async def test_the_sessions_screen_updates_live(tmp_path: Path) -> None:
    first = ClaudeTranscript(tmp_path / "11111111-2222-4333-8444-555555555555.jsonl")
    first.write(first.prompt("First task"))
    relay = Relay().start()
    relay.add_source(TranscriptSource(first.path, follow=True, poll_interval=0.1))
    try:
        app = WatchkeeperApp(relay)
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: "First task" in screen_text(app))
            screen = app.screen
            assert isinstance(screen, SessionsScreen)
            before = screen.infos[0].events
            for i in range(5):
                first.bash_call(i)
            await until_app(pilot, lambda: screen.infos[0].events > before)
            await until_app(pilot, lambda: f" {screen.infos[0].events} " in screen_text(app))

            second = ClaudeTranscript(tmp_path / "33333333-2222-4333-8444-555555555555.jsonl",
                                      session="33333333-2222-4333-8444-555555555555")
            second.write(second.prompt("Second task"))
            relay.add_source(TranscriptSource(second.path, follow=True, poll_interval=0.1))
            await until_app(pilot, lambda: "Second task" in screen_text(app))
            assert len(screen.infos) == 2
    finally:
        relay.stop()


def test_screens_reach_the_app_as_a_typed_host_and_refuse_another_app(relay: Relay) -> None:
    from textual.app import App

    from watchkeeper.viewer.host import host
    from watchkeeper.viewer.replay_app import ReplayApp

    for app in (WatchkeeperApp(relay, clock=lambda: 42.0), ReplayApp(relay)):
        assert host(app) is app and host(app).relay is relay
    assert host(WatchkeeperApp(relay, clock=lambda: 42.0)).clock() == 42.0
    with pytest.raises(TypeError, match="not a watchkeeper viewer app"):
        host(App())


async def test_the_problems_of_the_breakpoint_file_are_said_when_the_app_starts(relay: Relay, tmp_path: Path) -> None:
    from test_viewer_support import Notices

    from watchkeeper.breakpoints import Book
    from watchkeeper.viewer.model.control_availability import SteerSetup

    path = tmp_path / "breakpoints.toml"
    path.write_text('[[breakpoint]]\nname = "odd"\ntool = 7\n')
    book = Book.load(path)
    assert book.problems
    app = WatchkeeperApp(relay, steer=SteerSetup(breakpoints=book))
    notices = Notices(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await until_app(pilot, lambda: ("Breakpoints", book.problems[0]) in notices, "the problem said")


async def test_a_confirmation_keeps_its_buttons_in_sight_and_yes_waits_until_the_end_was_shown() -> None:
    """An agent's long list of "always allow" rules pushed the end of it, and the buttons, off the dialog,
    while y still added every rule."""
    rules = [f"allow Bash(npm run task-{i}:*) in project settings" for i in range(40)]
    rules.append("add directory / to the allowed directories; set mode bypassPermissions")
    answers: list[bool | None] = []
    app = WatchkeeperApp(relay_with(Events().whole_session()))
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(Confirm("Always allow", "Add these rules?", "Add the rules", about=("Bash  ls", *rules)),
                        answers.append)
        await until_app(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.pause()
        yes = app.screen.query_one("#yes")
        assert yes.region.bottom <= 40 and yes.region.height > 0, "the buttons are on screen"
        assert "bypassPermissions" not in screen_text(app)
        await pilot.press("y")
        await until_app(pilot, lambda: "bypassPermissions" in screen_text(app))
        assert isinstance(app.screen, Confirm) and answers == [], "the first y only showed the end"
        await pilot.press("y")
        await until_app(pilot, lambda: answers == [True])
        app.push_screen(Confirm("Always allow", "Add this rule?", "Add the rule", about=("Bash  ls", rules[0])),
                        answers.append)
        await until_app(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.pause()
        await pilot.press("y")
        await until_app(pilot, lambda: answers == [True, True])
    app.relay.stop()
