"""A calmer timeline, under the pilot with the real relay: quiet kinds hidden (``u``), any kind hidden (``f``),
subagents named and completed in order, the first prompt once, the detail pane zoomed (``m``) and focused (Tab)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from conftest import CC_FIXTURES
from test_viewer_support import ClaudeTranscript, Events, relay_with, screen_text, status_text
from textual.pilot import Pilot
from textual.widgets import SelectionList
from waiting import until_app

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.replay import first_session
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.timeline_store import TimelineStore
from watchkeeper.viewer.screens.kinds import KindChooser
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.widgets.detail_pane import DetailPane
from watchkeeper.viewer.widgets.timeline import Timeline

SIZE = (120, 40)
SHOWCASE = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"
SCRIPTED = CC_FIXTURES / "-home-dev-project" / "78d01735-0000-49d5-a966-000000000197.jsonl"

Run = tuple[WatchkeeperApp, Pilot[None], SessionScreen]


@asynccontextmanager
async def session(relay: Relay, session_id: str, size: tuple[int, int] = SIZE) -> AsyncIterator[Run]:
    """The app opened on one session, its whole history in the timeline."""
    try:
        app = WatchkeeperApp(relay, open_session=session_id)
        async with app.run_test(size=size) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            await until_app(pilot, lambda: screen.info is not None
                            and len(screen.timeline.store.events) == screen.info.events)
            await app.workers.wait_for_complete()
            await pilot.pause()
            yield app, pilot, screen
    finally:
        relay.stop()


def transcript_relay(path: Path) -> Relay:
    relay = Relay().start()
    relay.add_source(TranscriptSource(path, follow=False))
    assert relay.drain(10)
    return relay


def kinds_shown(screen: SessionScreen) -> set[str]:
    store = screen.timeline.store
    return {store.kind_label(h) for h in store.view}


async def test_usage_and_state_rows_are_hidden_until_u_and_their_totals_stay_in_the_status_bar() -> None:
    ev = Events()
    events = [*ev.whole_session(), ev.ev("state", {"state": "idle", "reason": "turn finished"})]
    async with session(relay_with(events), events[0]["session"]) as (app, pilot, screen):
        store = screen.timeline.store
        assert store.kinds["usage"] and store.kinds["state"], "the session has usage and state events"
        assert not kinds_shown(screen) & {"usage", "state"}
        assert " usage " not in screen_text(app) and " state " not in screen_text(app)
        await until_app(pilot, lambda: "in 2,000 out 120" in status_text(app) and "$0.0200" in status_text(app))
        hidden = len(store.heads) - len(store.view)
        assert hidden == store.kinds["usage"] + store.kinds["state"]

        await pilot.press("u")
        await until_app(pilot, lambda: {"usage", "state"} <= kinds_shown(screen))
        assert len(store.view) == len(store.heads)
        assert " usage " in screen_text(app) and "in 1,200  out 80" in screen_text(app)

        await pilot.press("u")
        await until_app(pilot, lambda: not kinds_shown(screen) & {"usage", "state"})
        await pilot.press("x")  # clearing filters keeps them hidden: a preference, not a filter
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not kinds_shown(screen) & {"usage", "state"}


async def test_f_hides_any_kind_and_it_stays_hidden_while_events_stream_in(tmp_path: Path) -> None:
    transcript = ClaudeTranscript(tmp_path / "11111111-2222-4333-8444-555555555555.jsonl")
    transcript.write(transcript.prompt("Run every step"))
    for i in range(3):
        transcript.bash_call(i)
    relay = Relay().start()
    relay.add_source(TranscriptSource(transcript.path, follow=True, poll_interval=0.1))
    async with session(relay, transcript.session) as (app, pilot, screen):
        timeline = screen.timeline
        assert "tool" in kinds_shown(screen)
        await pilot.press("f")
        await until_app(pilot, lambda: isinstance(app.screen, KindChooser))
        chooser = app.screen.query_one(SelectionList)
        options = [chooser.get_option_at_index(i) for i in range(chooser.option_count)]
        assert set(chooser.selected) == {o.value for o in options} - {"usage", "state"}, "shown kinds are checked"
        chooser.highlighted = [o.value for o in options].index("tool")
        await pilot.press("space", "escape")
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and "tool" not in kinds_shown(screen))
        assert screen.filter.hide == {"tool", "usage", "state"}

        transcript.bash_call(10)
        transcript.write(transcript.say("All steps ran."))
        await until_app(pilot, lambda: "All steps ran." in screen_text(app))
        assert len(timeline.store.calls) == 4, "the new call arrived"
        assert not kinds_shown(screen) & {"tool", "usage", "state"}, "and stays hidden, as do usage rows"
        assert "echo step 10" not in screen_text(app)

        await pilot.press("f")
        await until_app(pilot, lambda: isinstance(app.screen, KindChooser))
        chooser = app.screen.query_one(SelectionList)
        chooser.highlighted = [chooser.get_option_at_index(i).value for i in range(chooser.option_count)].index("tool")
        await pilot.press("space", "escape")
        await until_app(pilot, lambda: "echo step 10" in screen_text(app))


async def test_subagents_are_named_by_their_description_and_complete_after_their_work() -> None:
    async with session(transcript_relay(SHOWCASE), first_session(SHOWCASE), size=(160, 45)) as (app, _pilot, screen):
        store = screen.timeline.store
        web = [h for h in store.view if store.events[h]["agent"] == "webagent1"]
        assert [store.events[h]["kind"] for h in web] == [
            "agent.started", "message.user", "message.assistant", "agent.finished",
        ], "the completion comes after the subagent's own work, though it was read before it"
        assert [store.row(h).agent for h in web] == ["Survey the web module"] * 4
        text = screen_text(app)
        assert "Survey the web … user      ┆ Survey src/web and report its layout." in text
        assert "a32f3ef2" not in text and "webagent1 " not in text.replace("(general-purpose, webagent1)", "")
        lines = text.splitlines()
        order = [next(i for i, line in enumerate(lines) if what in line) for what in (
            "Agent  Survey the web module", "┆ Survey src/web and report", "┆ completed  (webagent1)",
            "Agent  Survey the jobs module", "┆ completed  (jobagent2)", "Tour done")]
        assert order == sorted(order)


async def test_the_agent_picker_names_subagents_by_their_description() -> None:
    async with session(transcript_relay(SHOWCASE), first_session(SHOWCASE), size=(160, 45)) as (app, pilot, screen):
        await pilot.press("a")
        await until_app(pilot, lambda: "Only rows of the agent" in screen_text(app))
        text = screen_text(app)
        assert "Survey the web module  [webagent1]" in text and "Survey the jobs module  [jobagent2]" in text
        await pilot.press("down", "down", "enter")
        await until_app(pilot, lambda: screen.filter.agent is not None)
        assert screen.filter.agent in ("webagent1", "jobagent2"), "the filter takes the id, not the label"


async def test_the_first_prompt_of_a_scripted_run_is_one_row_that_keeps_both_events() -> None:
    events = list(convert_file(SCRIPTED))
    queued = [e for e in events if e["kind"] == "message.user" and e["data"].get("origin") == "queued"]
    assert len(queued) == 1 and not [e for e in events if e["kind"] == "notice" and "Delegate" in e["data"]["text"]]
    async with session(transcript_relay(SCRIPTED), first_session(SCRIPTED)) as (app, _pilot, screen):
        store = screen.timeline.store
        rows = [h for h in store.view if store.kind_label(h) == "user" and store.events[h]["agent"] == "main"]
        assert len(rows) == 1
        assert [e["data"]["origin"] for e in store.row_events(rows[0])] == ["queued", "prompt"]
        assert screen_text(app).count("Delegate the file count") == 2  # the row and the title bar
        assert "queued" not in screen_text(app)
        assert not store.session.queued, "delivered: nothing waits in the queue"


async def test_m_zooms_the_detail_pane_and_tab_focuses_it() -> None:
    events = Events().whole_session()
    async with session(relay_with(events), events[0]["session"], size=(200, 50)) as (app, pilot, screen):
        detail = screen.query_one(DetailPane)
        assert 78 <= detail.outer_size.width <= 82, "two fifths of 200 columns, not a third"
        assert "tab Pane" in screen_text(app) and "m Zoom" in screen_text(app)
        await pilot.press("tab")
        assert detail.has_focus
        await pilot.press("tab")
        assert screen.query_one(Timeline).has_focus

        await pilot.press("m")
        await until_app(pilot, lambda: detail.outer_size.width == 200)
        assert not screen.query_one(Timeline).display or screen.query_one("#left").display is False
        assert detail.has_focus
        await pilot.press("m")
        await until_app(pilot, lambda: detail.outer_size.width < 100)
        assert screen.query_one(Timeline).has_focus
        await pilot.press("m", "escape")  # Escape leaves the zoom before it leaves the screen
        await until_app(pilot, lambda: detail.outer_size.width < 100)
        assert isinstance(app.screen, SessionScreen)


def test_a_prompt_queued_mid_turn_waits_in_its_row_then_moves_to_when_it_was_delivered() -> None:
    ev = Events()
    store = TimelineStore()
    store.add(ev.started())
    queued = ev.ev("message.user", {"text": "and the docs", "origin": "queued", "queue_id": "q1"})
    store.add([queued, *ev.call("toolu_1", "Bash", {"command": "make"})])
    (waiting,) = [h for h in store.view if store.events[h] is queued]
    assert rows_text(store, waiting) == "⧗ queued and the docs"

    delivered = ev.ev("message.user", {"text": "and the docs", "origin": "prompt", "queue_id": "q1"})
    added = store.add([delivered])
    assert added.rebuild, "the queued row leaves the view"
    store.rebuild()
    users = [h for h in store.view if store.kind_label(h) == "user"]
    assert [store.events[h]["data"]["text"] for h in users] == ["Fix the failing test", "and the docs"]
    assert store.view[-1] == users[-1], "at the time the agent got it, after the call"
    assert [e["data"]["origin"] for e in store.row_events(users[-1])] == ["queued", "prompt"], "both events kept"
    assert store.kinds["user"] == 2 and store.agent_rows["main"] == len(store.view)

    taken_back = ev.ev("message.user", {"text": "no, skip it", "origin": "queued", "queue_id": "q2"})
    store.add([taken_back])
    added = store.add([ev.ev("message.user", {"text": "no, skip it", "origin": "queue-removed", "queue_id": "q2"})])
    head = store.view[-1]
    assert head in added.changed and store.events[head] is taken_back
    assert rows_text(store, head) == "⊘ taken back no, skip it"


def rows_text(store: TimelineStore, head: int) -> str:
    return "".join(text for text, _ in store.row(head).summary)


def test_a_rebuilt_view_keeps_a_subagents_completion_after_its_work() -> None:
    store = TimelineStore()
    store.add(convert_file(SHOWCASE))
    built_as_they_came = list(store.view)
    store.rebuild(store.filter.with_(hide=frozenset()))
    store.rebuild(store.filter.with_(hide=frozenset({"usage", "state"})))
    assert store.view == built_as_they_came
    web = [store.events[h]["kind"] for h in store.view if store.events[h]["agent"] == "webagent1"]
    assert web == ["agent.started", "message.user", "message.assistant", "agent.finished"]


def test_the_reader_turns_queue_operations_into_queued_prompts_delivered_or_taken_back(tmp_path: Path) -> None:
    transcript = ClaudeTranscript(tmp_path / "11111111-2222-4333-8444-555555555555.jsonl")

    def queue(operation: str, content: str | None = None) -> dict:
        op = {"type": "queue-operation", "operation": operation, "timestamp": "2026-11-27T18:00:00.000Z",
              "sessionId": transcript.session}
        return {**op, "content": content} if content is not None else op

    transcript.write(queue("enqueue", "first"), queue("dequeue"), transcript.prompt("first"),
                     queue("enqueue", "never mind"), queue("remove", "never mind"),
                     queue("enqueue", "<task-notification>\n<task-id>a1</task-id>\n</task-notification>"),
                     queue("enqueue", "second"), queue("dequeue"), queue("dequeue"), transcript.prompt("second"))
    users = [e["data"] for e in convert_file(transcript.path) if e["kind"] == "message.user"]
    said = [(d["origin"], d["text"]) for d in users if not d["text"].startswith("<task")]
    assert said == [("queued", "first"), ("prompt", "first"), ("queued", "never mind"),
                    ("queue-removed", "never mind"), ("queued", "second"), ("prompt", "second")]
    ids = [d.get("queue_id") for d in users if not d["text"].startswith("<task")]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5] and len(set(ids)) == 3, \
        "each prompt is delivered or taken back under its own queue id; a task notification takes none"


async def test_the_detail_pane_redraws_only_what_changed_and_never_keeps_a_line_of_the_row_before() -> None:
    """A row that fits leaves the pane's scroll range, and the lines below it, as they were: only the lines
    either row used are drawn again. None of the row before may stay, nor a scroll range a short row never had."""
    ev = Events()
    rows = {"alpha": 12, "beta": 2, "gamma": 80, "delta": 3}  # paragraphs: two lines each
    events = [*ev.started(title="start"),
              *(ev.ev("message.assistant", {"text": "\n\n".join(f"{word} {i}" for i in range(n))})
                for word, n in rows.items())]
    async with session(relay_with(events), events[0]["session"], size=(120, 40)) as (app, pilot, screen):
        detail = screen.query_one(DetailPane)
        height = detail.scrollable_content_region.height

        def pane_text() -> str:
            x, y, width, rows_high = detail.region
            return "\n".join(line[x:x + width] for line in screen_text(app).splitlines()[y:y + rows_high])

        await pilot.press("end")
        walk = [("delta", None), ("gamma", "up"), ("beta", "up"), ("alpha", "up"), ("beta", "down"),
                ("gamma", "down"), ("delta", "down"), ("gamma", "up")]
        for word, key in walk:
            if key:
                await pilot.press(key)
            await until_app(pilot, lambda w=word: f"{w} 1" in pane_text())
            text = pane_text()
            assert not any(w in text for w in rows if w != word), (word, text)
            assert detail.virtual_size.height >= height
            assert (detail.max_scroll_y > 0) is (word == "gamma"), word
        await pilot.resize_terminal(120, 20)
        await pilot.press("up")
        await until_app(pilot, lambda: "beta 1" in pane_text())
        assert detail.max_scroll_y == 0, "a smaller pane keeps no range past a short row"
