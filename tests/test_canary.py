"""`make canary`'s drift report (tests/canary.py) on transcripts written here: it must see what changed."""

from __future__ import annotations

import json
from pathlib import Path

import canary
from conftest import CC_FIXTURES, CODEX_FIXTURES


def copy_with(src: Path, dest: Path, *extra: dict) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(src.read_text() + "".join(json.dumps(r) + "\n" for r in extra))
    return dest


def test_unknown_records_and_newer_versions_are_reported(tmp_path: Path) -> None:
    session = next((CC_FIXTURES / "-tmp-project").glob("*.jsonl"))
    sid = json.loads(session.read_text().splitlines()[0])["sessionId"]
    claude = copy_with(session, tmp_path / "home" / ".claude" / "projects" / "-p" / session.name,
                       {"type": "brand-new-record", "sessionId": sid},
                       {"type": "user", "uuid": "n1", "parentUuid": None, "sessionId": sid, "version": "9.0.0",
                        "timestamp": "2027-01-01T00:00:00.000Z", "message": {"role": "user", "content": "hi"}})
    rollout = next(CODEX_FIXTURES.rglob("*.jsonl"))
    codex = copy_with(rollout, tmp_path / "home" / ".codex" / "sessions" / "2027" / "01" / "01" / rollout.name,
                      {"timestamp": "2027-01-01T00:00:00.000Z", "type": "event_msg", "payload": {"type": "new_thing"}})
    assert canary.transcripts(tmp_path) == sorted([claude, codex])
    raws, notices = canary.unread([claude, codex])
    assert [r.split(": ")[1] for r in raws] == ["brand-new-record", "event_msg"]
    assert len(notices) == 1 and "9.0.0" in notices[0]
    types = canary.record_types([claude, codex])
    assert {"claude:brand-new-record", "codex:event_msg/new_thing", "claude:queue-operation"} <= set(types)
    assert not {"claude:brand-new-record", "codex:event_msg/new_thing"} & canary.known_types()


def test_clean_transcripts_report_nothing() -> None:
    files = [*CC_FIXTURES.rglob("*.jsonl"), *CODEX_FIXTURES.rglob("*.jsonl")]
    assert canary.unread(files) == ([], [])
    assert set(canary.record_types(files)) <= canary.known_types()
