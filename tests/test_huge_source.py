"""A huge transcript opened tail-first through the real relay: newest events first, then the whole history.

The file is a few MB grown from the session the real CLI recorded, and the thresholds are
set so that it counts as huge. The background conversion runs on the real index
worker; ``HeldIndexer`` keeps that worker busy so the tail is seen on its own,
then lets it go. The whole history must then equal ``convert_file`` of the file,
in order, with nothing lost or repeated, appends included.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from huge_support import SESSION, WAIT, Collector, HeldIndexer, copies, grow, sample_session
from waiting import until

from watchkeeper.adapters.files import index
from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.relay import IterSource, Relay

TAIL_FIRST = 1 << 20
TAIL = 256 << 10


@pytest.fixture
def big(tmp_path: Path) -> Path:
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    grow(path, sample_session(), 3 * TAIL_FIRST)
    return path


@pytest.fixture
def relay():
    r = Relay().start()
    yield r
    r.stop()


def ids(events: list) -> list[str]:
    return [e["id"] for e in events]


def source(path: Path, follow: bool = True) -> TranscriptSource:
    return TranscriptSource(path, follow=follow, poll_interval=0.1, tail_first=TAIL_FIRST, tail_bytes=TAIL)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def newest(path: Path) -> str:
    """The id of the file's newest message: derived from its record, so the tail gives it too.

    (A record without any id gets a digest counted over the lines read, which
    the tail alone counts differently: such ids are provisional until the swap.)
    """
    return [e["id"] for e in convert_file(path) if e["kind"].startswith("message.")][-1]


def generation(got: Collector) -> list:
    """The events of the newest generation the subscriber was told of."""
    start = got.resyncs[-1][1]
    return [e for e in got.events if e["seq"] >= start]


# --- finding lines from the end -------------------------------------------------------


def test_line_offsets_from_the_end(tmp_path: Path) -> None:
    lines = [b"a" * n for n in (0, 5, 1, 300, 17, 2)]
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    for pos in range(path.stat().st_size):
        start = index.tail_start(path, path.stat().st_size - pos)
        assert start in starts and start <= pos < start + 1 + max(len(x) for x in lines)
    assert index.tail_start(path, 5, not_before=starts[4]) == starts[4]
    assert index.head(path, max_lines=2) == [(0, b""), (1, b"aaaaa")]


# --- the relay: tail first, then the whole history ------------------------------------


def test_newest_events_first_then_the_whole_history_in_file_order(big: Path, relay: Relay) -> None:
    got = Collector()
    relay.subscribe(got, SESSION, on_resync=got.resync)
    with HeldIndexer() as held:
        relay.add_source(source(big))
        last = newest(big)
        assert got.wait(lambda: last in ids(got.events)), "the newest event never came"
        first = got.events
        assert first[0]["kind"] == "session.started" and first[0]["data"]["title"]
        assert len(first) < len(list(convert_file(big))) / 4, "the whole file came, not its tail"
        assert not got.resyncs
        until(lambda: (relay.session(SESSION) or relay.sessions()[0]).indexing is not None)

        # An agent keeps writing while the earlier history is indexed: the appends show at once.
        per_copy = len(copies(sample_session(), 1))
        n = big.stat().st_size // per_copy
        append(big, copies(sample_session(), 1, first=n) + b"{ not json, kept as a raw event\n"
               + copies(sample_session(), 1, first=n + 1))
        appended = newest(big)
        assert got.wait(lambda: appended in ids(got.events)), "an append during indexing never came"
        assert not got.resyncs
        held.release()

    assert got.wait(lambda: bool(got.resyncs)), "the whole history never came"
    expected = ids(list(convert_file(big)))
    assert got.wait(lambda: len(generation(got)) >= len(expected))
    new = generation(got)
    assert ids(new) == expected
    assert sum(e["kind"] == "raw" for e in new) == 1
    session, start, end, _ = got.resyncs[0]
    assert (session, end - start) == (SESSION, len(expected))
    assert [e["seq"] for e in new] == list(range(start, end))
    info = relay.session(SESSION)
    assert info is not None and info.indexing is None and info.history_from == start
    assert info.events == len(expected)

    # After the swap, appends are converted with the whole file's state: the ids convert_file gives.
    append(big, copies(sample_session(), 1, first=n + 2))
    expected = ids(list(convert_file(big)))
    assert got.wait(lambda: len(generation(got)) >= len(expected))
    assert ids(generation(got)) == expected
    assert len(got.resyncs) == 1


def test_a_relay_with_a_viewer_holds_the_index_back(big: Path) -> None:
    """``Relay(index_after=…)`` (the commands that draw pass ``tailfirst.INDEX_AFTER``): the tail and its
    appends come at once, the earlier history only after the wait; a relay alone starts it at once (the
    test above sees it start, and this one would: it starts two loop turns after the tail is read)."""
    relay = Relay(index_after=3600).start()
    try:
        got = Collector()
        relay.subscribe(got, SESSION, on_resync=got.resync)
        relay.add_source(source(big))
        last = newest(big)
        assert got.wait(lambda: last in ids(got.events)), "the newest event never came"
        n = big.stat().st_size // len(copies(sample_session(), 1))
        append(big, copies(sample_session(), 1, first=n))
        appended = newest(big)
        assert got.wait(lambda: appended in ids(got.events)), "an append never came"
        info = relay.session(SESSION)
        assert info is not None and info.indexing is None and not info.history_from and not got.resyncs
    finally:
        relay.stop()


def test_tokens_are_not_counted_twice(big: Path, relay: Relay) -> None:
    plain = Relay().start()
    try:
        plain.add_source(IterSource("whole", convert_file(big)))
        assert plain.drain(WAIT)
        want = plain.session(SESSION)
    finally:
        plain.stop()
    relay.add_source(source(big))
    until(lambda: (info := relay.session(SESSION)) is not None and info.history_from > 0)
    info = relay.session(SESSION)
    assert want is not None and info is not None
    got = (info.tokens_in, info.tokens_out, info.tokens_cache_read, info.tokens_cache_creation, info.events)
    assert got == (want.tokens_in, want.tokens_out, want.tokens_cache_read, want.tokens_cache_creation, want.events)
    assert info.title == want.title and info.model == want.model


@pytest.mark.parametrize("case", ["small", "replay"])
def test_read_from_the_start(case: str, big: Path, relay: Relay) -> None:
    """A file under the threshold, and a one-shot conversion (what replay uses) of a huge one."""
    if case == "small":
        big.write_bytes(big.read_bytes()[: TAIL_FIRST // 2].rsplit(b"\n", 1)[0] + b"\n")
    got = Collector()
    relay.subscribe(got, SESSION, on_resync=got.resync)
    relay.add_source(source(big, follow=case == "small"))
    expected = ids(list(convert_file(big)))
    assert got.wait(lambda: len(got.events) >= len(expected))
    assert ids(got.events) == expected
    assert not got.resyncs and relay.session(SESSION).history_from == 0  # type: ignore[union-attr]


def test_subscribers_that_know_nothing_of_generations(big: Path, relay: Relay) -> None:
    """The all-sessions stream gives each id once; a late per-session subscriber starts where it must."""
    everything = Collector()
    relay.subscribe(everything)
    relay.add_source(source(big))
    expected = ids(list(convert_file(big)))
    assert everything.wait(lambda: set(ids(everything.events)) >= set(expected))
    assert sorted(ids(everything.events)) == sorted(expected)
    seqs = [e["seq"] for e in everything.events]
    assert seqs == sorted(seqs)

    late = Collector()
    relay.subscribe(late, SESSION, on_resync=late.resync)
    assert late.wait(lambda: len(late.events) >= len(expected))
    assert ids(late.events) == expected and not late.resyncs
    assert late.events[0]["seq"] == relay.session(SESSION).history_from  # type: ignore[union-attr]

    naive = Collector()
    relay.subscribe(naive, SESSION)
    history_from = relay.session(SESSION).history_from  # type: ignore[union-attr]
    assert naive.wait(lambda: len(naive.events) >= history_from + len(expected))
    assert ids(naive.events[history_from:]) == expected


def test_a_file_replaced_while_indexing_is_read_again(big: Path, relay: Relay) -> None:
    got = Collector()
    relay.subscribe(got, SESSION, on_resync=got.resync)
    with HeldIndexer() as held:
        relay.add_source(source(big))
        assert got.wait(lambda: len(got.events) > 0)
        replacement = big.with_suffix(".new")
        replacement.write_bytes(copies(sample_session(), 3, first=500))
        os.replace(replacement, big)
        expected = ids(list(convert_file(big)))
        assert got.wait(lambda: set(expected) <= set(ids(got.events))), "the new file was not read"
        held.release()
    info = relay.session(SESSION)
    until(lambda: relay.session(SESSION).indexing is None)  # type: ignore[union-attr]
    assert info is not None and not got.resyncs and info.history_from == 0
