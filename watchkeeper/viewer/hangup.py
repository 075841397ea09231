"""SIGTERM and SIGHUP (the terminal closed) quit the viewer as ``q`` does, so its relay stops cleanly.

Killed by the signal, watchkeeper left its hook endpoint's runtime file
behind, and the ACP agents it drives running (in sessions of their own;
claude-agent-acp outlives its stdin) with their permission requests unanswered.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class Hangup:
    """SIGTERM or SIGHUP (the terminal closed) quits the app as ``q`` does, so the relay stops: its hook
    endpoint's runtime file is removed, and each ACP agent's pending requests are answered ``cancelled``
    and the agent ended. Killed by the signal, watchkeeper left the agent running (in a session of its
    own) and its requests unanswered. Before the app runs, ``SystemExit`` unwinds to the same
    ``finally``; once the app has quit, the signals are ignored until :meth:`restore`, so the relay's
    stop is not cut short. Only the main thread can take signals: elsewhere nothing is installed."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self) -> None:
        self.app: Any = None
        self.quitting = False
        self._before: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            self._before = {sig: signal.signal(sig, self._signalled) for sig in self.SIGNALS}

    def run(self, app: Any) -> Any:
        self.app = app
        try:
            return app.run()
        finally:
            self.quitting = True

    def restore(self) -> None:
        for sig, before in self._before.items():
            signal.signal(sig, before)

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        import asyncio

        if self.quitting:
            return
        self.quitting = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self.app is None or loop is None:
            raise SystemExit(128 + signum)
        loop.call_soon_threadsafe(self.app.exit, None, 128 + signum)
