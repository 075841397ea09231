"""A huge transcript's history lives in the transcript itself: read back on demand, checked, never lost silently.

The file (a few MB grown from the session the real CLI recorded) counts as huge, so the
relay opens it tail-first and indexes it in the background (``tailfirst.py``). The rebuilt
history is then kept as record offsets (``files/backing.py``) and read back by converting the
file again: every seq must read as ``convert_file`` gives it, forwards, backwards and after
the file grew. A file replaced, truncated or rewritten in place must be noticed: each of
those seqs is answered by a notice that says so, and the session is told once.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import CancelledError
from pathlib import Path

import orjson
import pytest
from huge_support import SESSION, Collector, copies, grow, sample_session

from watchkeeper.adapters.files import backing as backing_module
from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.protocol import MAX_EVENT_BYTES, fit, make_event
from watchkeeper.relay import IterSource, Relay
from watchkeeper.relay.api import ReadCancelled, cancellable

TAIL_FIRST = 1 << 20
TAIL = 256 << 10
#: Events the session keeps in memory: far fewer than the file holds.
KEEP = 500


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    grow(path, sample_session(), 3 * TAIL_FIRST)
    return path


@pytest.fixture
def relay(tmp_path: Path):  # type: ignore[no-untyped-def]
    r = Relay(keep=KEEP, spill_dir=str(tmp_path)).start()
    yield r
    r.stop()


def bare(events: list) -> list:
    """Events without what the relay numbers them with."""
    return [{k: v for k, v in e.items() if k not in ("seq", "epoch")} for e in events]


def indexed(relay: Relay, path: Path) -> tuple[int, int, Collector]:
    """Follow ``path`` until its whole history is swapped in: (its first seq, its length, a subscriber)."""
    got = Collector()
    relay.subscribe(got, SESSION, on_resync=got.resync)
    relay.add_source(TranscriptSource(path, poll_interval=0.1, tail_first=TAIL_FIRST, tail_bytes=TAIL))
    assert got.wait(lambda: bool(got.resyncs)), "the whole history never came"
    _, start, end, _ = got.resyncs[0]
    return start, end, got


def segments(relay: Relay) -> list[tuple[int, int]]:
    log = relay._book.stream(SESSION)
    return [(s.start, s.stop) for s in log.segments]  # type: ignore[union-attr]


def notices(got: Collector, code: str) -> list:
    return [e for e in got.events if e["kind"] == "notice" and e["data"].get("code") == code]


def caught_up(relay: Relay, path: Path) -> tuple[list, int, Collector, backing_module.TranscriptBacking]:
    """:func:`indexed`, and its subscriber caught up (its reads, on the relay's thread, are done): what
    ``convert_file`` gives, the history's first seq, the subscriber, and the backing the history is read from."""
    expected = list(convert_file(path))
    start, _, got = indexed(relay, path)
    assert got.wait(lambda: len([e for e in got.events if e["seq"] >= start]) >= len(expected))
    return expected, start, got, relay._book.stream(SESSION).segments[0].backing  # type: ignore[union-attr]


class HeldReads:
    """``backing.read`` held until :attr:`gate` opens (:attr:`entered`: one is held), then done as it is;
    :attr:`given_up` collects what it raised when its reader gave up."""

    def __init__(self, backing: backing_module.TranscriptBacking) -> None:
        self.entered, self.gate = threading.Event(), threading.Event()
        self.given_up: list[ReadCancelled] = []
        self._read = backing.read
        backing.read = self  # type: ignore[method-assign]

    def __call__(self, start: int, stop: int) -> list | None:
        self.entered.set()
        assert self.gate.wait(60), "the test never let the read go on"
        try:
            return self._read(start, stop)
        except ReadCancelled as e:
            self.given_up.append(e)
            raise


def test_the_history_is_read_back_from_the_transcript(big: Path, relay: Relay) -> None:
    expected = list(convert_file(big))
    start, end, got = indexed(relay, big)
    assert end - start == len(expected)
    assert segments(relay) == [(start, end)], "the rebuilt history is not kept in the transcript"
    assert relay.in_memory() < len(expected) / 4
    spilled = sum(p.stat().st_size for p in relay.spool.directory.iterdir()) if relay.spool.directory else 0
    assert spilled < big.stat().st_size / 4, "the history was copied to the spill files after all"

    # Forwards, as a subscriber catching up reads it: every seq as the first conversion gave it.
    assert got.wait(lambda: len([e for e in got.events if e["seq"] >= start]) >= len(expected))
    assert bare([e for e in got.events if e["seq"] >= start]) == bare(expected)
    read = relay.read_range(SESSION, start, end)
    assert [e["seq"] for e in read] == list(range(start, end))
    assert bare(read) == bare(expected)

    # Backwards and in pieces: a read before every cursor starts again from the file's start.
    for a, b in [(end - 7, end), (start + 1000, start + 1010), (start, start + 3), (start + 2, start + 900)]:
        assert bare(relay.read_range(SESSION, a, b)) == bare(expected[a - start:b - start]), (a, b)

    # A search scans the backed history too.
    title = next(e for e in expected if e["kind"] == "message.assistant")["data"]["text"][:20]
    hits = relay.search(SESSION, title).result(30)
    assert any(start <= seq < end for seq in hits)
    assert not notices(got, "transcript-changed")


def test_paging_back_from_the_end_converts_the_file_again_once_per_window_not_once_per_page(
        big: Path, relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    """A person scrolling up through a huge history reads chunk after chunk, each before the last: before
    every cursor, each read used to convert the file from its start again (seconds apiece at 1 GB)."""
    monkeypatch.setattr(backing_module, "BEHIND", 300)
    monkeypatch.setattr(backing_module, "RECENT", 100)
    expected, start, _, backing = caught_up(relay, big)
    end = start + len(expected)
    before, page = backing.passes, 40
    for b in range(end, start, -page):
        a = max(b - page, start)
        assert bare(relay.read_range(SESSION, a, b)) == bare(expected[a - start:b - start]), (a, b)
    pages, windows = -(-len(expected) // page), -(-len(expected) // 300)
    assert pages > 3 * windows
    assert backing.passes - before <= windows + 1, f"{backing.passes - before} passes for {pages} pages"


def test_a_read_back_holds_up_nothing_else_in_the_relay(big: Path, relay: Relay) -> None:
    """Reading back converts the transcript again (seconds near the end of 1 GB): meanwhile every other
    session's events still come in, and other reads are answered. It used to hold the relay's book lock,
    which every ingest takes: the relay's loop, and every live session with it, stood still."""
    expected, start, _, backing = caught_up(relay, big)
    held = HeldReads(backing)
    result: list[list] = []
    reader = threading.Thread(target=lambda: result.append(relay.read_range(SESSION, start, start + 10)))
    reader.start()
    try:
        assert held.entered.wait(30), "the read never reached the transcript"
        other = Collector()
        relay.subscribe(other, "other-session")
        relay.add_source(IterSource("other", [make_event("o1", "other-session", "message.user", {"text": "hi"})]))
        assert other.wait(lambda: len(other.events) == 1, timeout=20), "the relay stood still while a read ran"
        assert [e["id"] for e in relay.read_range("other-session", 0, 5)] == ["o1"]
    finally:
        held.gate.set()
        reader.join(30)
    assert bare(result[0]) == bare(expected[:10])


def test_a_read_back_given_up_stops_between_lines_and_its_cursor_goes_on(
        big: Path, relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    """A viewer's worker replaced by a newer request, or an app quitting, gives its read up: the conversion
    stops within a few hundred lines (it used to run to the end: the quit waited seconds for it), nothing is
    reported lost, and the next read goes on from where the cursor stopped."""
    monkeypatch.setattr(backing_module, "BEHIND", 300)
    monkeypatch.setattr(backing_module, "RECENT", 100)
    monkeypatch.setattr(backing_module, "LOOK_EVERY", 8)  # the file has ~900 lines: look often enough to see
    expected, start, got, backing = caught_up(relay, big)
    before = backing.passes
    at = len(expected) // 2
    looks: list[int] = []

    def given_up() -> bool:
        looks.append(backing.passes)
        return len(looks) >= 3

    with cancellable(given_up), pytest.raises(ReadCancelled):
        relay.read_range(SESSION, start + at, start + at + 10)
    assert len(looks) == 3, "the read did not stop when its reader gave up"
    assert backing.problem is None
    assert bare(relay.read_range(SESSION, start + at, start + at + 10)) == bare(expected[at:at + 10])
    assert backing.passes == before + 1, "the cursor the given-up read started was not carried on"
    assert not notices(got, "history-unavailable")


def test_a_search_cancelled_during_a_read_back_stops_it(big: Path, relay: Relay,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backing_module, "RECENT", 100)
    monkeypatch.setattr(backing_module, "BEHIND", 100)
    monkeypatch.setattr(backing_module, "LOOK_EVERY", 8)
    held = HeldReads(caught_up(relay, big)[3])
    search = relay.search(SESSION, "no such text anywhere")
    assert held.entered.wait(30), "the search never read the transcript"
    search.cancel()
    held.gate.set()
    with pytest.raises(CancelledError):
        search.result(30)
    assert held.given_up, "the read went on to its end after the search was cancelled"


def test_the_transcript_grows_after_the_swap(big: Path, relay: Relay) -> None:
    expected = list(convert_file(big))
    start, end, got = indexed(relay, big)
    per_copy = len(copies(sample_session(), 1))
    with big.open("ab") as f:
        f.write(copies(sample_session(), 2, first=big.stat().st_size // per_copy + 1))
    whole = list(convert_file(big))
    assert got.wait(lambda: whole[-1]["id"] in [e["id"] for e in got.events]), "the append never came"
    assert bare(relay.read_range(SESSION, start, end)) == bare(expected)
    assert bare(relay.read_range(SESSION, start, start + len(whole))) == bare(whole)
    assert not notices(got, "transcript-changed")


def test_events_appended_later_leave_memory_for_the_transcript_too(big: Path, relay: Relay) -> None:
    """Followed after the swap, the file's new events join the transcript's segments once past the working
    set; another source's events between them go to the spill file; every seq reads as it came."""
    start, end, got = indexed(relay, big)
    per_copy = len(copies(sample_session(), 1))
    first = big.stat().st_size // per_copy + 1
    for n in range(3):
        with big.open("ab") as f:
            f.write(copies(sample_session(), 14, first=first + 14 * n))
        relay.notice(SESSION, f"between appends {n}", "test-between", "info")
        want = list(convert_file(big))[-1]["id"]
        assert got.wait(lambda want=want: want in [e["id"] for e in got.events]), "an append never came"
    assert got.wait(lambda: len(notices(got, "test-between")) == 3)
    total = relay.session(SESSION).events  # type: ignore[union-attr]
    assert total - (end - start) > KEEP + KEEP // 4 + 100, "too few appended to leave the working set"
    spans = segments(relay)
    # Appended events the tailer read before the first notice continue the indexed span: it may end past ``end``.
    assert spans[0][0] == start and spans[0][1] >= end and len(spans) > 1, \
        "appended events did not join the transcript's segments"
    backed = sum(b - a for a, b in spans)
    length = relay._book.length(SESSION)
    assert backed >= length - KEEP - KEEP // 4 - start - 10, "most of what left memory should be backed"
    whole = bare(list(convert_file(big)))
    read = relay.read_range(SESSION, start, length)
    assert [e["seq"] for e in read] == list(range(start, length))
    from_file = [e for e in bare(read) if e["kind"] != "notice" or e["data"].get("code") != "test-between"]
    assert from_file == whole
    assert [e["data"]["text"] for e in read if e["kind"] == "notice" and e["data"].get("code") == "test-between"] \
        == [f"between appends {n}" for n in range(3)]

    # Replaced now: every segment's seqs are answered, and the session is told once, not once a segment.
    _replace(big)
    read = relay.read_range(SESSION, start, length)
    assert [e["seq"] for e in read] == list(range(start, length))
    relay.notice(SESSION, "end of test", "test-marker", "info")
    assert got.wait(lambda: bool(notices(got, "test-marker")))
    assert len(notices(got, "transcript-changed")) == 1


def test_events_over_the_size_limit_read_back_cut_and_their_calls_are_kept_cut(tmp_path: Path,
                                                                              relay: Relay) -> None:
    """Indexing fits (``protocol.fit``) only the tool events, which the call table keeps; the others are
    dropped after the summary's fold. A prompt and a tool call's input over the size limit must still read
    back as the relay serves any event, cut, and the call's input be kept cut."""
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    lines = copies(sample_session(), 3 * TAIL_FIRST // len(copies(sample_session(), 1)) + 1).splitlines()
    records = [orjson.loads(line) for line in lines[:len(lines) // 4]]
    prompt = next(i for i, r in enumerate(records) if r.get("type") == "user"
                  and isinstance(r["message"].get("content"), str))
    use = next(i for i, r in enumerate(records) if r.get("type") == "assistant"
               and r["message"]["content"][0].get("type") == "tool_use")
    huge = "y" * (MAX_EVENT_BYTES + 4096)
    records[prompt]["message"]["content"] = huge
    records[use]["message"]["content"][0]["input"]["description"] = huge
    call_id = records[use]["message"]["content"][0]["id"]
    for i in (prompt, use):
        lines[i] = orjson.dumps(records[i])
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = [fit(e) for e in convert_file(path)]
    assert {e["kind"] for e in expected if "truncated" in e["data"]} == {"message.user", "tool.started"}
    start, end, got = indexed(relay, path)
    assert segments(relay) == [(start, end)]
    assert bare(relay.read_range(SESSION, start, end)) == bare(expected)
    call = relay.call(SESSION, call_id)
    assert call is not None and call.input is not None
    assert len(orjson.dumps(call.input)) < MAX_EVENT_BYTES, "the call table kept the tool's input whole"
    assert not notices(got, "transcript-changed")


def test_a_small_followed_file_keeps_its_history_in_itself(tmp_path: Path, relay: Relay) -> None:
    """Not opened tail-first (under the threshold, or turned off) the file is read from its start; what
    leaves the working set is forgotten for the file's records all the same, and read back from there."""
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    path.write_bytes(copies(sample_session(), 20))
    got = Collector()
    relay.subscribe(got, SESSION)
    relay.add_source(TranscriptSource(path, poll_interval=0.1, tail_first=None))
    with path.open("ab") as f:
        f.write(copies(sample_session(), 20, first=20))
    whole = list(convert_file(path))
    assert got.wait(lambda: len(got.events) >= len(whole)), "the file never came whole"
    assert relay.session(SESSION).history_from == 0  # type: ignore[union-attr]
    length = relay._book.length(SESSION)
    assert length == len(whole) > KEEP + KEEP // 4
    assert sum(b - a for a, b in segments(relay)) >= length - KEEP - KEEP // 4, "the file's events were copied"
    spilled = sum(p.stat().st_size for p in relay.spool.directory.iterdir()) if relay.spool.directory else 0
    assert spilled == 0
    assert bare(relay.read_range(SESSION, 0, length)) == bare(whole)
    assert bare(relay.read_range(SESSION, 100, 130)) == bare(whole[100:130])


def test_another_sources_event_with_a_transcript_id_stays_its_own(tmp_path: Path, relay: Relay) -> None:
    """A hook source names a tool call's start as the transcript does (``tool:<id>:started``); when the hook's
    came first, that seq is the hook's event, and past the working set it must still read as the hook's."""
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    path.write_bytes(copies(sample_session(), 40))
    whole = list(convert_file(path))
    started = next(e for e in whole if e["kind"] == "tool.started")
    hook = make_event(started["id"], SESSION, "tool.started", dict(started["data"], name="from-the-hook"),
                      ts="2026-11-27T10:00:00.000Z")
    relay.add_source(IterSource("hooks", [whole[0], hook]))
    assert relay.drain(30)
    relay.add_source(TranscriptSource(path, follow=False))
    assert relay.drain(30)
    length = relay._book.length(SESSION)
    assert length == len(whole) > KEEP + KEEP // 4 and sum(b - a for a, b in segments(relay)) > KEEP // 2
    read = relay.read_range(SESSION, 0, length)
    assert [e["data"].get("name") for e in read if e["id"] == started["id"]] == ["from-the-hook"]
    assert sorted(e["id"] for e in read) == sorted(e["id"] for e in whole)


def test_a_file_read_once_keeps_its_history_in_itself(tmp_path: Path, relay: Relay) -> None:
    """What ``replay`` uses: a one-shot conversion from the start; past the working set, read back from the file."""
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    path.write_bytes(copies(sample_session(), 40))
    relay.add_source(TranscriptSource(path, follow=False))
    assert relay.drain(30)
    whole = list(convert_file(path))
    length = relay._book.length(SESSION)
    assert length == len(whole) > KEEP + KEEP // 4
    assert sum(b - a for a, b in segments(relay)) >= length - KEEP - KEEP // 4, "the file's events were copied"
    assert bare(relay.read_range(SESSION, 0, length)) == bare(whole)


def test_readers_in_step_share_one_pass_over_the_file(big: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Subscribers catch up together, a batch each in turn: the others must not start a conversion
    of their own from the file's start (nor, with more readers than cursors, one per batch). Read
    forward, only the newest ``RECENT`` are kept for them (``BEHIND`` more are kept for paging back)."""
    expected = list(convert_file(big))
    monkeypatch.setattr(backing_module, "RECENT", len(expected) // 3)
    relay = Relay(keep=KEEP, spill_dir=str(tmp_path), max_batch=len(expected) // 5).start()
    try:
        readers = [Collector() for _ in range(3)]
        for got in readers:
            relay.subscribe(got, SESSION)
        start, _, _ = indexed(relay, big)
        for got in readers:
            assert got.wait(lambda got=got: len([e for e in got.events if e["seq"] >= start]) >= len(expected))
            assert bare([e for e in got.events if e["seq"] >= start]) == bare(expected)
        backing = relay._book.stream(SESSION).segments[0].backing  # type: ignore[union-attr]
        assert backing.passes == 1, f"{backing.passes} conversions from the file's start for 4 readers"
        assert 0 < len(backing._recent) <= backing_module.RECENT < len(expected) // 2
    finally:
        relay.stop()


def _replace(path: Path) -> str:
    other = path.with_suffix(".new")
    other.write_bytes(copies(sample_session(), 3, first=700))
    os.replace(other, path)
    return "replaced"


def _truncate(path: Path) -> str:
    os.truncate(path, path.stat().st_size // 2)
    return "truncated"


def _rewrite(path: Path) -> str:
    """Same file, same size, other first bytes (a different first record of the same length)."""
    with path.open("r+b") as f:
        first = f.readline()
        f.seek(0)
        f.write(first.replace(SESSION.encode(), b"0" * len(SESSION)))
    return "rewritten"


@pytest.mark.parametrize("change", [_replace, _truncate, _rewrite])
def test_a_changed_transcript_is_said_and_every_seq_still_answered(change, big: Path, relay: Relay) -> None:  # type: ignore[no-untyped-def]
    start, end, got = indexed(relay, big)
    # The subscriber has read it all: nothing else reads the file while it changes.
    assert got.wait(lambda: len([e for e in got.events if e["seq"] >= start]) >= end - start)
    newest = relay.read_range(SESSION, end - 3, end)
    assert all(e["kind"] != "notice" or e["data"].get("code") != "history-unavailable" for e in newest)
    kept = relay.read_range(SESSION, end, end + KEEP)  # whatever is in memory beyond the transcript's seqs

    word = change(big)
    read = relay.read_range(SESSION, start, end)
    assert [e["seq"] for e in read] == list(range(start, end)), "a seq went unanswered"
    assert all(e["kind"] == "notice" and e["data"]["code"] == "history-unavailable" for e in read)
    assert word in read[0]["data"]["text"]
    assert got.wait(lambda: bool(notices(got, "transcript-changed"))), "the session was not told"
    told = notices(got, "transcript-changed")
    assert word in told[0]["data"]["text"] and f"from seq {start} on" in told[0]["data"]["text"]
    assert relay.read_range(SESSION, end, end + len(kept)) == kept
    relay.read_range(SESSION, start, end)
    assert len(relay.read_range(SESSION, start, start + 5)) == 5
    # Notices are ingested in order on the relay's loop: once this one is in, a second would be too.
    relay.notice(SESSION, "end of test", "test-marker", "info")
    assert got.wait(lambda: bool(notices(got, "test-marker")))
    assert len(notices(got, "transcript-changed")) == 1, "told more than once"


def test_without_a_spool_everything_stays_in_memory(big: Path) -> None:
    """``Relay(keep=None)`` promises the whole history in memory: no segments, the events themselves."""
    relay = Relay(keep=None).start()
    try:
        start, end, _ = indexed(relay, big)
        assert segments(relay) == []
        assert relay.in_memory() >= end
        assert bare(relay.read_range(SESSION, start, end)) == bare(list(convert_file(big)))
    finally:
        relay.stop()
