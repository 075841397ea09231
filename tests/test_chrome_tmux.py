"""The chrome at 80×24 in a real terminal: tmux runs ``watchkeeper replay``, we read its screen.

The footer keeps Search, Errors, Tool, Help and Quit, the player bar ends in
``? keys``, and help opens over the whole terminal and closes again. Skips
without tmux, except under WATCHKEEPER_REQUIRE_AGENTS=1 (CI).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SAMPLE_LOGS
from tmux_support import Tmux, tmux_server
from waiting import until

SAMPLE = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"
KEYS = ("space Play/Pause", "/ Search", "e Errors", "t Tool", "? Help", "q Quit")


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
