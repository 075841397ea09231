"""Steering from the TUI, against the real Claude Code CLI, offline against the scripted Messages API.

The relay and its hook endpoint are the steering tests' own (``test_steering_live``): Claude Code is
started through ``watchkeeper run``, the app runs on that relay under the pilot, and every control is
sent the way a person sends it: a key on the session screen, a dialog, the command palette. What the
controls did is checked where it shows: the files the agent's tools write, what the model is sent,
the timeline's rows. Blocking waits run in threads so the app keeps running; every wait is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standins.anthropic import ScriptedAnthropic, text, tool_use
from test_steering_live import NEWEST, Watchkeeper, running_watchkeeper, start_run, two_bash_calls
from test_viewer_support import Notices, screen_text
from textual.pilot import Pilot
from textual.widgets import Input, TextArea
from waiting import until_app

from watchkeeper.breakpoints import Book, Matcher, relay_facts
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.screens.deny import DenyDialog
from watchkeeper.viewer.screens.inject import InjectDialog
from watchkeeper.viewer.screens.rule import RuleDialog
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen
from watchkeeper.viewer.widgets.controls import Controls

pytestmark = pytest.mark.node

SIZE = (120, 36)


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    yield from running_watchkeeper(tmp_path, monkeypatch)


def tui(wk: Watchkeeper, book: Book | None = None) -> WatchkeeperApp:
    return WatchkeeperApp(wk.relay, steer=SteerSetup(hooks_port=wk.hooks.port, breakpoints=book))


async def in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def open_session(app: WatchkeeperApp, pilot: Pilot[Any], session: str) -> SessionScreen:
    """The session screen, once the hooks have announced the session (a viewer is then subscribed)."""
    await until_app(pilot, lambda: app.session_info(session) is not None)
    screen = app.open_session(session)
    await until_app(pilot, lambda: screen.is_mounted and screen.feed is not None)
    return screen


async def type_text(pilot: Pilot[Any], value: str) -> None:
    await pilot.press(*("space" if c == " " else c for c in value))


def rows(screen: SessionScreen) -> list[str]:
    store = screen.timeline.store
    return ["".join(t for t, _ in store.row(h).summary) + " " + "".join(t for t, _ in store.row(h).status)
            for h in store.view]


def controls_text(screen: SessionScreen) -> str:
    return str(screen.query_one(Controls).content)


async def test_pause_holds_the_next_call_until_resume(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=1)
        with start_run(wk, NEWEST, api, tmp_path) as proc:
            app = tui(wk)
            async with app.run_test(size=SIZE) as pilot:
                screen = await open_session(app, pilot, proc.session_id)
                await in_thread(api.wait_for_request, "main", turn=1)
                assert screen.check_action("steer_resume", ()) is None
                await pilot.press("p")
                await until_app(pilot, lambda: screen.steer.paused)
                release.set()
                await until_app(pilot, lambda: bool(screen.steer.held))
                held = screen.steer.oldest
                assert held is not None and held.call_id == api.tool_use_ids()[1] and held.reason == "paused"
                assert (cwd / "one.txt").exists() and not (cwd / "two.txt").exists()
                await until_app(pilot, lambda: "⏸ waiting  Bash echo two > two.txt — paused" in controls_text(screen),
                                seen=lambda: controls_text(screen))
                assert screen.check_action("steer_pause", ()) is None
                assert screen.check_action("steer_resume", ()) is True
                assert not (cwd / "two.txt").exists() and proc.running
                await pilot.press("r")
                run = await in_thread(proc.wait, 60)
                await until_app(pilot, lambda: any(r.startswith("✓ resume") for r in rows(screen)))
                shown = rows(screen)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n"
    assert any(r.startswith("✓ pause  paused: the next tool call waits") for r in shown), shown
    assert any(r.startswith("✓ resume  resumed; 1 held call(s) go on") for r in shown), shown


async def test_step_mode_then_approve_then_deny_with_a_reason(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    reason = "Not now: the reviewer wants to see three.txt first"
    script = [*(([tool_use("Bash", {"command": f"echo {n} > {n}.txt"})]) for n in ("one", "two", "three")),
              [text("done")]]
    with ScriptedAnthropic(script) as api:
        release = api.hold(turn=0)
        calls = api.tool_use_ids()
        with start_run(wk, NEWEST, api, tmp_path) as proc:
            app = tui(wk)
            bells: list[int] = []
            app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
            async with app.run_test(size=SIZE) as pilot:
                screen = await open_session(app, pilot, proc.session_id)
                await in_thread(api.wait_for_request, "main", turn=0)
                await pilot.press("s")
                await until_app(pilot, lambda: screen.steer.step)
                release.set()

                await until_app(pilot, lambda: list(screen.steer.held) == calls[:1])
                assert screen.steer.held[calls[0]].reason == "step" and not (cwd / "one.txt").exists()
                await pilot.press("s")
                await until_app(pilot, lambda: list(screen.steer.held) == calls[1:2])
                assert (cwd / "one.txt").exists() and not (cwd / "two.txt").exists()

                await pilot.press("y")
                await until_app(pilot, lambda: list(screen.steer.held) == calls[2:3])
                assert (cwd / "two.txt").exists() and not (cwd / "three.txt").exists()

                await pilot.press("n")
                await until_app(pilot, lambda: isinstance(app.screen, DenyDialog))
                await type_text(pilot, reason)
                await pilot.press("enter")
                run = await in_thread(proc.wait, 60)
                await until_app(pilot, lambda: any(r.startswith("✓ deny") for r in rows(screen)))
                shown = rows(screen)
    assert run.returncode == 0, run.stderr
    assert not (cwd / "three.txt").exists()
    result = api.tool_result(calls[2])
    assert result is not None and reason in str(result["content"])
    assert any(r.startswith("✓ step  stepped: the call runs") for r in shown), shown
    assert any(r.startswith("✓ approve  approved: the call runs") for r in shown), shown
    assert any(r.startswith(f"✓ deny  denied: the agent is told why  “{reason}”") for r in shown), shown
    assert any(r.startswith("Bash  echo three > three.txt ⊘ denied") for r in shown), "\n".join(shown)
    assert bells == [], "stepping through the session on screen does not ring at each step"


async def test_inject_says_when_and_reaches_the_model(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    note = "Also mention the weather in Lisbon"
    with ScriptedAnthropic(two_bash_calls(cwd)) as api:
        release = api.hold(turn=1)
        with start_run(wk, NEWEST, api, tmp_path) as proc:
            app = tui(wk)
            notices = Notices(app)
            async with app.run_test(size=SIZE) as pilot:
                screen = await open_session(app, pilot, proc.session_id)
                await in_thread(api.wait_for_request, "main", turn=1)
                await pilot.press("i")
                await until_app(pilot, lambda: isinstance(app.screen, InjectDialog))
                dialog = app.screen
                assert isinstance(dialog, InjectDialog)
                assert "additional context on its next hook reply" in dialog.where
                assert "next tool boundary" in dialog.where and "Stop hook" in dialog.where
                await type_text(pilot, note)
                assert dialog.query_one(TextArea).text == note
                await pilot.press("ctrl+s")
                await until_app(pilot, lambda: any(r.startswith("✓ inject") for r in rows(screen)))
                assert api.requests_containing(note) == []
                blank = screen.send_control("inject", text="   ")
                await until_app(pilot, lambda: any(title == "inject rejected" for title, _ in notices))
                release.set()
                run = await in_thread(proc.wait, 60)
                await until_app(pilot, lambda: any(r.startswith(f"[injected] {note}") for r in rows(screen)))
                shown = rows(screen)
    assert run.returncode == 0, run.stderr
    carrying = api.requests_containing(note, route="main")
    assert carrying and carrying[0].turn == 2
    assert blank is not None
    assert any(r.startswith("✗ inject rejected: nothing to inject") for r in shown), shown


async def test_a_breakpoint_from_the_palette_holds_rm_rf_and_rings(wk: Watchkeeper, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    (cwd / "build").mkdir(parents=True)
    book = Book(tmp_path / "breakpoints.toml")
    wk.hooks.steering.breakpoint = Matcher(book, relay_facts(wk.relay))
    script = [[tool_use("Bash", {"command": "echo one > one.txt"})],
              [tool_use("Bash", {"command": "rm -rf build", "description": "clean"})], [text("done")]]
    with ScriptedAnthropic(script) as api:
        release = api.hold(turn=1)
        with start_run(wk, NEWEST, api, tmp_path) as proc:
            app = tui(wk, book)
            bells: list[int] = []
            app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
            async with app.run_test(size=SIZE) as pilot:
                await pilot.press("ctrl+p")
                await type_text(pilot, "text in the input")
                await pilot.press("enter")
                await until_app(pilot, lambda: isinstance(app.screen, RuleDialog))
                await type_text(pilot, "rm -rf")
                assert app.screen.query_one(Input).value == "rm -rf"
                await pilot.press("enter")
                await until_app(pilot, lambda: bool(book.rules))
                assert "rm -rf" in book.path.read_text()  # type: ignore[union-attr]

                await in_thread(api.wait_for_request, "main", turn=1)
                await until_app(pilot, lambda: proc.session_id in app.attention.watched)
                assert isinstance(app.screen, SessionsScreen) and bells == []
                release.set()
                await until_app(pilot, lambda: app.attention.count == 1)
                assert bells == [1]
                assert (cwd / "build").is_dir() and proc.running
                assert app.title.endswith("1 session waiting for you")
                await until_app(pilot, lambda: "⏸" in screen_text(app).splitlines()[2])

                await pilot.press("w")
                await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen.is_mounted)
                screen = app.screen
                assert isinstance(screen, SessionScreen)
                await until_app(pilot, lambda: bool(screen.steer.held))
                held = screen.steer.oldest
                assert held is not None and held.reason == "breakpoint" and held.rule == "input contains rm -rf"
                await until_app(pilot, lambda: "— breakpoint «input contains rm -rf»" in controls_text(screen),
                                seen=lambda: controls_text(screen))
                await pilot.press("y")
                run = await in_thread(proc.wait, 60)
    assert run.returncode == 0, run.stderr
    assert not (cwd / "build").exists()
    assert Book.load(book.path).get("input contains rm -rf") is not None


async def test_a_permission_prompt_in_the_tui_approved_once_then_always_after_reading_the_rule(
        wk: Watchkeeper, tmp_path: Path) -> None:
    from watchkeeper.viewer.screens.confirm import Confirm

    work = tmp_path / "work"
    script = [[tool_use("Write", {"file_path": str(work / "a.txt"), "content": "a"})],
              [tool_use("Write", {"file_path": str(work / "b.txt"), "content": "b"})],
              [tool_use("Write", {"file_path": str(work / "c.txt"), "content": "c"})], [text("done")]]
    api = ScriptedAnthropic(script)
    release = api.hold(turn=0)
    with api, start_run(wk, NEWEST, api, tmp_path) as proc:
        app = tui(wk)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_session(app, pilot, proc.session_id)
            release.set()
            await until_app(pilot, lambda: bool(screen.steer.held))
            first = screen.steer.oldest
            assert first is not None and first.describe() == "needs permission" and first.always_rule
            await until_app(pilot, lambda: "needs permission" in controls_text(screen),
                            seen=lambda: controls_text(screen))
            await pilot.press("y")
            await until_app(pilot, lambda: (work / "a.txt").exists())
            await until_app(pilot, lambda: bool(screen.steer.held) and screen.steer.oldest is not None
                            and screen.steer.oldest.call_id != first.call_id)
            second = screen.steer.oldest
            assert second is not None and second.always_rule
            await pilot.press("Y")
            await until_app(pilot, lambda: isinstance(app.screen, Confirm))
            shown = screen_text(app)
            assert "acceptEdits" in shown and "stops asking" in shown, shown
            await pilot.click("#yes")
            run = await in_thread(proc.wait, 60)
    assert run.returncode == 0, run.stderr
    assert all((work / n).exists() for n in ("a.txt", "b.txt", "c.txt"))
    assert [r.turn for r in api.requests_for("main")] == [0, 1, 2, 3]
