"""``watchkeeper replay`` end to end in a real terminal: tmux runs the installed command, we read its screen.

Skips when tmux is missing, except under WATCHKEEPER_REQUIRE_AGENTS=1 (CI),
where a missing tmux fails the run instead of hiding the test.
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
EVENTS = 35


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("e2e")


def test_replay_in_a_real_terminal(tmp_path: Path, tmux: Tmux) -> None:
    exe = Path(sys.executable).with_name("watchkeeper")
    assert exe.exists(), f"the installed command is missing: {exe}"
    # The test process may carry COLUMNS/LINES (80x24), which Textual would obey over the real terminal.
    command = f"env -u COLUMNS -u LINES HOME={tmp_path} {exe} replay {SAMPLE} --paused"
    tmux("new-session", "-d", "-s", "wk", "-x", "120", "-y", "40", command)
    tmux("resize-window", "-t", "wk", "-x", "120", "-y", "40")

    # Straight into the session screen, paused before the first event, the whole file read.
    # The title comes with the first frames after the file is read: wait for the whole of it, not the first
    # frame that shows the count (under load one frame can come between).
    screen = tmux.wait_for(lambda s: f"event 0 / {EVENTS} " in s and "⏸ paused" in s and "Set up notes.txt" in s)

    # To the end: every row, tool calls with their status.
    tmux.keys("G")
    rows = ("Bash  echo hello from bash && pwd", "Write  /home/dev/demo/notes.txt", "✗ error",
            "┆ started  Count lines")
    screen = tmux.wait_for(lambda s: f"event {EVENTS} / {EVENTS} " in s and all(r in s for r in rows))
    assert "■ ended" in screen and screen.count("┆ started  Count lines") == 1

    # Back to the start, then play: the recording plays to its end by itself.
    tmux.keys("0")
    tmux.wait_for(lambda s: f"event 0 / {EVENTS} " in s and "echo hello" not in s)
    tmux.keys("Space")
    tmux.wait_for(lambda s: "■ ended" in s and f"event {EVENTS} / {EVENTS} " in s and all(r in s for r in rows))

    # Step back one event, and speed up.
    tmux.keys(",", "]")
    screen = tmux.wait_for(lambda s: f"event {EVENTS - 1} / {EVENTS} " in s and "2×" in s)
    assert "⏸ paused" in screen

    tmux.keys("q")
    until(lambda: not tmux.alive(), what="q to quit the app", timeout=15, seen=tmux.screen, poll=0.2)
