"""The chrome at 80×24 in a real terminal: tmux runs ``watchkeeper replay`` and ``watchkeeper demo``, we read
their screens.

The footer keeps Search, Errors, Tool, Help and Quit, the player bar ends in
``? keys``, and help opens over the whole terminal and closes again. The demo
is walked as on a working day: the sessions list, a session, its conversation,
the held calls with their countdown, and out. Skips without tmux, except under
WATCHKEEPER_REQUIRE_AGENTS=1 (CI).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE_LOGS
from tmux_support import Tmux, tmux_server
from waiting import until

SAMPLE = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"
KEYS = ("space Play/Pause", "/ Search", "e Errors", "t Tool", "? Help", "q Quit")
#: What the footer of a session keeps at 80 columns, a steerable one too.
SESSION_KEYS = ("/ Search", "e Errors", "t Tool", "? Help", "q Quit")
COUNTDOWN = re.compile(r"goes on under the agent's own rules in \d+:\d\d")


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("chrome")


def test_the_replay_screen_at_80_columns_keeps_its_keys_in_sight(tmp_path: Path, tmux: Tmux) -> None:
    exe = Path(sys.executable).with_name("watchkeeper")
    assert exe.exists(), f"the installed command is missing: {exe}"
    command = (f"env -u COLUMNS -u LINES HOME={tmp_path} WATCHKEEPER_HOME={tmp_path / 'wk'} "
               f"{exe} replay {SAMPLE} --paused")
    tmux("new-session", "-d", "-s", "wk", "-x", "80", "-y", "24", command)
    tmux("resize-window", "-t", "wk", "-x", "80", "-y", "24")

    tmux.wait_for(lambda s: "event 0 / 35 " in s)
    tmux.keys("G")
    screen = tmux.wait_for(lambda s: "■ ended" in s and "event 35 / 35" in s)
    lines = screen.splitlines()
    footer = lines[-1]
    assert all(key in footer for key in KEYS), footer
    player = next(line for line in lines if "event 35 / 35" in line)
    assert player.rstrip().endswith("│ ? keys"), player
    assert screen.count("observe-only") == 1

    tmux.keys("?")
    help_screen = tmux.wait_for(lambda s: "Replay" in s and "Esc or ? closes" in s)
    assert "A recorded session played back with its own timing, scaled." in help_screen
    tmux.keys("Escape")
    tmux.wait_for(lambda s: all(key in s.splitlines()[-1] for key in KEYS) if s.strip() else False)

    tmux.keys("q")
    until(lambda: not tmux.alive(), what="q to quit the app", timeout=15, seen=tmux.screen, poll=0.2)


def session_footer(screen: str) -> bool:
    """The bottom line names the session screen's keys that must stay in sight."""
    return bool(screen.strip()) and all(key in screen.splitlines()[-1] for key in SESSION_KEYS)


def test_the_demo_at_80_columns_from_the_list_to_a_held_call_and_out(tmp_path: Path, tmux: Tmux) -> None:
    exe = Path(sys.executable).with_name("watchkeeper")
    assert exe.exists(), f"the installed command is missing: {exe}"
    command = (f"env -u COLUMNS -u LINES HOME={tmp_path} WATCHKEEPER_HOME={tmp_path / 'wk'} {exe} demo; "
               "echo watchkeeper exited $?")
    # The pane stays once the app is gone, so what it left on the terminal (and its exit status) can be read.
    tmux("new-session", "-d", "-s", "wk", "-x", "80", "-y", "24", command, ";",
         "set-option", "-t", "wk", "remain-on-exit", "on")
    tmux("resize-window", "-t", "wk", "-x", "80", "-y", "24")

    # The sessions list: each session's state and when it was last active; the scripted agent asks first.
    screen = tmux.wait_for(lambda s: "1 session waiting for you" in s and "fix the failing" in s)
    lines = screen.splitlines()
    header = next(line for line in lines if " title " in line)
    assert "state" in header and "active" in header, header
    row = next(line for line in lines if "fix the failing" in line)
    assert "waiting" in row and re.search(r"\b(now|\d+[smh] ago)\b", row), row

    # Its session: the held call in the timeline, the footer's keys.
    tmux.keys("w")
    tmux.wait_for(lambda s: "Bash  pytest -q" in s and "waiting (approval)" in s and "● live waiting" in s
                  and session_footer(s))

    # The conversation view.
    tmux.keys("v")
    tmux.wait_for(lambda s: "You · " in s and "Assistant · " in s and "fix it." in s)

    # The held calls, with the time left before the agent's own rules decide.
    tmux.keys("h")
    screen = tmux.wait_for(lambda s: "Held calls" in s and COUNTDOWN.search(s) is not None)
    assert "1 call held for you" in screen and "Bash  pytest -q tests/test_total.py" in screen

    tmux.keys("Escape")
    tmux.wait_for(lambda s: "Held calls" not in s and "You · " in s and session_footer(s))

    def scrollback() -> str:
        """The pane with its history: what is printed once the app has left its screen may have scrolled off."""
        return tmux("capture-pane", "-p", "-S", "-", "-t", "wk").stdout

    tmux.keys("q")
    printed = until(lambda: t if "watchkeeper exited" in (t := scrollback()) else None, what="q to quit the demo",
                    timeout=30, seen=scrollback, poll=0.2)
    assert "watchkeeper exited 0" in printed and "Traceback" not in printed and "did not stop" not in printed, printed
