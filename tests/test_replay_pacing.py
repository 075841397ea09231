"""Replay pacing: waits follow the recording's timestamps, scaled; the source emits in batches."""

from __future__ import annotations

import asyncio
from pathlib import Path

from conftest import SAMPLE_LOGS

from watchkeeper.adapters.files.replay import PacedSource, delays
from watchkeeper.adapters.native import NativeConverter
from watchkeeper.protocol import make_event


def ev(i: int, ts: str | None) -> dict:
    return make_event(f"e{i}", "s", "notice", {"text": str(i)}, ts=ts)  # type: ignore[return-value]


def test_waits_follow_timestamps_scaled_and_capped() -> None:
    events = [ev(0, "2026-01-01T00:00:00.000Z"), ev(1, "2026-01-01T00:00:01.000Z"),
              ev(2, "2026-01-01T00:00:00.500Z"), ev(3, "bogus"), ev(4, "2026-01-01T00:01:00.000Z")]
    events[3]["ts"] = "not a time"
    waits = [w for w, _ in delays(events, speed=2.0, max_gap=3.0)]
    assert waits == [0.0, 0.5, 0.0, 0.0, 1.5]
    assert [w for w, _ in delays(events, speed=0)] == [0.0] * 5


def read_native(path: Path) -> list[dict]:
    conv = NativeConverter(path)
    return [e for line in path.read_bytes().splitlines() for e in conv.feed(line, 0)]


async def test_paced_source_plays_every_event_in_batches_restamped() -> None:
    sample = SAMPLE_LOGS / "native" / "sdk-demo.jsonl"
    original = read_native(sample)
    batches: list[list[dict]] = []
    source = PacedSource(sample, speed=50.0, convert=read_native)
    await asyncio.wait_for(source.run(batches.append), timeout=30)
    played = [e for b in batches for e in b]
    assert [e["id"] for e in played] == [e["id"] for e in original]
    assert 1 < len(batches) < len(played), "paced in several batches, never one call per event"
    assert all(p["ts"] >= o["ts"] for p, o in zip(played, original, strict=True))
