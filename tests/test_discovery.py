"""Discovery on a temporary copy of the repository's transcripts, laid out as ~/.claude and ~/.codex are.

The hand-made fixtures already have that layout; the real CLIs' recordings are
put where the CLIs would have written them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import CC_FIXTURES, CODEX_FIXTURES, SAMPLE_LOGS
from waiting import until_async

from watchkeeper.adapters.files.discovery import default_roots, find_sessions, session_roots
from watchkeeper.adapters.files.source import DirectorySource

WAIT = 20.0
NOW = time.time()
#: The recorded rollout, named and placed as Codex names and places it (its session_meta's day).
CODEX_RECORDING = ("2026/11/27", "rollout-2026-11-27T19-45-26-01a21e8a-8c48-7471-bae0-861866d4a4a9.jsonl")
SESSIONS = 11  # 7 Claude Code sessions (subagent files apart), 4 Codex rollouts


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CLAUDE_CONFIG_DIR and CODEX_HOME under tmp_path, filled from the repository's transcripts; HOME empty."""
    shutil.copytree(CC_FIXTURES, tmp_path / "claude" / "projects")
    shutil.copytree(CODEX_FIXTURES, tmp_path / "codex" / "sessions")
    shutil.copytree(SAMPLE_LOGS / "claude-code", tmp_path / "claude" / "projects", dirs_exist_ok=True)
    day, name = CODEX_RECORDING
    (tmp_path / "codex" / "sessions" / day).mkdir(parents=True)
    shutil.copy(SAMPLE_LOGS / "codex" / "rollout-reference.jsonl", tmp_path / "codex" / "sessions" / day / name)
    return use_homes(tmp_path, monkeypatch)


def use_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for p in tmp_path.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    age_all(tmp_path, 3600)
    return tmp_path


def age_all(root: Path, seconds: float) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (NOW - seconds, NOW - seconds))


def touch(path: Path, ago: float) -> None:
    os.utime(path, (NOW - ago, NOW - ago))


def sessions_in(homes: Path) -> list[Path]:
    """The session files (not subagents) as the layout defines them, found independently of discovery."""
    claude = [p for p in (homes / "claude" / "projects").glob("*/*.jsonl") if not p.name.startswith("agent-")]
    return claude + list((homes / "codex" / "sessions").glob("*/*/*/*.jsonl"))


def test_env_vars_name_the_roots(homes: Path) -> None:
    assert default_roots() == [homes / "claude" / "projects", homes / "codex" / "sessions"]
    assert default_roots({"HOME": "/h"}) == [Path("/h/.claude/projects"), Path("/h/.codex/sessions")]


def test_every_session_newest_first_without_subagent_files(homes: Path) -> None:
    expected = sessions_in(homes)
    assert len(expected) == SESSIONS
    for i, p in enumerate(sorted(expected, key=lambda p: p.name)):  # an order unrelated to discovery's
        touch(p, 100 + 37 * ((i * 5) % SESSIONS))
    found = find_sessions(session_roots())
    assert sorted(path for path, _ in found) == sorted(expected)
    assert [mtime for _, mtime in found] == sorted((p.stat().st_mtime for p in expected), reverse=True)
    assert not any("subagents" in path.parts or path.name.startswith("agent-") for path, _ in found)


def test_last_activity_counts_subagents(homes: Path) -> None:
    project = homes / "claude" / "projects" / "-home-dev-project"
    main = project / "78d01735-0000-49d5-a966-000000000197.jsonl"
    (sub,) = (project / main.stem / "subagents").glob("agent-*.jsonl")
    showcase = next((homes / "claude" / "projects" / "-workspace-shop").glob("*.jsonl"))
    touch(showcase, 5)
    touch(sub, 10)  # the session file itself is an hour old, its subagent is busy
    found = find_sessions(session_roots())
    assert [path for path, _ in found][:2] == [showcase, main]
    assert dict(found)[main] == sub.stat().st_mtime


def test_explicit_roots_alone_or_beside_the_defaults(homes: Path, tmp_path: Path) -> None:
    only_codex = find_sessions([homes / "codex" / "sessions"])
    assert len(only_codex) == 4 and all(path.name.startswith("rollout-") for path, _ in only_codex)
    extra = tmp_path / "elsewhere"
    extra.mkdir()
    shutil.copy(next((homes / "codex" / "sessions" / "2026/05/12").glob("*.jsonl")), extra / "copy.jsonl")
    roots = session_roots([extra])
    assert roots[-1] == extra and len(roots) == 3
    assert len(find_sessions(roots)) == SESSIONS + 1
    assert session_roots([extra], defaults=False) == [extra]


async def test_directory_source_announces_existing_then_new_sessions(homes: Path) -> None:
    expected = sorted(sessions_in(homes), key=lambda p: p.name)
    for i, p in enumerate(expected):
        touch(p, 100 + i)  # the newest first, in an order unrelated to the directory walk
    announced: list[Path] = []
    source = DirectorySource(default_roots(), announced.append, poll_interval=5.0)
    task = asyncio.create_task(source.run(lambda batch: None))
    try:
        await until_async(lambda: len(announced) == len(expected), "the existing sessions")
        assert announced == expected

        project = homes / "claude" / "projects" / "-home-dev-project"
        sub_dir = project / "78d01735-0000-49d5-a966-000000000197" / "subagents"
        (sub_dir / "agent-new.jsonl").write_bytes(b"{}\n")  # a subagent: not a session
        new_claude = project / "11111111-2222-4333-8444-555555555555.jsonl"
        new_claude.write_bytes(b"")
        await until_async(lambda: new_claude in announced, "a new Claude Code session")

        new_project = homes / "claude" / "projects" / "-home-dev-other"
        new_project.mkdir()
        other = new_project / "22222222-2222-4333-8444-555555555555.jsonl"
        other.write_bytes(b"")
        day = homes / "codex" / "sessions" / "2027" / "01" / "01"
        day.mkdir(parents=True)
        rollout = day / "rollout-2027-01-01T00-00-00-0000.jsonl"
        rollout.write_bytes(b"")
        await until_async(lambda: {other, rollout} <= set(announced), "sessions in new directories")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(announced) == len(set(announced)) == len(expected) + 3
    assert not any(p.name.startswith("agent-") for p in announced)


async def test_directory_source_can_skip_old_sessions(homes: Path) -> None:
    recent = sessions_in(homes)[:2]
    for p in recent:
        touch(p, 30)
    announced: list[Path] = []
    source = DirectorySource(default_roots(), announced.append, max_age=600, poll_interval=5.0)
    task = asyncio.create_task(source.run(lambda batch: None))
    try:
        await until_async(lambda: len(source.seen) == SESSIONS, "the first scan")
        assert sorted(announced) == sorted(recent)
        new = homes / "codex" / "sessions" / "2026" / "05" / "12" / "rollout-new.jsonl"
        new.write_bytes(b"")
        await until_async(lambda: new in announced, "a new session")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


CORPUS_CODEX_DAYS = {  # corpus rollout -> the day directory Codex would have put it in
    "rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl": "2026/01/02",
    "rollout-2026-02-23T12-40-23-019c8a4c-ed82-79a1-aa28-7738fc5ab61a.jsonl": "2026/02/23",
    "turn-2.jsonl": "2026/05/12",
}


@pytest.mark.corpus
def test_every_corpus_session_is_found(samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(samples / "claude-code" / "projects", tmp_path / "claude" / "projects")
    for name, day in CORPUS_CODEX_DAYS.items():
        (tmp_path / "codex" / "sessions" / day).mkdir(parents=True)
        shutil.copy(samples / "codex" / name, tmp_path / "codex" / "sessions" / day / name)
    homes = use_homes(tmp_path, monkeypatch)
    found = [path.relative_to(homes).as_posix() for path, _ in find_sessions(session_roots())]
    assert sorted(found) == sorted(p.relative_to(homes).as_posix() for p in sessions_in(homes))
