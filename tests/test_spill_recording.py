"""Recorded sessions spill to their recording, not a second copy; recordings are pruned by retention.

Real files: a relay with a small working set, a ``Recorder`` subscribed to it as
``serve`` wires it, and recordings aged with ``os.utime``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.protocol import Emit, Event, Kind, make_event
from watchkeeper.relay import Relay
from watchkeeper.relay.pruning import Retention
from watchkeeper.relay.recorder import Recorder

KEEP = 40
WAIT = 30.0


def stream(session: str, n: int) -> list[Event]:
    return [make_event(f"{session}:{i}", session, Kind.MESSAGE_ASSISTANT, {"text": f"answer {i}"}) for i in range(n)]


class Paced:
    """Emits ``events`` a batch at a time, each once the recorder has flushed the one before."""

    name = "paced"

    def __init__(self, events: list[Event], recorder: Recorder, session: str) -> None:
        self.events, self.recorder, self.session = events, recorder, session

    async def run(self, emit: Emit) -> None:
        for at in range(0, len(self.events), 16):
            emit(self.events[at:at + 16])
            for _ in range(int(WAIT / 0.005)):
                if self.recorder.covered(self.session) >= min(at + 16, len(self.events)) or self.recorder.errors:
                    break
                await asyncio.sleep(0.005)


@pytest.fixture
def recorded(tmp_path: Path) -> Any:
    relay = Relay(keep=KEEP, spill_dir=str(tmp_path / "spool"), flush_interval=0.005).start()
    recorder = Recorder(tmp_path / "rec", read_range=relay.read_range, notice=relay.notice,
                        retention=Retention(tmp_path / "rec", days=1, gib=None))
    relay.subscribe(recorder)
    relay.record_to(recorder)
    (tmp_path / "spool").mkdir()
    yield relay, recorder
    relay.stop()
    recorder.close()


@pytest.mark.parametrize("earlier_run", [False, True])
def test_a_recorded_session_spills_to_its_recording_only(recorded: Any, tmp_path: Path, earlier_run: bool) -> None:
    relay, recorder = recorded
    if earlier_run:  # the recording already holds an earlier relay run's lines: this run appends
        (tmp_path / "rec").mkdir(mode=0o700)
        recorder.path("S").write_bytes(b'{"earlier": "run"}\n' * 3)
    sent = stream("S", 600)
    relay.add_source(Paced(sent, recorder, "S"))
    assert relay.drain(WAIT)
    assert relay.in_memory() <= 2 * KEEP
    got = relay.read_range("S", 0, 2**62)
    assert [e["id"] for e in got] == [e["id"] for e in sent]
    assert [e["seq"] for e in got] == list(range(600))
    assert [e["id"] for e in relay.read_range("S", 10, 20)] == [f"S:{i}" for i in range(10, 20)]
    assert recorder.path("S").exists()
    assert list((tmp_path / "spool").rglob("*.jsonl")) == [], "no second copy of a recorded session"


def test_old_recordings_are_pruned_with_a_notice(recorded: Any, tmp_path: Path) -> None:
    relay, recorder = recorded
    rec = tmp_path / "rec"
    rec.mkdir(mode=0o700)
    old, fresh = rec / "old-session.jsonl", rec / "fresh-session.jsonl"
    old.write_bytes(b"{}\n" * 100)
    fresh.write_bytes(b"{}\n")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    relay.add_source(Paced(stream("N", 20), recorder, "N"))
    assert relay.drain(WAIT)
    notices: list[Event] = []
    for _ in range(int(WAIT / 0.01)):
        notices = [e for e in relay.read_range("N", 0, 2**62) if e["kind"] == Kind.NOTICE]
        if notices:
            break
        threading.Event().wait(0.01)
    assert not old.exists() and fresh.exists() and recorder.path("N").exists()
    (notice,) = notices
    assert notice["data"]["code"] == "recordings-pruned"
    assert "old-session.jsonl" in notice["data"]["text"] and "older than 1 days" in notice["data"]["text"]


def test_recordings_past_the_size_limit_go_oldest_first_but_never_one_in_use(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    paths = [rec / f"s{i}.jsonl" for i in range(4)]
    for i, p in enumerate(paths):
        p.write_bytes(b"x" * 400_000)
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
    limit = Retention(rec, days=None, gib=900_000 / 2**30)
    pruned = limit.prune(in_use={paths[0]}, now=1_000_010)
    assert [p.exists() for p in paths] == [True, False, False, True]
    assert len(pruned) == 2 and all("over" in line for line in pruned)


def test_retention_settings_come_from_config_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper import config

    monkeypatch.setenv(config.ENV_HOME, str(tmp_path))
    assert config.recordings_retention() == (30.0, 5.0)
    config.settings_path().write_text("[recordings]\nkeep_days = 7\nkeep_gib = 0\n")
    assert config.recordings_retention() == (7.0, None)
    config.settings_path().write_text("[recordings]\nkeep_days = 'a week'\n")
    said: list[str] = []
    assert config.recordings_retention_or_default(said.append) is None
    assert "keep_days must be a number" in said[0]
