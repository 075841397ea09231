"""The Textual app: the sessions screen, session screens, help, palette, themes, clipboard.

It talks to the world only through a :class:`~watchkeeper.relay.api.RelayAPI`:
the caller builds the relay and its sources and hands it in, so the same app
watches live sessions, a replay, or a remote relay. What it can steer through
(the hook endpoint, the breakpoints) comes in a :class:`SteerSetup`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme

from ..protocol.display import visible
from ..relay.api import RelayAPI, SessionInfo, Subscription
from ..retention import settle
from .breakpoint_palette import BreakpointCommands, books_of
from .host import ViewerHost
from .idle_gc import LOOK_EVERY, IdleCollector
from .kept_screens import KeptScreens
from .model.attention import Attention, title
from .model.control_availability import SteerSetup
from .model.feed import SessionsChanged, watch_sessions
from .palette import ScreenCommands
from .screens.session import SessionScreen
from .screens.session_steering import SteerableScreen
from .screens.sessions import SessionsScreen
from .theme import WATCHKEEPER, legible, load_theme, save_theme

#: Seconds after the app mounts that the process settles (``retention.settle``) if no session screen did.
SETTLE_WITHOUT_SESSION = 3.0


class WatchkeeperApp(App[str | None]):
    """Returns None on quit, or ``"demo"`` when the person asked for the demo."""

    TITLE = "watchkeeper"
    COMMANDS = App.COMMANDS | {ScreenCommands, BreakpointCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "toggle_help", "Help", id="app.help"),
        Binding("h", "inbox", "Held", id="app.inbox"),
    ]

    def __init__(
        self,
        relay: RelayAPI,
        *,
        open_session: str | None = None,
        looked_in: Sequence[str] = (),
        theme: str | None = None,
        clock: Callable[[], float] = time.time,
        steer: SteerSetup | None = None,
        preferences: Path | None = None,
    ) -> None:
        super().__init__()
        #: Wall-clock seconds for elapsed times and "3m ago"; fixed in snapshot tests.
        self.clock = clock
        self.relay = relay
        self.looked_in = list(looked_in)
        self.sessions: list[SessionInfo] = []
        self._first_session = open_session
        self._theme_name = theme
        #: Where the theme chosen last is remembered (the commands pass the config directory's file); None: nowhere.
        self.preferences = preferences
        self._start_theme: str | None = None
        self._watch: Subscription | None = None
        self.steer_setup = steer or SteerSetup()
        #: Sessions waiting for the person; the app rings the bell when one starts to.
        self.attention = Attention(relay)
        #: Full collections between keys, not during them.
        self.idle_gc = IdleCollector()
        #: The session screens shown last, kept while not shown.
        self.kept = KeptScreens(self)

    def get_default_screen(self) -> Screen:
        return _Opening() if self._first_session else SessionsScreen(self.looked_in)

    def on_mount(self) -> None:
        self.idle_gc.start()
        self.set_interval(LOOK_EVERY, self.idle_gc.tick)
        # A session screen settles the process a second after it mounts; the sessions list alone, later.
        self.set_timer(SETTLE_WITHOUT_SESSION, settle)
        self.register_theme(WATCHKEEPER)
        saved = load_theme(self.preferences) if self.preferences is not None else None
        self.theme = self._theme_name or (saved if saved in self.available_themes else WATCHKEEPER.name)
        self._start_theme = self.theme
        self.theme_changed_signal.subscribe(self, self._theme_chosen)
        self.sessions = list(self.relay.sessions())
        self._forward(self.sessions)
        self._attend(self.sessions)
        for text in self.steer_setup.notices:
            self.notify(text, severity="warning", timeout=20, markup=False)
        for book in books_of(self):
            for problem in book.problems:
                self.notify(problem, title="Breakpoints", severity="error", timeout=20, markup=False)
        self._watch = watch_sessions(self.relay, self)
        if self._first_session:
            self.open_session(self._first_session)

    def _theme_chosen(self, theme: Theme) -> None:
        """The person chose a theme (Ctrl+P, "Theme"): the next start opens in it. The theme the app
        started in (perhaps ``--theme``, for this run only) is not a choice: its signal may come late."""
        if theme.name == self._start_theme:
            return
        self._start_theme = None
        error = save_theme(self.preferences, theme.name) if self.preferences is not None else None
        if error is not None:
            self.notify(f"The theme is not remembered: {error}", severity="warning")

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self.idle_gc.touch()
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.idle_gc.stop()
        if self._watch is not None:
            self._watch.close()
        self.attention.close()

    def on_sessions_changed(self, message: SessionsChanged) -> None:
        self.sessions = message.sessions
        self._forward(message.sessions)
        self._attend(message.sessions)

    def _attend(self, infos: list[SessionInfo]) -> None:
        """Ring when a session starts waiting for the person (not for each step the person takes)."""
        newly = self.attention.update(infos)
        self.title = title(self.attention.count, self.TITLE)
        stepping = {s.session_id for s in self.screen_stack if isinstance(s, SteerableScreen) and _stepping(s)}
        if newly - stepping:
            self.bell()

    def _forward(self, infos: list[SessionInfo]) -> None:
        by_id = {i.session: i for i in infos}
        for screen in self.screen_stack:
            if isinstance(screen, SessionsScreen) or _is_inbox(screen):
                screen.sessions_changed(infos)  # type: ignore[attr-defined]
        for screen in {*self.kept.screens(), *(s for s in self.screen_stack if isinstance(s, SessionScreen))}:
            if screen.session_id in by_id:
                screen.session_changed(by_id[screen.session_id])

    def session_info(self, session: str) -> SessionInfo | None:
        return next((i for i in self.sessions if i.session == session), None)

    def open_session(self, session: str) -> SessionScreen:
        """Show ``session``'s screen: the one shown last, kept with its place, filters and history (reading a
        huge history again takes seconds), or a new one. A screen already in the stack (under the inbox)
        is gone back to, not shown twice."""
        screen = self.kept.get(session)
        if screen is None:
            screen = self.kept.add(self.new_session_screen(session))
        else:
            self.kept.touch(session)
        if screen in self.screen_stack:
            while self.screen is not screen:
                self.pop_screen()
        else:
            self.push_screen(screen)
        return screen

    def new_session_screen(self, session: str) -> SessionScreen:
        """A screen for ``session`` (its events come from the relay), steerable where the session is."""
        return SteerableScreen(self.relay, session, self.session_info(session))

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast is plain text, made :func:`visible`: its words often come from the data."""
        super().notify(visible(str(message)), title=visible(str(title)), severity=severity, timeout=timeout,
                       markup=False)

    def get_css_variables(self) -> dict[str, str]:
        """The theme's variables, with text colours too faint on their backgrounds made legible (``legible``)."""
        self.theme_variables = legible(super().get_css_variables())
        return self.theme_variables

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header: a session's title is data, shown :func:`visible`."""
        return super().format_title(visible(title), visible(sub_title))

    def action_inbox(self) -> None:
        """The approvals inbox: every held call of every session; ``h`` again goes back."""
        from .screens.inbox import InboxScreen

        if isinstance(self.screen, InboxScreen):
            self.screen.dismiss()
        else:
            self.push_screen(InboxScreen())

    def action_toggle_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.push_screen(HelpScreen(self.screen))


class _Opening(Screen[None]):
    """The base screen when the app opens straight into a session: the sessions list is built (and pushed
    over this blank base) the first time the person comes back to it, not before the session's first
    screen (~0.1 s of Textual work)."""

    def __init__(self) -> None:
        super().__init__()
        self._covered = False

    def on_screen_suspend(self) -> None:
        self._covered = True

    def on_screen_resume(self) -> None:
        app = self.app
        if self._covered and app.screen is self and isinstance(app, WatchkeeperApp):
            app.push_screen(SessionsScreen(app.looked_in))


def _is_inbox(screen: Screen) -> bool:
    """Whether ``screen`` is the inbox; its module (~40 ms to import) is loaded only once the inbox opens."""
    inbox = sys.modules.get("watchkeeper.viewer.screens.inbox")
    return inbox is not None and isinstance(screen, inbox.InboxScreen)


def _stepping(screen: SteerableScreen) -> bool:
    """Whether the person steps through ``screen``'s session; a screen not composed yet has no timeline."""
    try:
        return screen.steer.step
    except NoMatches:
        return False


if TYPE_CHECKING:
    _implements: type[ViewerHost] = WatchkeeperApp
