"""Who watches through ``serve``'s websocket, and the reconnect grace after the last viewer left.

A call is held only while someone watches its session. A person's screen
that drops (a laptop lid, a flaky link) should not let their held calls go at
once: when the last viewer that follows the relay leaves, :class:`Grace`
keeps counting it for ``seconds``, tells the steering (a notice in each
session with held calls), and only if no viewer follows again by then says
that nobody watches, so each session's failure policy ends its holds
(fail-open: no decision; fail-closed: deny).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("watchkeeper.serve")

#: Seconds held calls wait for a viewer to come back after the last one left, before the policy ends them.
RECONNECT_GRACE = 30.0


class WatchListener(Protocol):
    """Steering that holds calls for the viewers (the hook endpoint, the SDK agents)."""

    def grace_started(self, seconds: float) -> None: ...

    def nobody_watching(self) -> None: ...


class Grace:
    """The timer between the last viewer leaving and nobody watching; runs on the relay's loop."""

    def __init__(self, seconds: float = RECONNECT_GRACE) -> None:
        self.seconds = seconds
        #: told when the grace starts and when it ran out with nobody back.
        self.listeners: list[WatchListener] = []
        self._timer: asyncio.TimerHandle | None = None
        self._watching: Callable[[], int] = lambda: 0

    @property
    def running(self) -> bool:
        """The viewer that left still counts: it may come back."""
        return self._timer is not None

    def last_left(self, watching: Callable[[], int]) -> None:
        """The last viewer left; ``watching()`` says whether one follows again when the grace is over."""
        self._watching = watching
        if self.seconds <= 0:
            self._over()
            return
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.seconds, self._over)
            for listener in list(self.listeners):
                listener.grace_started(self.seconds)

    def back(self) -> None:
        """A viewer follows again: the held calls wait for the person, and the next departure starts a new grace."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            log.info("a viewer is back within the reconnect grace: held calls wait for the person again")

    def _over(self) -> None:
        self._timer = None
        if self._watching() > 0:
            return
        for listener in list(self.listeners):
            listener.nobody_watching()
