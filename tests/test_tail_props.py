"""Properties of live tailing on real transcripts: however a file grows, the events are the one-shot's.

Each example grows a temporary copy of a transcript on disk, reading it with
the same reader the live source uses (``TranscriptReader``) between writes.
Each property runs on the repository's transcripts (the real CLIs' recordings
and the hand-made fixtures) and, in the corpus suite, on the corpus.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import CC_FIXTURES, claude_transcripts, codex_rollouts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchkeeper.adapters.claude_code import subagent_files
from watchkeeper.adapters.files.feed import TranscriptReader, convert_file
from watchkeeper.adapters.files.tail import Tailer
from watchkeeper.protocol import Event

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=["repository", pytest.param("corpus", marks=pytest.mark.corpus)])
def transcripts(request: pytest.FixtureRequest) -> list[Path]:
    """Every transcript of the repository, or (marked ``corpus``) of the corpus."""
    if request.param == "repository":
        return claude_transcripts() + codex_rollouts()
    samples: Path = request.getfixturevalue("samples")
    return sorted((samples / "claude-code").rglob("*.jsonl")) + sorted((samples / "codex").glob("*.jsonl"))


@pytest.fixture
def sessions_with_subagents(transcripts: list[Path]) -> list[Path]:
    sessions = [p for p in transcripts if not p.name.startswith("agent-") and subagent_files(p)]
    assert sessions, "a Claude Code session with subagent files"
    return sessions


def test_the_repository_has_sessions_with_subagent_files_in_both_layouts() -> None:
    sessions = [p for p in claude_transcripts() if not p.name.startswith("agent-") and subagent_files(p)]
    files = [f for p in sessions for f in subagent_files(p)]
    assert any(f.parent.name == "subagents" for f in files)
    assert any(f.parent == CC_FIXTURES / "-home-dev-legacy" for f in files)


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="wk-tail-") as d:
        yield Path(d)


def ids(events: list[Event]) -> list[str]:
    return [e["id"] for e in events]


def drain(reader: TranscriptReader) -> list[Event]:
    out: list[Event] = []
    reader.rescan()
    more = True
    while more:
        events, more = reader.poll()
        out += events
    return out


def cuts(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted({p % (len(data) + 1) for p in points}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def append(path: Path, chunk: bytes) -> None:
    with path.open("ab") as f:
        f.write(chunk)


@SETTINGS
@given(data=st.data(), chunk_size=st.sampled_from([97, 4096, 1 << 20]))
def test_any_split_into_appends_yields_the_one_shot_events(transcripts: list[Path], data: st.DataObject,
                                                           chunk_size: int) -> None:
    src = data.draw(st.sampled_from(transcripts), label="file")
    content = src.read_bytes()
    points = data.draw(st.lists(st.integers(0, len(content)), max_size=12), label="split points")
    with scratch() as d:
        path = d / src.name
        path.write_bytes(b"")
        reader = TranscriptReader(path, chunk_size=chunk_size)
        live: list[Event] = []
        for chunk in cuts(content, points):
            append(path, chunk)
            live += drain(reader)
        live += reader.finish()
        expected = ids(list(convert_file(path)))
    assert expected, f"{src.name} converts to something"
    assert ids(live) == expected


@SETTINGS
@given(data=st.data(), poll_between=st.booleans(), by_rename=st.booleans())
def test_a_file_rewritten_shorter_is_read_again_from_the_start(transcripts: list[Path], data: st.DataObject,
                                                               poll_between: bool, by_rename: bool) -> None:
    src = data.draw(st.sampled_from(transcripts), label="file")
    lines = src.read_bytes().splitlines(keepends=True)
    a = data.draw(st.integers(1, len(lines)), label="lines before the rewrite")
    b = data.draw(st.integers(0, a - 1), label="lines the rewrite keeps")
    before, after = b"".join(lines[:a]), b"".join(lines[:b] + lines[a:])
    with scratch() as d:
        path = d / src.name
        path.write_bytes(before)
        reader = TranscriptReader(path)
        first = drain(reader)
        if by_rename:
            (d / "new").write_bytes(b"".join(lines[:b]))
            os.replace(d / "new", path)
        else:
            with path.open("r+b") as f:
                f.truncate(0)
                f.write(b"".join(lines[:b]))
        live = drain(reader) if poll_between else []
        append(path, b"".join(lines[a:]))
        live += drain(reader) + reader.finish()
        assert path.read_bytes() == after
        expected = ids(list(convert_file(path)))
        (d / "before").mkdir()
        (d / "before" / src.name).write_bytes(before)
        before_ids = set(ids(list(convert_file(d / "before" / src.name))))
    # After the rewrite, the file is read again from its start: the one-shot events, whole and in order.
    assert ids(live)[len(live) - len(expected):] == expected
    # Anything else came from the first reading (the relay drops those repeats by id).
    assert set(ids(first) + ids(live)[: len(live) - len(expected)]) <= before_ids


@SETTINGS
@given(data=st.data())
def test_a_session_and_its_subagent_files_growing_together(sessions_with_subagents: list[Path],
                                                           data: st.DataObject) -> None:
    main = data.draw(st.sampled_from(sessions_with_subagents), label="session")
    files = [main, *subagent_files(main)]
    with scratch() as d:
        shutil.copytree(main.parent, d / "p", ignore=shutil.ignore_patterns("*.jsonl"))
        copies = [d / "p" / f.relative_to(main.parent) for f in files]
        pieces = []
        for src, dst in zip(files, copies, strict=True):
            content = src.read_bytes()
            points = data.draw(st.lists(st.integers(0, len(content)), max_size=6), label=f"splits {src.name}")
            pieces.append([(dst, c) for c in cuts(content, points)])
        order = data.draw(st.permutations([i for i, p in enumerate(pieces) for _ in p]), label="interleaving")
        reader = TranscriptReader(copies[0], chunk_size=256)
        live: list[Event] = []
        for i in order:
            dst, chunk = pieces[i].pop(0)
            append(dst, chunk)
            live += drain(reader)
        live += reader.finish()
        expected = ids(list(convert_file(copies[0])))
    assert Counter(ids(live)) == Counter(expected)


@SETTINGS
@given(content=st.binary(max_size=600), points=st.lists(st.integers(0, 600), max_size=10),
       chunk_size=st.integers(1, 64))
def test_the_tailer_returns_exactly_the_bytes_written(content: bytes, points: list[int],
                                                      chunk_size: int) -> None:
    with scratch() as d:
        path = d / "bytes"
        path.write_bytes(b"")
        got: list[tuple[int, bytes]] = []
        t = Tailer(path, chunk_size=chunk_size)
        for chunk in cuts(content, points):
            append(path, chunk)
            while (r := t.read()).more or r.lines:
                assert not r.reset
                got += r.lines
        got += t.read(final=True).lines
    assert b"\n".join(line for _, line in got) == content.removesuffix(b"\n")
    assert all(content[at:at + len(line)] == line for at, line in got)
