"""Steering in the TUI without an agent: the state folded from events, why a control is unavailable,
control rows, the hook endpoint `watchkeeper` starts, and the app on sessions that cannot be steered."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import CC_FIXTURES
from test_viewer_support import SESSION, Events, Notices, screen_text
from waiting import until_app

from watchkeeper import config
from watchkeeper.adapters.claude_code.hooks import STEERABLE
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.watch import start_steering
from watchkeeper.protocol import Event, make_event
from watchkeeper.protocol.controls import CONTROL_NAMES
from watchkeeper.protocol.envelope import parse_ts
from watchkeeper.protocol.session import SessionState
from watchkeeper.relay import Relay
from watchkeeper.sdk import STEERABLE as SDK_STEERABLE
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import (
    SteerSetup,
    inject_note,
    source_reason,
    unavailable,
)
from watchkeeper.viewer.model.rows import build_row
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen
from watchkeeper.viewer.widgets.controls import Controls
from watchkeeper.viewer.widgets.footer import KeyFooter

SIZE = (120, 30)
OBSERVE_ONLY = {"why": "observe-only: a transcript can be watched, not steered"}


def waiting(call: str, reason: str = "paused", rule: str | None = None) -> Event:
    return make_event(f"tool:{call}:waiting", SESSION, "tool.waiting",
                      {"call_id": call, "reason": reason, "rule": rule, "name": "Bash", "input": {"command": "ls"}})


def applied(control: str, call: str | None = None, **extra: Any) -> Event:
    data = {"control_id": f"c-{control}-{call}", "control": control, "reason": "done", "call_id": call, **extra}
    return make_event(f"control:c-{control}-{call}", SESSION, "control.applied", data)


def finished(call: str) -> Event:
    return make_event(f"tool:{call}:finished", SESSION, "tool.finished", {"call_id": call, "status": "ok"})


# --- the state, folded ------------------------------------------------------------------


def fold_all(state: SessionState, events: list[Event]) -> bool:
    """Fold a batch in as the viewer's store does; True if what the controls show changed."""
    return any([state.fold(ev) for ev in events])


def test_steer_state_follows_holds_and_controls() -> None:
    state = SessionState()
    assert fold_all(state, [waiting("a"), waiting("b", "breakpoint", "rm -rf")])
    assert list(state.held) == ["a", "b"] and state.oldest is not None and state.oldest.call_id == "a"
    assert state.held["b"].describe() == "breakpoint «rm -rf»"
    assert fold_all(state, [applied("approve", "a")]) and list(state.held) == ["b"]
    assert fold_all(state, [applied("pause")]) and state.paused
    assert not fold_all(state, [applied("pause")])
    assert fold_all(state, [applied("step")]) and state.step
    assert fold_all(state, [applied("resume", "b")]) and not state.paused and not state.step and not state.held
    fold_all(state, [waiting("c"), finished("c"), waiting("c")])
    assert not state.held, "a finished call is not held again by a late copy of its waiting event"
    assert not fold_all(state, [make_event("x", SESSION, "control.rejected", {"control": "pause", "call_id": None})])


# --- why a control is unavailable --------------------------------------------------------


def test_reasons_say_why_in_the_persons_words() -> None:
    state = SessionState()
    live_transcript = source_reason(OBSERVE_ONLY, "claude-code")
    assert live_transcript is not None and "observe-only" in live_transcript
    assert "not hooked" in live_transcript and "watchkeeper run -- claude" in live_transcript
    port_taken = SteerSetup(hooks_error="port 47717 is taken").hooks_reason
    assert port_taken is not None
    taken = unavailable("pause", OBSERVE_ONLY, state, agent_kind="claude-code", hooks=port_taken)
    assert taken is not None and "port 47717 is taken" in taken
    codex = unavailable("pause", OBSERVE_ONLY, state, agent_kind="codex")
    assert codex is not None and codex.startswith(OBSERVE_ONLY["why"])
    assert "watchkeeper run -- codex" in codex and "trust its hook" in codex
    assert unavailable("pause", OBSERVE_ONLY, state, agent_kind="replay") == OBSERVE_ONLY["why"]
    no_rights = "the remote relay gave this viewer no control rights"
    assert unavailable("pause", STEERABLE, state, blocked=no_rights) == no_rights
    assert "cannot step" in str(unavailable("step", SDK_STEERABLE.model_dump(), state))
    assert unavailable("pause", STEERABLE, state) is None
    assert unavailable("approve", STEERABLE, state) == "no call is waiting"
    assert unavailable("resume", STEERABLE, state) == "not paused"
    fold_all(state, [applied("pause"), waiting("a")])
    assert unavailable("approve", STEERABLE, state) is None and unavailable("resume", STEERABLE, state) is None
    assert unavailable("pause", STEERABLE, state) == "already paused"


def test_the_inject_dialog_says_where_and_when() -> None:
    state = SessionState()
    hooks = inject_note("claude-code", ["claude-code hooks"], state)
    assert "additional context" in hooks and "next tool boundary" in hooks and "Stop hook" in hooks
    fold_all(state, [waiting("a")])
    assert "held now" in inject_note("claude-code", ["claude-code hooks"], state)
    assert "checkpoint()" in inject_note("sdk", ["websocket server"], state)


def test_control_rows_read_clearly() -> None:
    deny = make_event("control:d", SESSION, "control.applied", {"control_id": "d", "control": "deny", "call_id": "a",
                      "reason": "denied: the agent is told why", "message": "not today", "by": "ann@box (tui)"})
    row = build_row(deny, None)
    text = "".join(t for t, _ in row.summary)
    assert row.kind == "control" and not row.error
    assert text == "✓ deny  denied: the agent is told why  “not today”  — ann@box (tui)"
    rejected = make_event("control:r", SESSION, "control.rejected", {"control_id": "r", "control": "approve",
                                                                     "reason": "no call is held"})
    row = build_row(rejected, None)
    assert row.error and "".join(t for t, _ in row.summary) == "✗ approve rejected: no call is held"


# --- the hook endpoint `watchkeeper` starts ---------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "wk"))
    return tmp_path / "wk"


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay().start()
    yield relay
    relay.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_watch_serves_hooks_and_the_control_api(home: Path, relay: Relay) -> None:
    port = free_port()
    setup = start_steering(relay, port=port)
    assert setup.hooks_port == port and setup.hooks_error is None and setup.notices == []
    assert config.read_runtime() is not None and config.read_runtime()["port"] == port  # type: ignore[index]
    token = config.load_token(create=False)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/sessions",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert orjson.loads(answer.read()) == {"sessions": [], "listing": []}


async def test_a_taken_port_is_a_notice_in_the_app_not_a_crash(home: Path, relay: Relay) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        setup = start_steering(relay, port=port)
    assert setup.hooks_port is None and "is taken" in str(setup.hooks_error)
    app = WatchkeeperApp(relay, steer=setup)
    notices = Notices(app)
    async with app.run_test(size=SIZE) as pilot:
        await until_app(pilot, lambda: notices, what="a notice")
        (notice,) = notices.messages()
        assert f"port {port} is taken" in notice and "watched here, not steered" in notice


# --- sessions that cannot be steered ----------------------------------------------------------


async def test_an_observe_only_transcript_offers_no_control_and_says_why_once(monkeypatch: pytest.MonkeyPatch) -> None:
    transcript = next((CC_FIXTURES / "-home-dev-project").glob("*.jsonl"))
    # A minute after its last write: live (a tailed transcript is live only while it is written to).
    relay = Relay(clock=lambda: parse_ts("2026-11-27T10:01:00Z") or 0.0).start()
    try:
        await observe_only(relay, transcript, monkeypatch)
    finally:
        relay.stop()


async def observe_only(relay: Relay, transcript: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []
    real = relay.control
    monkeypatch.setattr(relay, "control", lambda control: (sent.append(control), real(control))[1])
    relay.add_source(TranscriptSource(transcript, follow=True))
    app = WatchkeeperApp(relay, steer=SteerSetup(hooks_port=1))
    notices = Notices(app)
    async with app.run_test(size=SIZE) as pilot:
        await until_app(pilot, lambda: bool(app.sessions) and app.sessions[0].live)
        screen = app.open_session(app.sessions[0].session)
        await until_app(pilot, lambda: screen.is_mounted and bool(screen.timeline.store.events))
        # Said once, short: the status bar's badge; the controls line stays hidden, the footer has no steering key.
        await until_app(pilot, lambda: "⊘ observe-only" in screen_text(app), seen=lambda: screen_text(app))
        assert screen_text(app).count("observe-only") == 1
        assert not screen.query_one(Controls).display
        for action in ("steer_pause", "steer_resume", "steer_approve", "steer_deny", "steer_step", "steer_inject",
                       "steer_cancel"):
            assert screen.check_action(action, ()) is False, action
        assert not {"Pause", "Resume", "Approve", "Deny", "Step", "Inject", "Cancel"} & set(screen.query_one(
            KeyFooter).keys)
        # Why, and how to make it steerable, on asking.
        await pilot.press("ctrl+p", *"why observe", "enter")
        await until_app(pilot, lambda: any("not hooked: start it with `watchkeeper run -- claude`" in n
                                           for n in notices.messages()), seen=notices.messages)
        assert any("observe-only: a transcript can be watched, not steered" in n for n in notices.messages())
        await pilot.press("p", "y", "n", "i", "s", "C")
        screen.action_steer_pause()
        # The refusal's notice comes after the keys were handled: nothing was sent by then.
        await until_app(pilot, lambda: any("Cannot pause: observe-only" in n for n in notices.messages()),
                        what="the refusal's notice", seen=notices.messages)
        assert sent == []


class LiveHooked:
    """A live source of one hooked session with a call held (as the hook endpoint would report it)."""

    name = "claude-code hooks"
    agent_kind = "claude-code"

    def __init__(self, events: list[Event]) -> None:
        self.events = events

    async def run(self, emit: Any) -> None:
        emit(self.events)
        await asyncio.Event().wait()

    def session_status(self, session: str) -> tuple[bool, str | None]:
        """As the hook endpoint says: a hooked session's channel is open (it is live however quiet)."""
        return True, None

    def on_status_change(self, changed: Any) -> None:
        pass


def held_session(e: Events, title: str, rule: str | None = "input contains rm -rf") -> list[Event]:
    out = e.started(title)
    out[0]["data"]["capabilities"] = dict(STEERABLE)
    out += [e.call_start("toolu_rm", "Bash", {"command": "rm -rf build"}),
            e.ev("tool.waiting", {"call_id": "toolu_rm", "reason": "breakpoint" if rule else "paused", "rule": rule,
                                  "name": "Bash", "input": {"command": "rm -rf build"}}, id="tool:toolu_rm:waiting")]
    return out


async def test_a_waiting_session_rings_goes_first_and_is_counted(relay: Relay) -> None:
    quiet = Events("quiet-session")
    calm = quiet.started("Nothing to see")
    calm[0]["data"]["capabilities"] = dict(STEERABLE)
    relay.add_source(LiveHooked([*calm, quiet.ev("message.assistant", {"text": "hi"})]))
    app = WatchkeeperApp(relay)
    bells: list[int] = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until_app(pilot, lambda: len(app.sessions) == 1)
        assert app.title == "watchkeeper" and bells == []
        assert app.attention.watched == {"quiet-session"}
        relay.add_source(LiveHooked(held_session(Events(), "Clean the build")))
        await until_app(pilot, lambda: app.attention.count == 1)
        assert bells == [1]
        assert app.title == "watchkeeper — ⏸ 1 session waiting for you"
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        await until_app(pilot, lambda: screen.infos[0].session == SESSION)
        first = screen_text(app).splitlines()[2]
        assert "⏸" in first and "Clean the build" in first and "waiting" in first
        await pilot.press("w")
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.is_mounted)
        opened = app.screen
        assert isinstance(opened, SessionScreen) and opened.session_id == SESSION
        await until_app(pilot, lambda: bool(opened.steer.held))
        shown = lambda: str(opened.query_one(Controls).content)  # noqa: E731
        await until_app(pilot, lambda: "Bash rm -rf build — breakpoint «input contains rm -rf»" in shown(), seen=shown)
        controls = shown()
        assert "y approve" in controls and "n deny…" in controls
        assert "1 session waiting for you" in screen_text(app).splitlines()[0]
        assert opened.check_action("steer_approve", ()) is True and opened.check_action("steer_pause", ()) is True
        assert bells == [1]


async def test_no_control_rights_disables_every_control_with_the_reason(relay: Relay) -> None:
    relay.add_source(LiveHooked(held_session(Events(), "Clean the build")))
    no_rights = "the remote relay gave this viewer no control rights"
    app = WatchkeeperApp(relay, open_session=SESSION, steer=SteerSetup(blocked=no_rights))
    async with app.run_test(size=SIZE) as pilot:
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and bool(app.screen.steer.held))
        screen = app.screen
        assert isinstance(screen, SessionScreen)
        await until_app(pilot, lambda: str(screen.query_one(Controls).content) == f"⊘ {no_rights}",
                        seen=lambda: str(screen.query_one(Controls).content))
        # Nothing can be sent from here: no steering key is offered, and a control sent anyway is refused.
        assert all(screen.check_action(f"steer_{c}", ()) is False for c in CONTROL_NAMES)
        assert screen.send_control("approve") is None


async def test_breakpoints_are_set_and_removed_from_the_palette(tmp_path: Path, relay: Relay) -> None:
    from watchkeeper.breakpoints import Book

    book = Book.load(tmp_path / "breakpoints.toml")
    app = WatchkeeperApp(relay, steer=SteerSetup(breakpoints=book))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"hold on a tool", "enter")
        await until_app(pilot, lambda: type(app.screen).__name__ == "RuleDialog")
        await pilot.press("enter")
        await until_app(pilot, lambda: any("type a value first" in str(s.content) for s in app.screen.query("Static")))
        await pilot.press(*"Bash", "enter")
        await until_app(pilot, lambda: book.get("tool Bash") is not None)
        assert Book.load(book.path).get("tool Bash") is not None
        await pilot.press("ctrl+p", *"remove", "enter")
        await until_app(pilot, lambda: book.rules == ())
        assert Book.load(book.path).rules == ()
