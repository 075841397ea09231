"""The conversation view in the real app under the pilot: the toggle, expanding a call, following live,
the same event selected across toggles, snapshots at 80×24 and 160×45, and hostile text."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_text_support import capturing, effects, shown_text
from test_viewer_support import SESSION, ClaudeTranscript, Events, relay_with, screen_text
from waiting import until_app

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.rows import parse_ts
from watchkeeper.viewer.screens.session import SessionScreen

NOW = parse_ts("2026-11-27T18:05:00.000Z") or 0.0
ANSWER = ("I'll run the **tests** first; the rules are in [the guide](http://evil.example/guide).\n\n"
          "- one step that is long enough to wrap at eighty columns, so it shows how a list wraps\n- two")


def session_events() -> list[Event]:
    events = Events().whole_session()
    for event in events:
        if event["kind"] == "message.assistant" and event["data"]["text"].startswith("I'll"):
            event["data"] = {"text": ANSWER}
    return events


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    relay = relay_with(session_events())
    yield relay
    relay.stop()
    monkeypatch.undo()
    time.tzset()


async def opened(app: WatchkeeperApp, pilot: Any, events: int = 21) -> SessionScreen:
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                    and len(app.screen.timeline.store.events) >= events)
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, SessionScreen)
    return app.screen


def reading(app: WatchkeeperApp) -> str:
    """The screen left of the detail pane, its words joined by single spaces."""
    return " ".join(" ".join(line.split("▏")[0] for line in screen_text(app).split("\n")).split())


def selected_lines(app: WatchkeeperApp) -> list[str]:
    """The lines of the conversation that carry the selection bar."""
    return [line.split("▏")[0].rstrip() for line in screen_text(app).split("\n") if line.startswith("▌")]


def kind(screen: SessionScreen, head: int | None) -> str:
    assert head is not None
    return str(screen.timeline.store.events[head]["kind"])


async def test_v_shows_the_conversation_on_the_same_event_and_goes_back_on_the_one_chosen(relay: Relay) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION, clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await opened(app, pilot)
        timeline, conversation = screen.timeline, screen.conversation
        await pilot.press("u")  # usage rows shown: the conversation has no block for one
        await until_app(pilot, lambda: any(kind(screen, h) == "usage" for h in timeline.store.view))
        await pilot.press("home", "down", "down", "down", "down")
        bash = timeline.selected_head
        assert kind(screen, bash) == "tool.started" and not conversation.display

        await pilot.press("v")
        await until_app(pilot, lambda: conversation.display and "▸ Bash  pytest -q" in screen_text(app))
        assert not timeline.display and conversation.has_focus
        assert conversation.selected_head == bash
        assert "are in the guide <http://evil.example/guide>." in reading(app)
        assert "in 1,200" not in reading(app), "usage stays in the status bar"

        await pilot.press("enter")
        await until_app(pilot, lambda: "FAILED tests/test_app.py::test_total - TypeError" in screen_text(app))
        assert "▾ Bash" in screen_text(app)
        await pilot.press("down")
        edit = conversation.selected_head
        assert edit is not None and edit != bash and timeline.selected_head == edit
        await until_app(pilot, lambda: "call toolu_edit" in screen_text(app))  # the detail pane follows
        await until_app(pilot, lambda: len(selected_lines(app)) == 1)  # the bar left the Bash call's lines
        assert "▸ Edit  /home/dev/project/app.py" in selected_lines(app)[0]

        await pilot.press("v")
        await until_app(pilot, lambda: timeline.display and not conversation.display)
        assert timeline.selected_head == edit and timeline.has_focus
        assert "▸ Bash" not in screen_text(app)

        await pilot.press("up")  # a usage row: the conversation opens on the block before it
        usage = timeline.selected_head
        assert kind(screen, usage) == "usage"
        await pilot.press("v")
        await until_app(pilot, lambda: conversation.display)
        assert conversation.selected_head == bash
        await pilot.press("enter")
        await until_app(pilot, lambda: "▸ Bash" in screen_text(app))  # folded again
        await pilot.press("v")
        await until_app(pilot, lambda: timeline.display)
        assert timeline.selected_head == bash


async def test_a_search_narrows_the_conversation_too_and_the_keys_come_back_to_it(relay: Relay) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION, clock=lambda: NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await opened(app, pilot)
        conversation = screen.conversation
        await pilot.press("v", "slash", *"glob", "enter")
        await until_app(pilot, lambda: screen.timeline.store.filter.text == "glob"
                        and len(conversation.blocks.blocks) == 1)
        assert conversation.has_focus
        await until_app(pilot, lambda: "▸ Glob **/*.py" in reading(app))
        assert "▸ Bash" not in reading(app)
        await pilot.press("x")
        await until_app(pilot, lambda: "▸ Bash" in reading(app))
        assert conversation.has_focus and conversation.display


async def test_live_events_appear_while_following_and_are_counted_while_reading_back(tmp_path: Path) -> None:
    transcript = ClaudeTranscript(tmp_path / "11111111-2222-4333-8444-555555555555.jsonl")
    transcript.write(transcript.prompt("Run every step"))
    for i in range(30):
        transcript.bash_call(i)
    relay = Relay().start()
    relay.add_source(TranscriptSource(transcript.path, follow=True, poll_interval=0.1))
    try:
        app = WatchkeeperApp(relay, open_session=transcript.session)
        async with app.run_test(size=(100, 30)) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            timeline, conversation = screen.timeline, screen.conversation
            await until_app(pilot, lambda: timeline.live and len(timeline.store.calls) == 30)
            await pilot.press("v")
            await until_app(pilot, lambda: conversation.display and "echo step 29" in screen_text(app))
            assert conversation.follow and conversation.cursor == len(conversation.blocks.blocks) - 1

            transcript.write(transcript.say("All **thirty** steps ran; next the hundredth."))
            transcript.bash_call(100)
            await until_app(pilot, lambda: "echo step 100" in screen_text(app))
            assert "All thirty steps ran; next the hundredth." in screen_text(app)
            assert conversation.cursor == len(conversation.blocks.blocks) - 1 and conversation.unseen == 0

            await pilot.press("up", "up")
            assert not conversation.follow
            cursor = conversation.selected_head
            transcript.bash_call(101, fail=True)
            transcript.bash_call(102)
            await until_app(pilot, lambda: len(timeline.store.calls) == 33)
            await until_app(pilot, lambda: f"↓ {conversation.unseen} new events" in screen_text(app))
            assert conversation.unseen == 2 and conversation.selected_head == cursor
            assert "echo step 102" not in screen_text(app)

            await pilot.press("end")
            await until_app(pilot, lambda: "new event" not in screen_text(app) and "echo step 102" in screen_text(app))
            assert conversation.follow and conversation.cursor == len(conversation.blocks.blocks) - 1
    finally:
        relay.stop()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_conversation_snapshot(relay: Relay, snap_compare: Any, size: tuple[int, int]) -> None:
    async def settle(pilot: Any) -> None:
        app = pilot.app
        screen = await opened(app, pilot)
        await pilot.press("home", "down", "down", "down", "down", "v")
        await until_app(pilot, lambda: screen.conversation.display)
        await pilot.press("enter")
        await pilot.pause()

    app = WatchkeeperApp(relay, open_session=SESSION, clock=lambda: NOW)
    assert snap_compare(app, terminal_size=size, run_before=settle)


HOSTILE = "\x1b]0;OWNED\x07\x1b[2J[b]bold[/b][@click=app.quit]x[/]\x9b2J\u202eevil\x1b]8;;http://e/\x1b\\L\x1b]52;c;QQ==\x07"


async def test_hostile_text_in_the_conversation_reaches_the_terminal_only_escaped() -> None:
    e = Events()
    events = [
        *e.started(),
        e.ev("message.user", {"text": HOSTILE, "origin": HOSTILE}),
        e.ev("thinking", {"text": HOSTILE}),
        e.ev("message.assistant", {"text": f"# {HOSTILE}\n- {HOSTILE}\n[{HOSTILE}](http://evil.example/{HOSTILE})"}),
        *e.call("toolu_h", HOSTILE, {"command": HOSTILE}, {"stdout": HOSTILE, "stderr": HOSTILE}),
        e.call_start("toolu_task", "Task", {"description": HOSTILE, "prompt": HOSTILE}),
        e.ev("agent.started", {"agent_id": "sub1", "parent_call_id": "toolu_task", "description": HOSTILE}),
        e.ev("message.assistant", {"text": HOSTILE}, agent="sub1"),
        e.ev("notice", {"level": "warning", "text": HOSTILE}),
    ]
    relay = relay_with(events)
    out: list[str] = []
    try:
        app = WatchkeeperApp(relay, open_session=SESSION, clock=lambda: NOW)
        app.driver_class = capturing(out)
        async with app.run_test(headless=False, size=(200, 50)) as pilot:
            screen = await opened(app, pilot, len(events))
            await pilot.press("v")
            await until_app(pilot, lambda: screen.conversation.display)
            await pilot.press("home")
            for _ in range(len(screen.conversation.blocks.blocks)):
                await pilot.press("enter", "down")
                await pilot.pause()
            await until_app(pilot, lambda: "Task" in shown_text("".join(out)))
    finally:
        relay.stop()
    written = "".join(out)
    assert effects(written) == []
    text = shown_text(written)
    assert "␛]0;OWNED␇␛[2J[b]bold[/b][@click=app.quit]x[/]⟨U+009B⟩2J⟨U+202E⟩evil" in text
    assert "http://evil.example/" in text and "\x1b]8" not in written
