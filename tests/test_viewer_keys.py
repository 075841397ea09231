"""Keys: the footer keeps the keys that matter at any width, shows only controls a session honours,
and a key means one thing wherever it is bound (``viewer/model/keys.py``, ``widgets/footer.py``)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import SAMPLE_LOGS
from rich.cells import cell_len
from test_tui_steering_unit import LiveHooked, held_session
from test_viewer_support import SESSION, Events, relay_with, screen_text, status_text
from textual.binding import Binding, BindingType
from textual.pilot import Pilot
from textual.screen import ModalScreen
from waiting import until_app

import watchkeeper.viewer
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.replay import first_session
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.model.keys import TABLES, Shown, choose, listed
from watchkeeper.viewer.replay_app import ReplayApp
from watchkeeper.viewer.screens.replay import ReplayScreen
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.screens.session_steering import SteerableScreen
from watchkeeper.viewer.screens.sessions import SessionsScreen
from watchkeeper.viewer.widgets.controls import Controls
from watchkeeper.viewer.widgets.detail_pane import DetailPane
from watchkeeper.viewer.widgets.footer import KeyFooter
from watchkeeper.viewer.widgets.timeline import Timeline

NARROW = (80, 24)
WIDE = (160, 45)
#: What must always show on a session screen, even at 80 columns.
ESSENTIAL = ("Search", "Errors", "Tool", "Help", "Quit")
STEERING = ("Pause", "Resume", "Approve", "Deny", "Step", "Inject", "Cancel")
SAMPLE = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"


def footer(app: Any) -> list[str]:
    """The footer's keys (descriptions) once each is drawn whole on the screen's last line; until then
    (a frame not yet drawn) none, so a wait goes on."""
    keys = app.screen.query_one(KeyFooter).keys
    line = screen_text(app).splitlines()[-1]
    drawn = all(f"{key.key_display} {key.description}" in line
                for key in app.screen.query_one(KeyFooter).query("FooterKey"))
    return keys if drawn else []


async def until_footer(app: Any, pilot: Pilot[Any], *wanted: str) -> list[str]:
    keys: list[str] = await until_app(pilot, lambda: k if set(wanted) <= set(k := footer(app)) else None,
                                      what=f"the footer to show {wanted}", seen=lambda: footer(app))
    return keys


# --- the priority table, pure --------------------------------------------------------------------


def test_the_most_important_keys_that_fit_are_kept_in_the_tables_order() -> None:
    keys = [Shown("session.clear", "x", 9), Shown("app.quit", "q", 8), Shown("session.search", "/", 10),
            Shown("app.inbox", "h", 8), Shown("session.view", "v", 16), Shown("timeline.collapse", "z", 12)]
    # Room for the three most important and the inbox; the conversation key does not fit, the clear key would
    # but matters less than the zoom-sized gap left.
    assert [keys[i].id for i in choose("session", keys, 26)] == ["session.search", "app.inbox", "app.quit"]
    assert [keys[i].id for i in choose("session", keys, 42)] == ["session.search", "app.inbox", "session.view",
                                                                  "app.quit"]
    assert len(choose("session", keys, 1000)) == len(keys)


def test_a_dimmed_key_gives_way_before_any_usable_one_and_unlisted_keys_come_last() -> None:
    keys = [Shown("steer.approve", "y", 10, enabled=False), Shown("session.clear", "x", 10),
            Shown("", "F9", 10)]
    assert choose("session", keys, 10) == [1]
    assert choose("session", keys, 20) == [0, 1]
    assert choose("session", keys, 30) == [0, 1, 2]


def test_the_bindings_other_parts_add_already_have_their_place() -> None:
    """Inbox, conversation and zoom count more than collapse/agent/clear and less than the essentials."""
    session = dict(TABLES["session"])
    essentials = [session[i] for i in ("session.search", "session.errors", "session.tool", "app.help", "app.quit")]
    reading = [session[i] for i in ("app.inbox", "session.view", "session.zoom", "session.focus_detail", "tab")]
    lesser = [session[i] for i in ("timeline.collapse", "session.agent", "session.clear")]
    assert max(essentials) < min(reading) and max(reading) < min(lesser)
    assert listed("session", "session.quiet") and listed("session", "session.kind")
    assert all(listed(screen, "app.inbox") for screen in TABLES)


def shown_bindings(*classes: type) -> Iterator[Binding]:
    for cls in classes:
        for klass in cls.__mro__:
            for b in vars(klass).get("BINDINGS", ()):
                if isinstance(b, Binding) and b.show and klass.__module__.startswith("watchkeeper."):
                    yield b


@pytest.mark.parametrize(("screen", "classes"), [
    ("sessions", (WatchkeeperApp, SessionsScreen)),
    ("session", (WatchkeeperApp, SteerableScreen, Timeline, DetailPane)),
    ("replay", (WatchkeeperApp, ReplayScreen, Timeline, DetailPane)),
])
def test_every_key_a_footer_may_show_has_a_place_in_its_table(screen: str, classes: tuple[type, ...]) -> None:
    missing = [f"{b.key} {b.description} ({b.id})" for b in shown_bindings(*classes)
               if not (listed(screen, b.id or "") or listed(screen, b.key))]
    assert missing == [], f"add these to TABLES[{screen!r}] in viewer/model/keys.py"


# --- a key means one thing -------------------------------------------------------------------------


def viewer_classes() -> Iterator[type]:
    for info in pkgutil.walk_packages(watchkeeper.viewer.__path__, "watchkeeper.viewer."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and "BINDINGS" in vars(cls):
                yield cls


def test_a_key_means_one_thing_on_every_screen_that_has_it() -> None:
    """Across the main screens and their widgets; a dialog answers its own question (y/n in a confirmation)
    but Escape always backs out of it, and ? or F1 toggles help wherever help opens."""
    meanings: defaultdict[str, set[str]] = defaultdict(set)
    closes: set[str] = set()
    actions: set[str] = set()
    for cls in viewer_classes():
        for b in vars(cls)["BINDINGS"]:
            assert isinstance(b, Binding)
            actions.add(b.action)
            for key in b.key.split(","):
                if key == "escape":
                    closes.add(b.description)
                elif not issubclass(cls, ModalScreen) or key in ("question_mark", "f1"):
                    meanings[key].add(b.description)
    clashes = {key: sorted(m) for key, m in meanings.items() if len(m) > 1}
    assert clashes == {}
    assert closes <= {"Back", "Cancel", "Close", "Done", "Sessions"}, "Escape goes back (on a session: to the list)"
    assert meanings["d"] == {"Detail"} and meanings["z"] == {"Collapse"} and meanings["space"] == {"Play/Pause"}
    # Only q leaves the app; nothing on a key starts something else in its place.
    assert not {a for a in actions if "demo" in a or "exit" in a}


async def test_d_on_the_sessions_list_stays_and_on_a_session_hides_the_detail() -> None:
    relay = relay_with(Events().whole_session())
    try:
        app = WatchkeeperApp(relay)
        async with app.run_test(size=NARROW) as pilot:
            await until_app(pilot, lambda: bool(app.sessions) and "claude-code" in screen_text(app))
            await pilot.press("d")
            await pilot.pause()
            assert app.is_running and app.return_value is None and isinstance(app.screen, SessionsScreen)
            assert "Demo" not in footer(app)
            await pilot.press("enter")
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            detail = app.screen.query_one(DetailPane)
            assert detail.display
            await pilot.press("d")
            await until_app(pilot, lambda: not detail.display)
    finally:
        relay.stop()


# --- the footer on each screen ---------------------------------------------------------------------


async def test_an_observe_only_session_at_80_columns_shows_the_essentials_and_no_steering_key() -> None:
    relay = relay_with(Events().whole_session())
    try:
        app = WatchkeeperApp(relay, open_session=SESSION)
        async with app.run_test(size=NARROW) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            keys = await until_footer(app, pilot, *ESSENTIAL)
            assert not set(STEERING) & set(keys)
            assert keys[:3] == ["Search", "Errors", "Tool"] and keys[-2:] == ["Help", "Quit"]
            assert status_text(app).count("observe-only") == 1 and not app.screen.query_one(Controls).display
    finally:
        relay.stop()


def partly_steerable() -> list[Any]:
    """A held call on a source that honours pause, resume, approve and deny only."""
    events = held_session(Events(), "Clean the build")
    events[0]["data"]["capabilities"] = {"pause": True, "resume": True, "approve": True, "deny": True,
                                         "why": "this source can hold calls but not inject or cancel"}
    return events


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_a_steerable_session_shows_keys_only_for_the_controls_it_honours(size: tuple[int, int]) -> None:
    relay = Relay().start()
    relay.add_source(LiveHooked(partly_steerable()))
    try:
        app = WatchkeeperApp(relay, open_session=SESSION, steer=SteerSetup(hooks_port=47717))
        async with app.run_test(size=size) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SteerableScreen) and bool(app.screen.steer.held))
            keys = await until_footer(app, pilot, *ESSENTIAL, "Approve", "Deny")
            assert not {"Inject", "Cancel", "Step"} & set(keys)
            screen = app.screen
            assert isinstance(screen, SteerableScreen)
            assert screen.check_action("steer_inject", ()) is False
            assert screen.check_action("steer_pause", ()) is True
            if size == WIDE:
                assert {"Pause", "Resume", "Held", "Conversation", "Zoom", "Pane", "Follow", "Copy"} <= set(keys)
    finally:
        relay.stop()


class SessionWithTheirKeys(SteerableScreen):
    """The session screen with the bindings other parts add (conversation, zoom, Tab, quiet rows)."""

    CSS_PATH = str(Path(inspect.getfile(SessionScreen)).with_name("session.tcss"))

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "noop('view')", "Conversation", id="session.view"),
        Binding("m", "noop('zoom')", "Zoom", id="session.zoom"),
        Binding("tab", "noop('detail')", "Detail", id="session.focus_detail"),
        Binding("u", "noop('quiet')", "Usage/state rows", id="session.quiet"),
    ]

    def action_noop(self, what: str) -> None:
        pass


class WithTheKeysOthersAdd(WatchkeeperApp):
    """The app with the inbox key on every screen, and the session screen above."""

    BINDINGS: ClassVar[list[BindingType]] = [*WatchkeeperApp.BINDINGS,
                                             Binding("h", "inbox", "Held", id="app.inbox")]

    def action_inbox(self) -> None:
        pass

    def open_session(self, session: str) -> SessionScreen:
        screen = SessionWithTheirKeys(self.relay, session, self.session_info(session))
        self.push_screen(screen)
        return screen


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_keys_other_parts_add_slot_in_by_their_priority(size: tuple[int, int]) -> None:
    relay = relay_with(Events().whole_session())
    try:
        app = WithTheKeysOthersAdd(relay, open_session=SESSION)
        async with app.run_test(size=size) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            keys = await until_footer(app, pilot, *ESSENTIAL, "Held")
            if size == NARROW:
                assert not {"Agent", "Clear", "Usage/state rows"} & set(keys)
            else:
                assert {"Conversation", "Zoom", "Detail", "Agent", "Clear"} <= set(keys), keys
                order = [k for k in keys if k in ("Search", "Held", "Conversation", "Zoom", "Agent", "Help")]
                assert order == ["Search", "Held", "Conversation", "Zoom", "Agent", "Help"]
    finally:
        relay.stop()


async def test_a_replay_at_80_columns_shows_its_keys_and_a_player_bar_that_fits() -> None:
    relay = Relay().start()
    relay.add_source(TranscriptSource(SAMPLE, follow=False))
    try:
        app = ReplayApp(relay, open_session=first_session(SAMPLE), paused=True, looked_in=[str(SAMPLE)])
        async with app.run_test(size=NARROW) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.playhead.loaded)
            screen = app.screen
            assert isinstance(screen, ReplayScreen)
            await pilot.press("G")
            await until_app(pilot, lambda: "■ ended" in screen.player.text)
            keys = await until_footer(app, pilot, "Play/Pause", *ESSENTIAL)
            assert keys[0] == "Play/Pause"
            bar = screen.player.text
            assert bar.endswith("│ ? keys") and cell_len(bar) <= screen.player.content_size.width
            assert "event 35 / 35" in bar and bar in screen_text(app)
            # Wider, it has room for the wall-clock time too.
            await pilot.resize_terminal(*WIDE)
            await until_app(pilot, lambda: "  at " in screen.player.text)
    finally:
        relay.stop()


def focus_logged(app_class: type[WatchkeeperApp]) -> Any:
    """``app_class`` noting each widget it focuses (``focused``), from its first frame: every focus bubbles up
    to the app as ``DescendantFocus``."""

    class Logged(app_class):
        focused: ClassVar[list[str | None]] = []  # a new class each call: its own list

        def on_descendant_focus(self, event: Any) -> None:
            self.focused.append(event.widget.id)

    return Logged


@pytest.mark.parametrize("replay", [False, True], ids=["live", "replay"])
async def test_a_session_screen_focuses_its_timeline_first_and_never_the_hidden_search_box(replay: bool) -> None:
    """Focused even for a frame, the search box takes every printable key, and a footer drawn then shows
    none of them (no Play/Pause, Errors, Help or Quit) until the next redraw of the footer."""
    relay = Relay().start()
    relay.add_source(TranscriptSource(SAMPLE, follow=False))
    session = first_session(SAMPLE)
    try:
        app = (focus_logged(ReplayApp)(relay, open_session=session, paused=True) if replay
               else focus_logged(WatchkeeperApp)(relay, open_session=session))
        async with app.run_test(size=NARROW) as pilot:
            await until_footer(app, pilot, *ESSENTIAL)
            assert isinstance(app.screen, SessionScreen) and app.screen.focused is app.screen.timeline
            assert app.focused and app.focused[0] == "timeline" and "search" not in app.focused, app.focused
    finally:
        relay.stop()


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_the_status_bar_is_one_line_at_80_columns_and_says_it_all_when_wide(size: tuple[int, int]) -> None:
    from watchkeeper.viewer.widgets.status import StatusBar

    relay = relay_with(Events().whole_session())
    try:
        app = WatchkeeperApp(relay, open_session=SESSION)
        async with app.run_test(size=size) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and "1 error" in status_text(app))
            bar = app.screen.query_one(StatusBar)
            await until_app(pilot, lambda: bar.size.height == 1, seen=lambda: status_text(app))
            text = status_text(app)
            assert "⊘ observe-only" in text and "1 error" in text
            if size == WIDE:
                assert "cache 2,000r/20w" in text and "of 17 rows shown" in text
    finally:
        relay.stop()
