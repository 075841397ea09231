"""``watchkeeper replay``'s app: sessions open as replays, each behind its own playhead.

Each session's :class:`~watchkeeper.viewer.screens.replay.ReplayScreen` is kept
(``kept_screens.py``), playing, while the person looks at the sessions list; "now"
is the playhead's time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ..relay.api import RelayAPI
from .app import WatchkeeperApp
from .model.playhead import Playhead
from .screens.replay import ReplayScreen
from .screens.session import SessionScreen


class ReplayApp(WatchkeeperApp):
    """The app over a replay's relay: sessions open as replays; "now" is the playhead's time."""

    def __init__(self, relay: RelayAPI, *, open_session: str | None = None, speed: float = 1.0,
                 paused: bool = False, looked_in: Sequence[str] = (), theme: str | None = None,
                 preferences: Path | None = None) -> None:
        super().__init__(relay, open_session=open_session, looked_in=looked_in, theme=theme, clock=self.replay_now,
                         preferences=preferences)
        self.speed = speed
        self.paused = paused

    def replay_now(self) -> float:
        """The replayed session's time, so elapsed times and running calls read as they did then."""
        screen = next((s for s in reversed(self.screen_stack) if isinstance(s, ReplayScreen)), None)
        clock = screen.playhead.clock if screen is not None else None
        return time.time() if clock is None else clock

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A replay holds nothing for the person: no approvals inbox."""
        return False if action == "inbox" else super().check_action(action, parameters)

    def new_session_screen(self, session: str) -> SessionScreen:
        """The session's replay behind its own playhead, kept playing while it is not shown (``kept_screens``)."""
        playhead = Playhead(self.speed, playing=not self.paused)
        return ReplayScreen(self.relay, session, self.session_info(session), playhead)
