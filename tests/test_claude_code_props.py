"""Properties of the Claude Code converter: it never raises, and its ids are stable and unique.

Within one file's conversion no id repeats: repeated records (same uuid) yield
nothing, records without an id are told apart by how often their digest came
before, and tool calls, usage revisions and subagent links are emitted once.
(Across the files of one session, the newer-version notice and a subagent's
events may repeat an id on purpose, so the relay keeps one.)

The real lines come from the repository's transcripts; the corpus suite draws
them from the corpus too (``test_a_corpus_file_with_a_line_cut_short``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import claude_transcripts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchkeeper.adapters.claude_code import ClaudeCodeConverter
from watchkeeper.protocol import validate_event

FILES = claude_transcripts()
LINES = [line for path in FILES for line in path.read_bytes().splitlines() if line.strip()]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def convert(lines: list[bytes], path: Path | None = None) -> list[Any]:
    conv = ClaudeCodeConverter(path)
    out: list[Any] = []
    for offset, line in enumerate(lines):
        out += conv.feed(line, offset)
    out += conv.finish()
    return out


def well_formed(events: list[Any]) -> None:
    for event in events:
        validate_event(event)
        assert event["session"] and event["ts"]


real_line = st.sampled_from(LINES)
garbage = st.binary(max_size=400) | st.text(max_size=200).map(str.encode)
truncated = st.tuples(real_line, st.floats(0, 1)).map(lambda p: p[0][: int(len(p[0]) * p[1])])


@SETTINGS
@given(st.lists(garbage, max_size=20))
def test_byte_garbage_never_raises(lines: list[bytes]) -> None:
    events = convert(lines, Path("/x/garbage.jsonl"))
    well_formed(events)
    assert len(events) <= sum(1 for line in lines if line.strip()) + 1


@SETTINGS
@given(truncated, st.lists(real_line, max_size=5))
def test_any_truncation_point_of_a_real_line(cut: bytes, rest: list[bytes]) -> None:
    events = convert([*rest, cut, *rest])
    well_formed(events)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))


@SETTINGS
@given(st.lists(real_line | truncated | garbage, max_size=30))
def test_same_lines_twice_same_events_and_ids_unique(lines: list[bytes]) -> None:
    first, second = convert(lines), convert(lines)
    assert [e["id"] for e in first] == [e["id"] for e in second]
    assert [(e["kind"], e["agent"], e["data"]) for e in first] == [(e["kind"], e["agent"], e["data"]) for e in second]
    ids = [e["id"] for e in first]
    assert len(ids) == len(set(ids))
    well_formed(first)


@SETTINGS
@given(st.sampled_from(FILES), st.data())
def test_a_real_file_with_a_line_cut_short(path: Path, data: st.DataObject) -> None:
    check_a_line_cut_short(path, data)


def check_a_line_cut_short(path: Path, data: st.DataObject) -> None:
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    at = data.draw(st.integers(0, len(lines) - 1))
    lines[at] = lines[at][: data.draw(st.integers(0, len(lines[at])))]
    events = convert(lines, path)
    well_formed(events)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    assert ids == [e["id"] for e in convert(lines, path)]


def same_ids_twice(files: list[Path]) -> None:
    assert files
    for path in files:
        lines = path.read_bytes().splitlines()
        assert [e["id"] for e in convert(lines, path)] == [e["id"] for e in convert(lines, path)]


def test_every_file_twice_gives_the_same_ids() -> None:
    same_ids_twice(FILES)


@pytest.mark.corpus
def test_every_corpus_file_twice_gives_the_same_ids(samples: Path) -> None:
    same_ids_twice(sorted((samples / "claude-code" / "projects").rglob("*.jsonl")))


@pytest.mark.corpus
@settings(SETTINGS, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_corpus_file_with_a_line_cut_short(samples: Path, data: st.DataObject) -> None:
    files = sorted((samples / "claude-code" / "projects").rglob("*.jsonl"))
    check_a_line_cut_short(data.draw(st.sampled_from(files), label="file"), data)
