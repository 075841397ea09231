"""The fleet view with real processes: a hub, edges pushing to it (``serve --upstream``), and ``attach``'s viewer.

The hub and each edge are ``watchkeeper serve`` processes with their own
config directories (``test_edges.Fleet``); sessions are recordings written
into an edge's discovery root. The viewer is the real app under its pilot,
fed by a local relay that follows the hub as ``attach`` does. What a person
sees: a group per edge with its host and how many sessions it has, the list
narrowed to one edge, and a killed edge's header saying it is unreachable
until the edge is back.
"""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

import orjson
from fleet_list_support import choose, row_keys
from fleet_support import Fleet, record
from remote_support import Attached
from test_viewer_support import screen_text
from textual.pilot import Pilot
from waiting import until, until_app
from websockets.asyncio.server import ServerConnection, serve

from watchkeeper.protocol import Kind, make_event
from watchkeeper.protocol.origin import Origin
from watchkeeper.relay import IterSource, Relay
from watchkeeper.relay.servers.upstream import Upstream
from watchkeeper.relay.servers.wsserver import serve_ws
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.picker import Picker
from watchkeeper.viewer.screens.sessions import SessionsScreen

WAIT = 60.0
SIZE = (80, 24)


def headers(app: WatchkeeperApp) -> dict[str, tuple[int, bool]]:
    """The group headers on the sessions screen: name -> (sessions, reachable)."""
    screen = app.screen
    if not isinstance(screen, SessionsScreen):
        return {}
    return {g.name: (len(g.sessions), g.reachable) for g in screen.headers.values()}


def header_line(app: WatchkeeperApp, name: str) -> str:
    """The header row of group ``name`` as drawn (the first line that starts a group so named)."""
    return next((line for line in screen_text(app).splitlines() if f" {name} · " in line and "edge" in line), "")


async def grouped(app: WatchkeeperApp, pilot: Pilot[Any], want: dict[str, tuple[int, bool]]) -> None:
    await until_app(pilot, lambda: headers(app) == want, what=f"the groups {want}", timeout=WAIT,
                    seen=lambda: screen_text(app))


async def test_attach_to_a_hub_groups_by_edge_narrows_to_one_and_shows_a_killed_edge_unreachable(
        fleet: Fleet) -> None:
    """Until it is back: a restarted edge's group is reachable again."""
    for name in ("alpha", "beta"):
        fleet.start_edge(name)
    record(fleet.root("alpha"), "s-alpha-1", 3).close()
    alpha_2 = record(fleet.root("alpha"), "s-alpha-2", 2)
    beta = record(fleet.root("beta"), "s-beta", 2)
    attached = Attached(fleet.hub.url, token=fleet.hub.token)
    try:
        app = WatchkeeperApp(attached.relay)
        async with app.run_test(size=SIZE) as pilot:
            await grouped(app, pilot, {"alpha": (2, True), "beta": (1, True)})
            await until_app(pilot, lambda: "2 sessions" in header_line(app, "alpha")
                            and "1 session" in header_line(app, "beta"), seen=lambda: screen_text(app))
            host = next(i.origin.host for i in app.sessions if i.origin is not None)
            assert host[:10] in header_line(app, "beta"), "the edge's host is in its header"
            assert all(len(line.rstrip()) <= SIZE[0] for line in screen_text(app).splitlines())

            await pilot.press("O")
            picker = await until_app(pilot, lambda: isinstance(app.screen, Picker) and app.screen)
            assert isinstance(picker, Picker)
            screen = app.screen_stack[-2]
            assert isinstance(screen, SessionsScreen)
            beta_key = next(g.key for g in screen.headers.values() if g.name == "beta")
            await choose(pilot, picker, beta_key)
            await until_app(pilot, lambda: row_keys(app)[1:] == ["s-beta"], what="beta's session only",
                            timeout=WAIT, seen=lambda: screen_text(app))
            assert "run s-alpha" not in screen_text(app) and "run s-beta" in screen_text(app)
            app.open_session("s-beta")
            await until_app(pilot, lambda: "edge beta on " in screen_text(app).splitlines()[0],
                            what="the session's header names its edge", seen=lambda: screen_text(app))
            await pilot.press("escape")
            await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))
            await pilot.press("O")
            await until_app(pilot, lambda: len(row_keys(app)) == 5, what="every edge again",
                            seen=lambda: screen_text(app))

            os.kill(fleet.edges["beta"].proc.pid, signal.SIGKILL)
            fleet.edges["beta"].proc.wait(10)
            await grouped(app, pilot, {"alpha": (2, True), "beta": (1, False)})
            await until_app(pilot, lambda: "unreachable" in header_line(app, "beta"), timeout=WAIT,
                            seen=lambda: screen_text(app))
            assert "unreachable" not in header_line(app, "alpha")
            info = app.session_info("s-beta")
            assert info is not None and info.state == "unreachable" and not info.live

            fleet.start_edge("beta")
            await grouped(app, pilot, {"alpha": (2, True), "beta": (1, True)})
            await until_app(pilot, lambda: "1 session" in header_line(app, "beta")
                            and "unreachable" not in header_line(app, "beta"), what="beta reachable again",
                            timeout=WAIT, seen=lambda: screen_text(app))
    finally:
        attached.stop()
        alpha_2.close()
        beta.close()


HOSTILE = "[red]e\x1b[2Jvil\u202e" + "-" * 70


class HostileHub:
    """A hub that lists any edge name (one of an earlier release, or a hostile one; ``serve`` refuses such a
    name from an edge): ``s-hostile`` from that edge, ``s-hub`` its own."""

    epoch = "r-hostile"

    def started(self, session: str) -> dict[str, Any]:
        return {**make_event(f"{session}:start", session, Kind.SESSION_STARTED, {"title": session}),
                "seq": 0, "epoch": self.epoch}

    async def __call__(self, ws: ServerConnection) -> None:
        await ws.send(orjson.dumps({"t": "hello", "v": 1, "epoch": self.epoch, "server": "hub",
                                    "capabilities": ["sessions", "range"]}).decode())
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg.get("t") == "subscribe":
                events = [self.started("s-hostile"), self.started("s-hub")]
                await ws.send(orjson.dumps({"t": "events", "events": events}).decode())
            elif msg.get("t") == "sessions":
                origin = {"edge": HOSTILE, "host": "h-hostile", "connected": True}
                rows = [{"session": "s-hostile", "live": True, "origin": origin}, {"session": "s-hub", "live": True}]
                await ws.send(orjson.dumps({"t": "sessions", "id": msg.get("id"), "sessions": rows}).decode())


async def test_an_edge_name_is_shown_as_data_cut_never_as_markup_or_terminal_control() -> None:
    async with serve(HostileHub(), "127.0.0.1", 0) as hub:
        attached = Attached(f"ws://127.0.0.1:{next(iter(hub.sockets)).getsockname()[1]}")
        try:
            app = WatchkeeperApp(attached.relay)
            async with app.run_test(size=SIZE) as pilot:
                shown = "[red]e␛[2Jv"
                await until_app(pilot, lambda: shown in screen_text(app) and "s-hub" in screen_text(app),
                                what="the edge's group and the hub's own", timeout=WAIT, seen=lambda: screen_text(app))
                line = next(line for line in screen_text(app).splitlines() if shown in line)
                assert "edge" in line and "…" in line and "1 session" in line, "cut, with its count"
                assert len(line.rstrip()) <= SIZE[0] and "-" * 30 not in line
                assert "\x1b" not in app.export_screenshot() and "\u202e" not in app.export_screenshot()
                app.open_session("s-hostile")
                await until_app(pilot, lambda: "edge [red]e␛[2Jv" in screen_text(app).splitlines()[0],
                                what="the session's header names its edge, as data", seen=lambda: screen_text(app))
                assert "\x1b" not in app.export_screenshot() and "\u202e" not in app.export_screenshot()
                await pilot.press("escape")
                await until_app(pilot, lambda: isinstance(app.screen, SessionsScreen))
                await pilot.press("O")
                picker = await until_app(pilot, lambda: isinstance(app.screen, Picker) and app.screen)
                assert isinstance(picker, Picker)
                await until_app(pilot, lambda: "edge [red]e␛[2Jvil⟨U+202E⟩--…" in screen_text(app),
                                seen=lambda: screen_text(app))
                assert "\x1b" not in app.export_screenshot()
        finally:
            attached.stop()


def test_the_hubs_own_relay_knows_each_sessions_edge_and_when_it_left() -> None:
    """The hub's side, in process over loopback: its relay's summary carries the edge (``EdgeSource``)."""
    hub = Relay().start()
    edge = Relay().start()
    try:
        hub_server = serve_ws(hub, None, port=0)
        edge_server = serve_ws(edge, None, port=0)
        assert hub_server.ready.wait(10) and edge_server.ready.wait(10)
        edge.add_source(Upstream(edge_server, f"ws://127.0.0.1:{hub_server.port}", "", edge="gamma"))
        edge.add_source(IterSource("one", [make_event("g:start", "s-g", Kind.SESSION_STARTED, {"title": "g"})]))
        here = socket.gethostname()
        until(lambda: (i := hub.session("s-g")) is not None and i.origin == Origin("gamma", here),
              what="the hub's summary names the edge", timeout=WAIT)
        edge.stop()
        until(lambda: (i := hub.session("s-g")) is not None and i.origin == Origin("gamma", here, False)
              and i.state == "unreachable", what="the edge gone: unreachable", timeout=WAIT)
    finally:
        edge.stop()
        hub.stop()
