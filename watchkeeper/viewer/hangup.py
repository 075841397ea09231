"""SIGTERM and SIGHUP (the terminal closed) quit the viewer as ``q`` does, so its relay stops cleanly.

Killed by the signal, watchkeeper left its hook endpoint's runtime file
behind, and the ACP agents it drives running (in sessions of their own;
claude-agent-acp outlives its stdin) with their permission requests unanswered.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from os import _exit as end_process  # no atexit, no thread joins: what is left running cannot hold it
from types import FrameType
from typing import Any

#: Seconds a signal leaves for the app's quit and the cleanup (the relay's own stop waits up to 15 s) before
#: the process exits whatever runs: Textual's shutdown can hang writing to a terminal that is gone.
GRACE = 20.0


class Hangup:
    """SIGTERM or SIGHUP (the terminal closed) quits the app as ``q`` does, so the relay stops: its hook
    endpoint's runtime file is removed, and each ACP agent's pending requests are answered ``cancelled``
    and the agent ended. Before the app runs, ``SystemExit`` unwinds to the same ``finally``. Whatever
    the app is doing, quit and cleanup get :data:`GRACE` seconds, then the process exits.

    Once signalled, the process exits at :meth:`exit_if_signalled` (after the caller's cleanup) whatever
    threads are left: Textual's input thread spins at full CPU on a terminal that is gone, and a shutdown
    cut short never stops it, so the process lived on at 100% CPU after its terminal closed. If the quit
    itself hangs (seen: Textual's shutdown blocked writing to a terminal that was gone, while the relay
    went on indexing a 1 GB transcript), the grace ends it; a second signal ends it at once. Only the
    main thread can take signals: elsewhere nothing is installed."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self) -> None:
        self.app: Any = None
        self.quitting = False
        #: the first signal taken, if any.
        self.signalled: int | None = None
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

    def exit_if_signalled(self) -> None:
        """After the caller's cleanup: a signalled process ends here, lingering threads or not."""
        if self.signalled is None:
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        end_process(128 + self.signalled)

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        import asyncio

        if self.signalled is not None:
            end_process(128 + signum)  # asked twice: the first one's quit is not trusted to end
        self.signalled = signum
        if self.app is None:
            raise SystemExit(128 + signum)
        later = threading.Timer(GRACE, end_process, (128 + signum,))
        later.daemon = True
        later.start()
        if self.quitting:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # starting or stopping: no loop to ask; the cleanup runs, or the grace ends it
        self.quitting = True
        loop.call_soon_threadsafe(self.app.exit, None, 128 + signum)
