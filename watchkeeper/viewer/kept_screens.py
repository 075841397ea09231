"""The session screens shown last, kept while the person looks elsewhere.

Leaving a session screen used to drop it: coming back read the session's
history from the relay again (12-20 s for a 1 GB transcript, converted again
from its start) and lost the place, the filters and the view. A kept screen is
installed in the app, so popping it suspends it instead of removing it; it
keeps its subscription and takes the session's new events meanwhile, so it is
current when shown again. ``KEEP`` bounds what is held: the least recently
shown screen past it that is not on the stack is uninstalled and removed, and
its subscription closes with it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App

    from .screens.session import SessionScreen

#: Session screens kept; each holds its session's rows (~150 MB for a 1 GB transcript, far less for most).
KEEP = 3


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
        """Keep ``screen`` (installed), letting go of the least recently shown ones past ``KEEP``."""
        self.app.install_screen(screen, f"session:{screen.session_id}")
        self._screens[screen.session_id] = screen
        for session, old in list(self._screens.items()):
            if len(self._screens) <= KEEP:
                break
            if old is screen or old in self.app.screen_stack:
                continue
            del self._screens[session]
            self.app.uninstall_screen(old)
            old.remove()
        return screen
