"""``watchkeeper`` end to end in a real terminal (tmux): discovery, the sessions screen, a live session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_viewer_support import ClaudeTranscript
from tmux_support import Tmux, tmux_server

from watchkeeper.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent


def test_watch_is_the_default_command_and_takes_roots() -> None:
    args = build_parser().parse_args(["watch", "--root", "/a", "--root", "/b", "--no-default-roots"])
    assert args.command == "watch" and args.root == ["/a", "/b"] and args.no_default_roots


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("watch")


def test_watchkeeper_in_a_terminal_lists_opens_and_follows(tmp_path: Path, tmux: Tmux) -> None:
    root = tmp_path / "projects" / "-home-dev-project"
    root.mkdir(parents=True)
    transcript = ClaudeTranscript(root / "11111111-2222-4333-8444-555555555555.jsonl")
    transcript.write(transcript.prompt("Make the build green"))
    transcript.bash_call(1)
    exe = Path(sys.executable).with_name("watchkeeper")
    # The test process may carry COLUMNS/LINES (80x24), which Textual would obey over the real terminal.
    command = f"env -u COLUMNS -u LINES HOME={tmp_path} {exe} watch --no-default-roots --root {tmp_path / 'projects'}"
    tmux("new-session", "-d", "-s", "wk", "-x", "120", "-y", "40", command)
    tmux("resize-window", "-t", "wk", "-x", "120", "-y", "40")

    screen = tmux.wait_for(lambda s: "Make the build green" in s)
    assert "claude-code" in screen
    tmux("send-keys", "-t", "wk", "Enter")
    tmux.wait_for(lambda s: "echo step 1" in s)
    transcript.bash_call(2, fail=True)
    tmux.wait_for(lambda s: "echo step 2" in s and "✗ error" in s and "observe-only" in s)
    tmux("send-keys", "-t", "wk", "q")
    tmux.wait_for(lambda s: "echo step" not in s, timeout=15)
