"""The session screens shown last, kept while the person looks elsewhere (a replay's keep playing).

Leaving a session screen used to drop it: coming back read the session's
history from the relay again (12-20 s for a 1 GB transcript, converted again
from its start) and lost the place, the filters and the view. A kept screen is
installed in the app, so popping it suspends it instead of removing it; it
keeps its subscription and takes the session's new events meanwhile, so it is
current when shown again. ``KEEP`` and ``KEEP_EVENTS`` bound what is held: the
least recently shown screen past them that is not on the stack is uninstalled
and removed, and its subscription closes with it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from textual.css.query import NoMatches

if TYPE_CHECKING:
    from textual.app import App

    from .screens.session import SessionScreen

#: Session screens kept; each holds its session's rows (~150 MB for a 1 GB transcript, far less for most).
KEEP = 3
#: Events the screens kept may hold between them (a 1 GB transcript is ~400k); the one shown last stays.
KEEP_EVENTS = 1_000_000


class KeptScreens:
    """Session screens by session, the most recently shown last; installed in ``app`` under ``session:{id}``."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self._screens: OrderedDict[str, SessionScreen] = OrderedDict()

    def get(self, session: str) -> SessionScreen | None:
        return self._screens.get(session)

    def screens(self) -> list[SessionScreen]:
        return list(self._screens.values())

    def touch(self, session: str) -> None:
        """``session``'s screen is shown again: the last to go."""
        self._screens.move_to_end(session)

    def add(self, screen: SessionScreen) -> SessionScreen:
        """Keep ``screen`` (installed), letting go of the least recently shown ones past ``KEEP`` screens or
        ``KEEP_EVENTS`` events."""
        self.app.install_screen(screen, f"session:{screen.session_id}")
        self._screens[screen.session_id] = screen
        held = sum(map(_events, self._screens.values()))
        for session, old in list(self._screens.items()):
            if len(self._screens) <= KEEP and held <= KEEP_EVENTS:
                break
            if old is screen or old in self.app.screen_stack:
                continue
            held -= _events(old)
            del self._screens[session]
            self.app.uninstall_screen(old)
            old.remove()
        return screen


def _events(screen: SessionScreen) -> int:
    """The events ``screen`` holds; none before it is composed."""
    try:
        return len(screen.timeline.store.events)
    except NoMatches:
        return 0
