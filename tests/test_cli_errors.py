"""Errors that help: the real ``watchkeeper`` command, run as a person runs it, for each path it is given wrong.

Every case checks the message (what is wrong, what to run instead) and the
exit status; ``watchkeeper FILE`` opening a replay is checked in a real
terminal (tmux), as the person would see it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import SAMPLE_LOGS
from tmux_support import Tmux, tmux_server

from watchkeeper.adapters.files.feed import agent_kind_of, convert_file
from watchkeeper.adapters.registry import detect

EXE = Path(sys.executable).with_name("watchkeeper")
SAMPLE_DIR = SAMPLE_LOGS / "claude-code" / "-home-dev-demo"
SAMPLE = SAMPLE_DIR / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"


def iso_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def watchkeeper(*args: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    assert EXE.exists(), f"the installed command is missing: {EXE}"
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "TERM": "dumb"}
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)


def test_a_directory_given_to_replay_is_named_as_one_with_what_to_run(tmp_path: Path) -> None:
    out = watchkeeper("replay", SAMPLE_DIR, home=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert f"{SAMPLE_DIR} is a directory, not a session file" in out.stderr
    assert f"to watch the sessions in it:   watchkeeper --root {SAMPLE_DIR} --no-default-roots" in out.stderr
    assert f"to replay its newest session:  watchkeeper replay {SAMPLE}" in out.stderr
    assert "no such file" not in out.stderr

    empty = tmp_path / "empty dir"
    empty.mkdir()
    out = watchkeeper("replay", empty, home=tmp_path)
    assert out.returncode == 2 and "is a directory" in out.stderr and "no session files are in it" in out.stderr
    assert "'" in out.stderr.split("is a directory")[0], "a path with a space is quoted, to be typed again"


def test_a_missing_file_is_still_no_such_file(tmp_path: Path) -> None:
    out = watchkeeper("replay", tmp_path / "nope.jsonl", home=tmp_path)
    assert out.returncode == 2 and f"watchkeeper replay: no such file: {tmp_path / 'nope.jsonl'}" in out.stderr


def test_a_missing_root_says_it_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-root"
    out = watchkeeper("--root", missing, home=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == f"watchkeeper: --root {missing} does not exist (no such directory)"

    out = watchkeeper("watch", "--root", SAMPLE, home=tmp_path)
    assert out.returncode == 2
    assert f"--root {SAMPLE} is a file, not a directory of sessions.\n  to replay it:  watchkeeper replay {SAMPLE}" \
        in out.stderr

    out = watchkeeper("serve", "--root", missing, home=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == f"watchkeeper serve: --root {missing} does not exist (no such directory)"


def test_a_file_no_reader_understands_is_refused_with_what_was_expected(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Remember to water the plants\nand the cat\n")
    for args in (("replay", notes), (notes,)):
        out = watchkeeper(*args, home=tmp_path)
        assert out.returncode == 2 and out.stdout == ""
        assert f"no reader here understands {notes} (it starts: 'Remember to water the plants')" in out.stderr
        assert "Expected a Claude Code session" in out.stderr and "a Codex rollout" in out.stderr
        assert "watchkeeper recording" in out.stderr

    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    out = watchkeeper("replay", blank, home=tmp_path)
    assert out.returncode == 2 and f"{blank} is empty: there is nothing to replay" in out.stderr


def test_an_unknown_jsonl_is_no_agents(tmp_path: Path) -> None:
    other = tmp_path / "metrics.jsonl"
    other.write_text('{"id": "x", "timestamp": "2026-11-27T10:00:00", "source": "environment", "key": "k"}\n')
    assert detect(other) is None and agent_kind_of(other) == "unknown"
    # Watched, it is kept as raw rows of an unknown agent, written when the file was: not live now.
    old = 1_700_000_000
    os.utime(other, (old, old))
    events = list(convert_file(other))
    assert {e["kind"] for e in events} == {"notice", "raw"} and {e["ts"] for e in events} == {iso_of(old)}
    assert detect(SAMPLE) is not None and agent_kind_of(SAMPLE) == "claude-code"
    out = watchkeeper(other, home=tmp_path)
    assert out.returncode == 2 and "no reader here understands" in out.stderr and "claude-code" not in out.stderr


def test_a_word_that_is_no_command_nor_path_is_still_an_invalid_choice(tmp_path: Path) -> None:
    out = watchkeeper("nonsense", home=tmp_path)
    assert out.returncode == 2 and "invalid choice: 'nonsense'" in out.stderr


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server("cli-errors")


def test_a_path_as_the_first_argument_opens_its_replay(tmp_path: Path, tmux: Tmux) -> None:
    command = f"env -u COLUMNS -u LINES HOME={tmp_path} {EXE} {SAMPLE} --paused"
    tmux("new-session", "-d", "-s", "wk", "-x", "100", "-y", "30", command)
    tmux("resize-window", "-t", "wk", "-x", "100", "-y", "30")
    tmux.wait_for(lambda s: "event 0 / 35 " in s and "⏸ paused" in s and "Set up notes.txt" in s)
    tmux.keys("q")
    tmux.wait_for(lambda s: not tmux.alive() or "event 0 / 35" not in s)


def test_the_empty_list_says_which_places_do_not_exist(tmp_path: Path, tmux: Tmux) -> None:
    roots = tmp_path / "sessions here"
    roots.mkdir()
    command = (f"env -u COLUMNS -u LINES -u CLAUDE_CONFIG_DIR -u CODEX_HOME HOME={tmp_path} {EXE} --no-hooks "
               f"--root '{roots}'")
    tmux("new-session", "-d", "-s", "wk", "-x", "120", "-y", "30", command)
    tmux("resize-window", "-t", "wk", "-x", "120", "-y", "30")
    screen = tmux.wait_for(lambda s: "Looked in:" in s and str(roots) in s)
    assert f"{tmp_path}/.claude/projects  (does not exist)" in screen
    assert f"{tmp_path}/.codex/sessions  (does not exist)" in screen
    assert f"{roots}  (does not exist)" not in screen
    tmux.keys("q")
    tmux.wait_for(lambda s: not tmux.alive() or "Looked in:" not in s)
