"""A converter goes when its last reference does, even after ``retention`` froze it.

``retention`` calls ``gc.freeze()`` now and then, so that full collections stop walking
what a long run keeps: an object in a reference cycle that is frozen is never collected.
A Claude Code converter that held its handlers as bound methods was such a cycle, and a
transcript backing's read-back cursor (~90 MB of state at the end of a 1 GB file) then
outlived the cursor for good.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import orjson
from huge_support import SESSION, grow, sample_session

from watchkeeper.adapters.claude_code.converter import ClaudeCodeConverter
from watchkeeper.adapters.files.backing import TranscriptBacking
from watchkeeper.adapters.files.feed import convert_file, open_converter
from watchkeeper.protocol import fit


def test_a_converter_is_freed_by_reference_counting() -> None:
    conv = ClaudeCodeConverter()
    for line in sample_session().read_bytes().splitlines()[:200]:
        conv.feed(line)
    ref = weakref.ref(conv)
    gc.disable()
    try:
        del conv
        assert ref() is None, "a converter is in a reference cycle: once frozen by retention it is never freed"
    finally:
        gc.enable()


def test_a_backing_cursor_frees_its_converter_when_it_read_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    grow(path, sample_session(), 2 << 20)
    backing = TranscriptBacking(path, SESSION)
    data = path.read_bytes()
    conv, at = open_converter(path, data[:data.index(b"\n")]), 0
    for line in data.splitlines(keepends=True):
        for ev in conv.feed(line.rstrip(b"\n"), at):
            if ev.get("session") == SESSION:
                backing.keep(at, fit(ev))
        at += len(line)
    backing.indexed(at)
    expected = [e for e in convert_file(path) if e.get("session") == SESSION]
    assert len(backing) == len(expected) > 300
    head = backing.read(0, 50)
    cursor = backing._cursors[0].converter
    assert cursor is not None
    ref = weakref.ref(cursor)
    del cursor
    gc.collect()
    gc.freeze()
    try:
        rest = backing.read(50, len(backing))
        assert head is not None and rest is not None
        assert [orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in head + rest] == [
            orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in expected]
        assert backing._cursors == []
        assert ref() is None, "the cursor's converter outlived the cursor"
    finally:
        gc.unfreeze()
