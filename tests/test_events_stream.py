"""``watchkeeper events`` converts without a relay now: its numbering must still be the relay's.

The CLI (a real subprocess) on the Claude Code fixtures, beside the same files fed
through a real relay: per session, the same events with the same seqs; and a
transcript with a repeated record is deduplicated the way the relay's book does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
from conftest import CC_FIXTURES
from test_events_cli import CC_SESSION, events_cli

from watchkeeper.adapters.files.discovery import scan_sessions
from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.index import head
from watchkeeper.protocol import Event
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


def test_a_session_that_comes_back_after_another_goes_on_numbering(tmp_path: Path) -> None:
    """Files of sessions S, T, S again: S's third file continues S's seqs (the CLI holds the session it is
    numbering in locals and must put its count back when T comes), and S's records read before are dropped."""
    others = [p for p, _ in scan_sessions(CC_FIXTURES)[0] if p.name != CC_SESSION.name]
    other = next(p for p in others if "subagents" not in p.parts)
    lines = [line for line in CC_SESSION.read_bytes().splitlines() if line.strip()]
    again = []
    for n, line in enumerate(lines[:12]):
        rec = orjson.loads(line)
        if n % 2 and isinstance(rec.get("uuid"), str):
            rec["uuid"] = f"0000000{n % 10}-aaaa-4bbb-8ccc-{n:012d}"  # a record not read before
        again.append(orjson.dumps(rec))
    project = tmp_path / "-p"
    project.mkdir()
    (project / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (project / "b.jsonl").write_bytes(other.read_bytes())
    (project / "c.jsonl").write_bytes(b"\n".join(again) + b"\n")
    files = sorted(p for p, _ in scan_sessions(tmp_path)[0])
    assert [p.name for p in files] == ["a.jsonl", "b.jsonl", "c.jsonl"]
    got = cli_numbering(tmp_path)
    assert got == relay_numbering(files)
    first = orjson.loads(lines[0]).get("sessionId") or next(
        orjson.loads(x)["sessionId"] for x in lines if b"sessionId" in x)
    seqs = [seq for seq, _ in got[first]]
    assert seqs == list(range(len(seqs)))
    ids_from_a = {e["id"] for e in convert_file(project / "a.jsonl")}
    assert len(seqs) > len(ids_from_a), "the third file added events of its own"


def test_a_transcript_saved_with_a_byte_order_mark_reads_as_without_it(tmp_path: Path) -> None:
    """An editor that writes a BOM before the first line: the file is still its agent's transcript, every
    record read, none ``raw``."""
    from conftest import SAMPLE_LOGS

    for original in (next((SAMPLE_LOGS / "claude-code").glob("*/*.jsonl")), SAMPLE_LOGS / "codex" /
                     "rollout-reference.jsonl"):
        shutil.copytree(original.parent, tmp_path / original.parent.name)
        marked = tmp_path / original.parent.name / original.name
        marked.write_bytes(b"\xef\xbb\xbf" + original.read_bytes())
        want, got = list(convert_file(original)), list(convert_file(marked))
        assert [e["kind"] for e in got] == [e["kind"] for e in want] and "raw" not in {e["kind"] for e in got}
        def said(events: list[Event]) -> list[dict[str, object]]:
            return [{k: v for k, v in e["data"].items() if k != "source"} for e in events]

        assert said(got) == said(want), original.name
        (first_at, first), *_ = head(marked)
        assert (first_at, first) == (3, original.read_bytes().split(b"\n", 1)[0]), "a tail-first read skips it too"
