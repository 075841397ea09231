"""Hostile text in every field of every screen of the real app: the terminal gets only Textual's own output.

Two sessions reach a real relay as hand-made events (one finished, one live with
a call held on a breakpoint); every string field of them, the breakpoint rules,
the app's notices and the folders it looked in carry escape sequences, C1 and
bidi controls and Rich markup (hypothesis picks which). The app runs under the
pilot with a driver that keeps every byte it writes; a person's tour visits the
sessions list, every row of the timeline with its detail, the tool and agent
pickers, a filter, the command palette, toasts, the held call's controls, the
deny and inject dialogs. Then, on those bytes: nothing but Textual's own
sequences (no OSC 0/2/8/52, no DCS, no screen clear, no C1, no bidi), and each
field shown in its escaped form.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from hostile_text_support import HOSTILE, HOSTILE_FIRST, LiveSource, capturing, effects, shown_text
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_viewer_support import Events
from textual.command import CommandPalette
from textual.widgets import DataTable
from waiting import until_app

from watchkeeper.breakpoints import Book, Rule
from watchkeeper.protocol.display import visible
from watchkeeper.relay import IterSource, Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.deny import DenyDialog
from watchkeeper.viewer.screens.inject import InjectDialog
from watchkeeper.viewer.screens.picker import Picker
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen

SIZE = (160, 50)
A = "aaaaaaaa-0000-4000-8000-00000000000a"
B = "bbbbbbbb-0000-4000-8000-00000000000b"
CAPS = {name: True for name in ("pause", "resume", "approve", "deny", "inject", "cancel", "step")}

#: Every field that carries hostile text, with its tag (so each is found on screen as its own).
FIELDS = (
    "agent_kind", "title", "cwd", "model", "why", "user", "origin", "assistant", "thinking", "tool", "call_id",
    "command", "description", "output", "subagent", "sub_description", "notice", "raw", "raw_error",
    "raw_source", "ended", "control_reason", "control_by", "title_b", "tool_b", "command_b", "rule_b",
    "state_b", "state_reason_b", "bp_name", "bp_pattern", "problem", "notice_toast", "looked_in",
)
#: Fields shown only in another form: a breakpoint's pattern as Python writes it (repr), the rest of a
#: call's input as JSON (its stand-ins as they are, the data's own backslashes doubled).
REPR_FIELDS = {"bp_pattern"}
JSON_FIELDS = {"description"}
PREFIX = 14


def field_value(tag: str) -> st.SearchStrategy[str]:
    tail = st.lists(st.sampled_from(HOSTILE) | st.text(st.characters(max_codepoint=0x3000,
                                                                     exclude_categories=("Cs",)), max_size=6),
                    max_size=3)
    return st.tuples(st.sampled_from(HOSTILE_FIRST), tail).map(lambda t: f"{tag}{t[0]}{''.join(t[1])}")


FIELD_VALUES = st.fixed_dictionaries({name: field_value(f"Z{i:02d}") for i, name in enumerate(FIELDS)})


def expected(name: str, value: str) -> str:
    """How a field's tag and first hostile piece must read on screen: escaped, whole."""
    head = value[:3] + next(first for first in HOSTILE_FIRST if value[3:].startswith(first))
    if name in REPR_FIELDS:
        return repr(head)[1:-1][:PREFIX]
    if name in JSON_FIELDS:
        return orjson.dumps(visible(head)).decode()[1:-1][:PREFIX]
    return visible(head)[:PREFIX]


def session_a(v: dict[str, str]) -> list[Any]:
    e = Events(A)
    return [
        e.ev("session.started", {"agent_kind": v["agent_kind"], "title": v["title"], "cwd": v["cwd"],
                                 "model": v["model"], "capabilities": {"why": v["why"]}}),
        e.ev("message.user", {"text": v["user"], "origin": v["origin"]}),
        e.ev("thinking", {"text": v["thinking"]}),
        e.ev("message.assistant", {"text": v["assistant"] + "\n\n[a link](http://evil.example/x)"}),
        *e.call(v["call_id"], v["tool"], {"command": v["command"], "description": v["description"]},
                {"stdout": v["output"], "stderr": ""}),
        e.call_start("toolu_task", "Task", {"description": "x", "prompt": "y"}),
        e.ev("agent.started", {"agent_id": v["subagent"], "parent_call_id": "toolu_task",
                               "description": v["sub_description"]}),
        e.ev("message.user", {"text": "sub prompt", "origin": "prompt"}, agent=v["subagent"]),
        e.ev("agent.finished", {"agent_id": v["subagent"], "status": "completed"}),
        e.call_end("toolu_task", "done"),
        e.ev("notice", {"level": "warning", "text": v["notice"]}),
        e.ev("raw", {"record": v["raw"], "error": v["raw_error"], "source": v["raw_source"]}),
        e.ev("control.applied", {"control": "deny", "reason": v["control_reason"], "by": v["control_by"],
                                 "message": "no"}),
        e.ev("session.ended", {"reason": v["ended"]}),
    ]


def session_b(v: dict[str, str]) -> list[Any]:
    e = Events(B)
    return [
        e.ev("session.started", {"agent_kind": "sdk", "title": v["title_b"], "cwd": "/w", "capabilities": CAPS}),
        e.ev("state", {"state": v["state_b"], "reason": v["state_reason_b"]}),
        e.call_start("toolu_held", v["tool_b"], {"command": v["command_b"]}),
        e.ev("tool.waiting", {"call_id": "toolu_held", "name": v["tool_b"], "input": {"command": v["command_b"]},
                              "reason": "breakpoint", "rule": v["rule_b"]}),
    ]


async def tour_empty(v: dict[str, str], out: list[str]) -> None:
    relay = Relay().start()
    try:
        app = WatchkeeperApp(relay, looked_in=[v["looked_in"]])
        app.driver_class = capturing(out)
        async with app.run_test(headless=False, size=SIZE) as pilot:
            await until_app(pilot, lambda: "Looked in" in shown_text("".join(out)))
    finally:
        relay.stop()


async def rows_one_by_one(pilot: Any, screen: SessionScreen) -> None:
    """Every row in turn, the usage and state rows shown (``u``) as well."""
    if screen.timeline.store.filter.hide & {"usage", "state"}:
        await pilot.press("u")
        await until_app(pilot, lambda: not screen.timeline.store.filter.hide & {"usage", "state"})
    await pilot.press("home")
    for _ in range(len(screen.timeline.store.view)):
        await pilot.pause()
        await pilot.press("down")
    await pilot.pause()


async def pick_the_hostile_one(pilot: Any, app: WatchkeeperApp, key: str) -> None:
    await pilot.press(key)
    await until_app(pilot, lambda: isinstance(app.screen, Picker))
    await pilot.press("down", "down", "enter")
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
    await pilot.pause()


async def tour(v: dict[str, str], out: list[str], tmp: Path) -> None:
    relay = Relay().start()
    relay.add_source(IterSource("hostile-a", session_a(v)))
    relay.add_source(LiveSource("hostile-b", session_b(v)))
    book = Book(tmp / "breakpoints.toml", [Rule(name=v["bp_name"], pattern=v["bp_pattern"])], [v["problem"]])
    app = WatchkeeperApp(relay, steer=SteerSetup(breakpoints=book, notices=[v["notice_toast"]]))
    app.driver_class = capturing(out)
    try:
        async with app.run_test(headless=False, size=SIZE, notifications=True) as pilot:
            await until_app(pilot, lambda: len(app.sessions) == 2 and not any(i.live for i in app.sessions
                                                                           if i.session == A))
            sessions = app.screen
            assert isinstance(sessions, SessionsScreen)
            await until_app(pilot, lambda: sessions.query_one(DataTable).row_count == 2)
            await pilot.pause()
            # The live session with the held call is listed first; the finished one next.
            await pilot.press("down", "enter")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.session_id == A)
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            await until_app(pilot, lambda: len(screen.timeline.store.events) == len(session_a(v)))
            await rows_one_by_one(pilot, screen)
            await pick_the_hostile_one(pilot, app, "t")
            await pilot.press("x")
            await pick_the_hostile_one(pilot, app, "a")
            await pilot.press("x")
            await pilot.press("ctrl+p")
            await until_app(pilot, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*"remove")
            await pilot.pause(0.5)
            await pilot.press("escape")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            await pilot.press("escape")
            await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))
            await pilot.press("w")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.session_id == B)
            screen_b = app.screen
            assert isinstance(screen_b, SessionScreen)
            await until_app(pilot, lambda: bool(screen_b.steer.held) and screen_b.why_not.get("deny") is None)
            await rows_one_by_one(pilot, screen_b)
            await pilot.press("n")
            await until_app(pilot, lambda: isinstance(app.screen, DenyDialog))
            await pilot.pause()
            await pilot.press("escape")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            await pilot.press("i")
            await until_app(pilot, lambda: isinstance(app.screen, InjectDialog))
            await pilot.pause()
            await pilot.press("escape")
    finally:
        relay.stop()


@settings(max_examples=3, derandomize=True, deadline=None, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(values=FIELD_VALUES)
def test_hostile_text_never_acts_on_the_terminal(values: dict[str, str], tmp_path: Path) -> None:
    out: list[str] = []
    asyncio.run(tour_empty(values, out))
    asyncio.run(tour(values, out, tmp_path))
    written = "".join(out)
    for sequence in ("\x1b]0;", "\x1b]2;", "\x1b]8;", "\x1b]52;", "\x1bP", "\x1b[2J", "\x1b[201~", "\x1bc"):
        assert sequence not in written, f"{sequence!r} reached the terminal"
    assert effects(written) == []
    text = shown_text(written)
    missing = {name: expected(name, value) for name, value in values.items() if expected(name, value) not in text}
    assert not missing, f"not shown (escaped) on any screen: {missing}"
