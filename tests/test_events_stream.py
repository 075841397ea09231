"""``watchkeeper events`` converts without a relay now: its numbering must still be the relay's.

The CLI (a real subprocess) on the Claude Code fixtures, beside the same files fed
through a real relay: per session, the same events with the same seqs; and a
transcript with a repeated record is deduplicated the way the relay's book does.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from conftest import CC_FIXTURES
from test_events_cli import CC_SESSION, events_cli

from watchkeeper.adapters.files.discovery import scan_sessions
from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.relay import IterSource, Relay


def relay_numbering(files: list[Path]) -> dict[str, list[tuple[int, str]]]:
    relay = Relay().start()
    try:
        relay.add_source(IterSource("convert", (e for p in files for e in convert_file(p))))
        assert relay.drain(60)
        return {i.session: [(e["seq"], e["id"]) for e in relay.read_range(i.session, 0, 2**62)]
                for i in relay.sessions()}
    finally:
        relay.stop()


def cli_numbering(path: Path) -> dict[str, list[tuple[int, str]]]:
    r = events_cli(str(path))
    assert r.returncode == 0, r.stderr
    out: dict[str, list[tuple[int, str]]] = {}
    for line in r.stdout.splitlines():
        e = orjson.loads(line)
        out.setdefault(e["session"], []).append((e["seq"], e["id"]))
    return out


def test_the_cli_numbers_sessions_as_the_relay_does() -> None:
    files = sorted(p for p, _ in scan_sessions(CC_FIXTURES)[0])
    assert len(files) >= 3
    assert cli_numbering(CC_FIXTURES) == relay_numbering(files)


def test_a_repeated_record_is_one_event(tmp_path: Path) -> None:
    lines = CC_SESSION.read_bytes().splitlines(keepends=True)
    path = tmp_path / CC_SESSION.name
    path.write_bytes(b"".join(lines + lines[2:6]))
    got = cli_numbering(path)
    assert got == relay_numbering([path])
    (events,) = got.values()
    assert len({eid for _, eid in events}) == len(events)
    assert [seq for seq, _ in events] == list(range(len(events)))
