"""The command line: ``replay``'s arguments, and options without a command going to ``watch``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_LOGS

from watchkeeper.cli import build_parser, main, with_default_command
from watchkeeper.commands.replay import first_session, speed

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = SAMPLE_LOGS / "codex" / "rollout-reference.jsonl"


def test_options_without_a_command_go_to_watch() -> None:
    parser = build_parser()
    args = parser.parse_args(with_default_command(["--root", "/a", "--no-default-roots"]))
    assert args.command == "watch" and args.root == ["/a"] and args.no_default_roots
    assert parser.parse_args(with_default_command([])).command == "watch"
    assert with_default_command(["replay", "x.jsonl"]) == ["replay", "x.jsonl"]
    assert with_default_command(["--version"]) == ["--version"]
    assert with_default_command(["-h"]) == ["-h"]


def test_a_real_process_takes_watch_options_first() -> None:
    """``watchkeeper --root X --help`` is watch's help, not argparse's "invalid choice"."""
    out = subprocess.run([sys.executable, "-c", "from watchkeeper.cli import main; main()", "--root", "/tmp",
                          "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "usage: watchkeeper watch" in out.stdout and "--no-default-roots" in out.stdout


def test_an_unknown_word_is_still_an_invalid_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["nonsense"])
    assert exit_.value.code == 2 and "invalid choice: 'nonsense'" in capsys.readouterr().err


def test_replay_arguments() -> None:
    args = build_parser().parse_args(["replay", str(SAMPLE), "--speed", "10", "--paused"])
    assert args.command == "replay" and args.path == SAMPLE and args.speed == 10.0 and args.paused
    assert build_parser().parse_args(["replay", str(SAMPLE)]).speed == 1.0
    assert [speed(s) for s in ("max", "0", "2.5", "100x", "MAX")] == [0.0, 0.0, 2.5, 100.0, 0.0]
    for bad in ("fast", "-2"):
        with pytest.raises(argparse.ArgumentTypeError):
            speed(bad)


def test_replay_of_a_missing_file_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["replay", str(tmp_path / "nope.jsonl")])
    assert exit_.value.code == 2 and "no such file" in capsys.readouterr().err


def test_first_session_reads_the_start_of_the_file(tmp_path: Path) -> None:
    assert first_session(SAMPLE) == "01a21e8a-8c48-7471-bae0-861866d4a4a9"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert first_session(empty) is None
