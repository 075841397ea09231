"""The tailer and the transcript sources on real files growing on disk.

Waits for events are bounded (``until``) and never asserted on time: they only
keep a broken tail from hanging the suite.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from conftest import CC_FIXTURES
from waiting import until_async

from watchkeeper.adapters.claude_code import subagent_files
from watchkeeper.adapters.files.feed import TranscriptReader, convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.adapters.files.tail import Tailer
from watchkeeper.protocol import Event, encode_line, make_event

WAIT = 20.0
PROJECT = CC_FIXTURES / "-home-dev-project"  # a 2.1.197 session with a subagent file
SESSION = "78d01735-0000-49d5-a966-000000000197"


def lines_of(t: Tailer, final: bool = False) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    while True:
        r = t.read(final)
        out += r.lines
        if not r.more:
            return out


def native(session: str, n: int) -> bytes:
    return encode_line(make_event(f"{session}:{n}", session, "notice", {"level": "info", "text": f"#{n}"},
                                  ts=f"2026-11-27T10:00:{n % 60:02d}.000Z"))


def ids(events: list[Event]) -> list[str]:
    return [e["id"] for e in events]


class Follow:
    """A TranscriptSource running in a task, its batches collected."""

    def __init__(self, path: Path, **kw: object) -> None:
        self.batches: list[list[Event]] = []
        self.source = TranscriptSource(path, **kw)  # type: ignore[arg-type]

    @property
    def events(self) -> list[Event]:
        return [e for b in self.batches for e in b]

    async def __aenter__(self) -> Follow:
        self.task = asyncio.create_task(self.source.run(self.batches.append))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


# --- the tailer ---------------------------------------------------------------


def test_half_written_line_is_held_until_its_newline(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b'{"a":1}\n{"b":')
    t = Tailer(p)
    assert lines_of(t) == [(0, b'{"a":1}')]
    assert t.held == len(b'{"b":') and t.offset == 8
    with p.open("ab") as f:
        f.write(b"2}")
    assert lines_of(t) == []
    with p.open("ab") as f:
        f.write(b'\n{"c":3}\n')
    assert lines_of(t) == [(8, b'{"b":2}'), (16, b'{"c":3}')]
    assert t.held == 0 and t.offset == p.stat().st_size


def test_last_line_without_newline_is_given_only_when_final(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b"one\ntwo")
    t = Tailer(p)
    assert lines_of(t) == [(0, b"one")]
    assert lines_of(t, final=True) == [(4, b"two")]


def test_a_file_that_shrinks_is_read_again(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b"one\ntwo\nthree\n")
    t = Tailer(p)
    assert [line for _, line in lines_of(t)] == [b"one", b"two", b"three"]
    p.write_bytes(b"one\n2\n")
    r = t.read()
    assert r.reset and r.lines == [(0, b"one"), (4, b"2")]
    with p.open("ab") as f:
        f.write(b"four\n")
    r = t.read()
    assert not r.reset and r.lines == [(6, b"four")]


def test_a_file_replaced_by_rename_is_read_again(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b"one\ntwo\n")
    t = Tailer(p)
    assert len(lines_of(t)) == 2
    new = tmp_path / "a.jsonl.tmp"
    new.write_bytes(b"one\ntwo\nthree\n")
    os.replace(new, p)
    r = t.read()
    assert r.reset and [line for _, line in r.lines] == [b"one", b"two", b"three"]


def test_a_file_rewritten_in_place_and_grown_past_the_offset_is_read_again(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b'{"n":"first line"}\n{"n":"second"}\n')
    t = Tailer(p)
    assert len(lines_of(t)) == 2
    with p.open("r+b") as f:  # same inode, new content, longer than before
        f.write(b'{"n":"rewritten"}\n{"n":"and grown past the old end"}\n')
    r = t.read()
    assert r.reset
    assert [line for _, line in r.lines] == [b'{"n":"rewritten"}', b'{"n":"and grown past the old end"}']


def test_big_appends_are_read_in_bounded_chunks_and_long_lines_survive(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    long_line = b'{"blob":"' + b"x" * (3 * 1024 * 1024) + b'"}'
    p.write_bytes(b"short\n" + long_line + b"\nafter\n")
    t = Tailer(p, chunk_size=256 * 1024)
    reads = []
    while True:
        r = t.read()
        reads.append(r)
        if not r.more:
            break
    assert len(reads) > 10
    got = [x for r in reads for x in r.lines]
    assert got == [(0, b"short"), (6, long_line), (7 + len(long_line), b"after")]


def test_a_missing_file_is_waited_for(tmp_path: Path) -> None:
    p = tmp_path / "later.jsonl"
    t = Tailer(p)
    r = t.read()
    assert not r.reset and r.lines == []
    p.write_bytes(b"x\n")
    r = t.read()
    assert not r.reset and r.lines == [(0, b"x")]


# --- one-shot conversion --------------------------------------------------------


def test_convert_file_brings_a_claude_sessions_subagent_files_in_file_order() -> None:
    main = PROJECT / f"{SESSION}.jsonl"
    subs = subagent_files(main)
    assert subs, "the session has a subagent file"
    got = ids(list(convert_file(main)))
    alone = ids(list(convert_file(subs[0])))
    assert alone and got[-len(alone):] == alone
    assert len(got) > len(alone)


def test_a_file_no_adapter_reads_keeps_every_line(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_bytes(b"first\nsecond\nsecond\n\xff\xfe not utf-8\n")
    events = list(convert_file(p))
    raws = [e for e in events if e["kind"] == "raw"]
    assert [e["data"]["record"] for e in raws] == ["first", "second", "second", "\ufffd\ufffd not utf-8"]
    assert len(set(ids(raws))) == 4
    assert any(e["kind"] == "notice" for e in events)


def test_the_reader_reads_a_file_through_before_the_next(tmp_path: Path) -> None:
    src = PROJECT
    dst = tmp_path / "p"
    shutil.copytree(src, dst)
    reader = TranscriptReader(dst / f"{SESSION}.jsonl", chunk_size=512)
    reader.rescan()
    batches = []
    more = True
    while more:
        events, more = reader.poll(final=True)
        batches.append(events)
    assert len(batches) > 2
    assert ids([e for b in batches for e in b]) == ids(list(convert_file(dst / f"{SESSION}.jsonl")))


# --- live -------------------------------------------------------------------------


async def test_a_file_that_grows_while_the_source_runs(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_bytes(b"".join(native("s", n) for n in range(3)))
    async with Follow(p) as f:
        await until_async(lambda: len(f.events) == 3, "the first three events")
        with p.open("ab") as out:
            for n in range(3, 10):
                out.write(native("s", n))
                out.flush()
            line = native("s", 10)
            out.write(line[:20])
            out.flush()
            await until_async(lambda: len(f.events) == 10, "the appended events")
            out.write(line[20:])
        await until_async(lambda: len(f.events) == 11, "the half-written line, once complete")
    assert ids(f.events) == [f"s:{n}" for n in range(11)]
    assert len(f.batches) < 11


async def test_a_new_subagent_file_is_picked_up_during_a_follow(tmp_path: Path) -> None:
    src = PROJECT
    main = tmp_path / f"{SESSION}.jsonl"
    shutil.copy(src / f"{SESSION}.jsonl", main)
    expected_main = ids(list(convert_file(main)))
    async with Follow(main) as f:
        await until_async(lambda: set(expected_main) <= set(ids(f.events)), "the main file's events")
        sub_dir = tmp_path / SESSION / "subagents"
        sub_dir.mkdir(parents=True)
        for meta in (src / SESSION / "subagents").glob("*.meta.json"):
            shutil.copy(meta, sub_dir / meta.name)
        (sub_src,) = (src / SESSION / "subagents").glob("agent-*.jsonl")
        data = sub_src.read_bytes()
        with (sub_dir / sub_src.name).open("wb") as out:
            half = data.index(b"\n", len(data) // 2) + 1
            out.write(data[:half])
            out.flush()
            await asyncio.sleep(0.05)
            out.write(data[half:])
        everything = ids(list(convert_file(main)))
        assert len(everything) > len(expected_main)
        await until_async(lambda: set(everything) <= set(ids(f.events)), "the subagent's events")
    assert sorted(ids(f.events)) == sorted(everything)


async def test_a_replaced_file_is_read_again_live(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_bytes(b"".join(native("s", n) for n in range(5)))
    async with Follow(p) as f:
        await until_async(lambda: len(f.events) == 5, "the first events")
        tmp = tmp_path / "s.jsonl.new"
        tmp.write_bytes(b"".join(native("s", n) for n in (0, 1, 7, 8)))
        os.replace(tmp, p)
        await until_async(lambda: "s:8" in ids(f.events), "the replacement's events")
        p.write_bytes(native("s", 20))  # shrinks in place
        await until_async(lambda: "s:20" in ids(f.events), "the shrunk file's event")
    got = ids(f.events)
    assert got[:5] == [f"s:{n}" for n in range(5)]
    assert got[5:] == ["s:0", "s:1", "s:7", "s:8", "s:20"]


async def test_a_file_that_appears_later_is_followed(tmp_path: Path) -> None:
    p = tmp_path / "later.jsonl"
    async with Follow(p) as f:
        await asyncio.sleep(0.05)
        p.write_bytes(native("s", 1))
        await until_async(lambda: len(f.events) == 1, "the new file's event")
    assert f.source.agent_kind == "unknown"
    assert ids(f.events) == ["s:1"]  # the first line, not the name, picked the native converter


async def test_a_one_shot_source_ends_with_the_file() -> None:
    main = PROJECT / f"{SESSION}.jsonl"
    batches: list[list[Event]] = []
    async with asyncio.timeout(WAIT):
        await TranscriptSource(main, follow=False).run(batches.append)
    assert ids([e for b in batches for e in b]) == ids(list(convert_file(main)))
