"""The approvals inbox under the pilot: real SDK agents over the real websocket ask for approval.

Two agents connect to a served relay and each asks the person about a tool
call. The app runs on that relay (a local session) or on a relay attached to it
(``attach``); **h** opens the inbox, **y** approves one, **n** denies the other
with a reason typed in the deny dialog, and the agents' own ``approval()``
calls return those decisions. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from remote_support import TOKEN, Attached, Served
from test_tui_steering_unit import LiveHooked
from test_viewer_support import Events, screen_text
from waiting import until_app, until_async

from watchkeeper import sdk
from watchkeeper.protocol.origin import Origin
from watchkeeper.protocol.session import Held
from watchkeeper.relay import Relay
from watchkeeper.relay.api import SessionInfo
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.inbox import clock_text, countdown, entries
from watchkeeper.viewer.model.origins import where_from
from watchkeeper.viewer.model.rows import parse_ts
from watchkeeper.viewer.screens.deny import DenyDialog
from watchkeeper.viewer.screens.inbox import InboxScreen, entry_prompt
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.widgets.controls import Controls

SIZE = (100, 30)
NOW = parse_ts("2026-11-27T18:05:00.000Z") or 0.0


# --- the countdown, from an injected clock -----------------------------------------------------


def held(expires_at: str | None = None, on_expiry: str | None = None, since: str | None = None) -> Held:
    return Held("toolu_1", "Bash", {"command": "ls"}, "breakpoint", "ls", since=since, expires_at=expires_at,
                on_expiry=on_expiry)


@pytest.mark.parametrize(("expires_at", "on_expiry", "said"), [
    ("2026-11-27T18:09:32.000Z", "continue", "goes on under the agent's own rules in 4:32"),
    ("2026-11-27T18:05:40.000Z", "deny", "is denied in 0:40"),
    ("2026-11-27T19:07:05.000Z", "continue", "goes on under the agent's own rules in 1:02:05"),
    ("2026-11-27T18:04:00.000Z", "continue", "goes on under the agent's own rules now"),
    (None, None, "waits for you"),
])
def test_the_countdown_says_what_happens_and_when(expires_at: str | None, on_expiry: str | None, said: str) -> None:
    assert countdown(held(expires_at, on_expiry), NOW) == said


def test_the_countdown_counts_down_with_the_clock() -> None:
    call = held("2026-11-27T18:09:32.000Z", "continue")
    assert [countdown(call, NOW + s).rsplit(" ", 1)[1] for s in (0, 1, 59, 60, 271, 272)] == [
        "4:32", "4:31", "3:33", "3:32", "0:01", "now"]
    assert clock_text(-5) == "0:00"


def test_entries_are_every_held_call_oldest_first_across_sessions() -> None:
    a = SessionInfo("a", "sdk", title="Alpha", held=(held(since="2026-11-27T18:03:00Z"),))
    b = SessionInfo("b", "sdk", title=None, held=(held(since="2026-11-27T18:01:00Z"),
                                                  Held("toolu_2", "Read", {}, None, None, since=None)))
    got = [(e.session, e.title, e.call.call_id) for e in entries([a, b])]
    assert got == [("b", "sdk b", "toolu_1"), ("a", "Alpha", "toolu_1"), ("b", "sdk b", "toolu_2")]


def test_a_call_held_on_an_edge_says_which_edge_and_host_and_whether_it_can_be_reached() -> None:
    pushed = SessionInfo("e", "sdk", title="Deploy", held=(held(),), origin=Origin("alpha", "build-3"))
    away = SessionInfo("f", "sdk", title="Sweep", held=(held(),), origin=Origin("beta", "build-4", False))
    own = SessionInfo("g", "sdk", title="Local", held=(held(),), origin=Origin(None, "hub-relay"))
    by_title = {e.title: e for e in entries([pushed, away, own])}
    assert where_from(by_title["Deploy"].origin) == "edge alpha on build-3"
    assert where_from(by_title["Sweep"].origin) == "edge beta on build-4, unreachable"
    assert where_from(by_title["Local"].origin) is None, "a relay's own session is not from an edge"
    shown = entry_prompt(by_title["Deploy"], 0.0, 80).plain.splitlines()
    assert shown[1].startswith("edge alpha on build-3 · breakpoint"), shown
    hostile = SessionInfo("h", "sdk", title="x", held=(held(),), origin=Origin("[b]e\x1b[2J" + "v" * 90, "h"))
    line = entry_prompt(entries([hostile])[0], 0.0, 80).plain.splitlines()[1]
    assert "\x1b" not in line and "␛[2J" in line and "[b]e" in line and "…" in line and len(line) <= 80, line


# --- the inbox, with real agents --------------------------------------------------------------


@pytest.fixture(params=["local", "attach"])
def viewer_relay(request: pytest.FixtureRequest, served: Served) -> Iterator[Relay]:
    """The relay the app runs on: the served one itself, or one attached to it over the websocket."""
    if request.param == "local":
        yield served.relay
        return
    attached = Attached(served.url)
    yield attached.relay
    attached.stop()


@pytest.fixture
async def agents(served: Served) -> AsyncIterator[list[sdk.AgentRun]]:
    runs = [await sdk.connect(served.url, token=TOKEN, title=t) for t in ("Build the site", "Tidy the logs")]
    yield runs
    for run in runs:
        await run.close()


def inbox_text(app: WatchkeeperApp) -> str:
    return screen_text(app)


async def test_decide_held_calls_of_two_agents_from_the_inbox(served: Served, viewer_relay: Relay,
                                                             agents: list[sdk.AgentRun]) -> None:
    build, tidy = agents
    reason = "not the logs of last week"
    app = WatchkeeperApp(viewer_relay)
    async with app.run_test(size=SIZE) as pilot:
        await until_app(pilot, lambda: app.attention.watched >= {build.session, tidy.session},
                        seen=lambda: app.attention.watched)
        await until_async(lambda: all(served.server.viewers(r.session) > 0 for r in agents),
                          what="someone watches both agents")
        await pilot.press("h")
        inbox = await until_app(pilot, lambda: app.screen if isinstance(app.screen, InboxScreen) else None)
        await until_app(pilot, lambda: "Nothing is held: no call waits for you." in inbox_text(app),
                        seen=lambda: inbox_text(app))

        first = build.tool_started("shell", {"cmd": "make site"})
        asked_first = asyncio.create_task(build.approval(first, name="shell", input={"cmd": "make site"}))
        await until_app(pilot, lambda: len(inbox.entries) == 1)
        second = tidy.tool_started("shell", {"cmd": "rm old.log"})
        asked_second = asyncio.create_task(tidy.approval(second, name="shell", input={"cmd": "rm old.log"},
                                                         timeout=None))
        await until_app(pilot, lambda: len(inbox.entries) == 2)
        assert [(e.title, e.call.call_id) for e in inbox.entries] == [("Build the site", first),
                                                                      ("Tidy the logs", second)]
        text = inbox_text(app)
        assert "2 calls held for you, oldest first" in text
        assert "Build the site · shell  make site" in text and "Tidy the logs · shell  rm old.log" in text
        assert "approval · goes on under the agent's own rules in " in text and "approval · waits for you" in text

        await pilot.press("y")
        decision = await asyncio.wait_for(asked_first, 20)
        assert decision.verdict == "approve"
        await until_app(pilot, lambda: [e.call.call_id for e in inbox.entries] == [second])
        await until_app(pilot, lambda: "✓ approve  shell make site — approved" in inbox_text(app),
                        seen=lambda: inbox_text(app))

        await pilot.press("n")
        dialog = await until_app(pilot, lambda: app.screen if isinstance(app.screen, DenyDialog) else None)
        assert dialog.call.call_id == second
        await pilot.press(*("space" if c == " " else c for c in reason))
        await pilot.press("enter")
        decision = await asyncio.wait_for(asked_second, 20)
        assert (decision.verdict, decision.reason) == ("deny", reason)
        await until_app(pilot, lambda: not inbox.entries)
        denied = f"✓ deny  shell rm old.log — denied: the agent is told why  “{reason}”"
        text = await until_app(pilot, lambda: t if denied in (t := inbox_text(app)) else None,
                               seen=lambda: inbox_text(app))
        assert "Nothing is held: no call waits for you." in text
        assert "no longer held" not in text  # the person decided both: neither went away by itself
    await tidy.flush()
    finished = [e for e in served.events(tidy.session) if e["kind"] == "tool.finished"]
    assert finished[-1]["data"]["status"] == "denied" and reason in str(finished[-1]["data"]["output"])


async def test_a_call_let_go_elsewhere_leaves_the_inbox_and_says_so(served: Served,
                                                                   agents: list[sdk.AgentRun]) -> None:
    build = agents[0]
    app = WatchkeeperApp(served.relay)
    async with app.run_test(size=SIZE) as pilot:
        await until_async(lambda: served.server.viewers(build.session) > 0, what="someone watches the agent")
        await pilot.press("h")
        inbox = await until_app(pilot, lambda: app.screen if isinstance(app.screen, InboxScreen) else None)
        call = build.tool_started("shell", {"cmd": "make site"})
        asked = asyncio.create_task(build.approval(call, name="shell", input={"cmd": "make site"}))
        await until_app(pilot, lambda: len(inbox.entries) == 1)
        await pilot.press("enter")
        opened = await until_app(pilot, lambda: app.screen if isinstance(app.screen, SessionScreen) else None)
        assert opened.session_id == build.session
        await pilot.press("escape")
        await until_app(pilot, lambda: app.screen is inbox)
        outcome = await asyncio.to_thread(lambda: served.relay.control(
            {"id": "elsewhere-1", "session": build.session, "control": "approve", "call_id": call,
             "by": "someone else"}).result(10))
        assert outcome["kind"] == "control.applied"
        assert (await asyncio.wait_for(asked, 20)).verdict == "approve"
        await until_app(pilot, lambda: "shell make site — no longer held" in inbox_text(app),
                        seen=lambda: inbox_text(app))
        await pilot.press("h")
        await until_app(pilot, lambda: not isinstance(app.screen, InboxScreen))


# --- the countdown on the session screen ------------------------------------------------------


def timed_hold_session() -> list[Any]:
    from watchkeeper.adapters.claude_code.hooks import STEERABLE

    e = Events()
    out = e.started("Deploy the site")
    out[0]["data"]["capabilities"] = dict(STEERABLE)
    out += [e.call_start("toolu_dep", "Bash", {"command": "make deploy"}),
            e.ev("tool.waiting", {"call_id": "toolu_dep", "name": "Bash", "input": {"command": "make deploy"},
                                  "reason": "breakpoint", "why": "breakpoint", "rule": "deploys",
                                  "expires_at": "2026-11-27T18:09:32.000Z", "on_expiry": "continue"},
                 id="tool:toolu_dep:waiting")]
    return out


async def test_the_session_screen_counts_down_in_the_controls_and_the_row() -> None:
    now = [NOW]
    relay = Relay().start()
    try:
        relay.add_source(LiveHooked(timed_hold_session()))
        app = WatchkeeperApp(relay, clock=lambda: now[0])
        async with app.run_test(size=(140, 30)) as pilot:
            await until_app(pilot, lambda: app.session_info(Events().session) is not None)
            screen = app.open_session(Events().session)
            controls = await until_app(pilot, lambda: screen.query(Controls).first() if isinstance(
                app.screen, SessionScreen) and screen.query(Controls) else None)
            said = "breakpoint «deploys» · goes on under the agent's own rules in "
            await until_app(pilot, lambda: f"{said}4:32" in str(controls.content), seen=lambda: controls.content)
            await until_app(pilot, lambda: "⏸ waiting (breakpoint) 4:32 left" in screen_text(app),
                            seen=lambda: screen_text(app))
            now[0] += 61
            await until_app(pilot, lambda: f"{said}3:31" in str(controls.content), seen=lambda: controls.content)
            await until_app(pilot, lambda: "⏸ waiting (breakpoint) 3:31 left" in screen_text(app),
                            seen=lambda: screen_text(app))
    finally:
        relay.stop()
