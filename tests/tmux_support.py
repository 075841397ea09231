"""A real terminal for end-to-end tests: one tmux server of our own per test, every call bounded in time.

Without tmux the test skips, except under WATCHKEEPER_REQUIRE_AGENTS=1 (CI),
where a missing tmux fails the run instead of hiding the test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from waiting import until


class Tmux:
    """One tmux server (``-L socket``, no config file), one session named ``wk``."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True,
                              text=True, timeout=10)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self("send-keys", "-t", "wk", key)
            time.sleep(0.05)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "wk").stdout

    def alive(self) -> bool:
        return self("has-session", "-t", "wk").returncode == 0

    def wait_for(self, cond: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The first screen that ``cond`` accepts; the failure shows the last screen."""
        (screen,) = until(lambda: (s,) if cond(s := self.screen()) else None, what="the screen to match",
                          timeout=timeout, seen=self.screen, poll=0.2)
        return screen  # in a tuple: an empty screen (the app has quit) may be the one awaited


_SERVERS = itertools.count()


def tmux_server(name: str) -> Iterator[Tmux]:
    """For a fixture: a fresh server named after the test file, killed afterwards."""
    if shutil.which("tmux") is None:
        if os.environ.get("WATCHKEEPER_REQUIRE_AGENTS") == "1":
            pytest.fail("tmux is required here (WATCHKEEPER_REQUIRE_AGENTS=1): install tmux")
        pytest.skip("tmux is not installed: this end-to-end test needs a real terminal")
    # A socket of its own per test: a server killed at the end of one test may still be going away when
    # the next test's session starts, and would take that session with it (an empty screen).
    t = Tmux(f"wk-{name}-{os.getpid()}-{next(_SERVERS)}")
    yield t
    t("kill-server")
