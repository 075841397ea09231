"""Play a recorded file back at its original pace, scaled: the source behind ``demo``.

The pacing is a pure function of the events' timestamps (``delays``); the
source sleeps between batches, so the relay and every screen see the session
unfold as if the agent were working right now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ...protocol import Emit, Event, make_event, now_iso
from ...protocol.envelope import parse_ts
from ...protocol.pacing import MAX_GAP_S


def delays(
    events: Iterable[Event], speed: float, max_gap: float = MAX_GAP_S, min_gap: float = 0.0
) -> Iterator[tuple[float, Event]]:
    """Each event with the seconds to wait before it; ``speed <= 0`` means as fast as possible.

    Timestamps are not monotonic in real transcripts: a step back waits ``min_gap``.
    ``min_gap`` stretches a run recorded too fast to follow by eye (the demo's).
    """
    last: float | None = None
    for event in events:
        t = parse_ts(event.get("ts"))
        wait = 0.0
        if speed > 0 and last is not None:
            gap = max(t - last, 0.0) if t is not None else 0.0
            wait = min(max(gap, min_gap), max_gap) / speed
        if t is not None:
            last = t
        yield wait, event


class PacedSource:
    """Emits a file's events with their original timing scaled by ``speed``; ``loop`` starts over."""

    def __init__(self, path: Path, speed: float = 1.0, *, loop: bool = False, restamp: bool = True,
                 min_gap: float = 0.0, start_delay: float = 0.0,
                 convert: Callable[[Path], Iterable[Event]] | None = None) -> None:
        self.path = Path(path)
        self.name = f"replay:{self.path.name}"
        self.speed = speed
        self.min_gap = min_gap
        self.start_delay = start_delay
        self.loop = loop
        self.restamp = restamp
        self._convert = convert

    def _events(self) -> Iterable[Event]:
        if self._convert is not None:
            return self._convert(self.path)
        from .feed import convert_file

        return convert_file(self.path)

    async def run(self, emit: Emit) -> None:
        if self.start_delay:
            await asyncio.sleep(self.start_delay)
        round_ = 0
        while True:
            await self._play_once(emit, round_)
            if not self.loop:
                return
            round_ += 1

    async def _play_once(self, emit: Emit, round_: int) -> None:
        batch: list[Event] = []
        for wait, event in delays(self._events(), self.speed, min_gap=self.min_gap):
            if wait > 0.005 and batch:
                emit(batch)
                batch = []
            if wait > 0.005:
                await asyncio.sleep(wait)
            if self.restamp or round_:
                event = self._relive(event, round_)
            batch.append(event)
            if len(batch) >= 1000:
                emit(batch)
                batch = []
                await asyncio.sleep(0)
        if batch:
            emit(batch)

    def _relive(self, event: Event, round_: int) -> Event:
        """Stamp with the time of playing; a later round gets its own session and ids."""
        if not round_:
            out = dict(event)
            out["ts"] = now_iso()
            return out  # type: ignore[return-value]
        return make_event(f"{event['id']}#r{round_}", f"{event['session']}#r{round_}", event["kind"],
                          event["data"], ts=now_iso(), agent=event.get("agent", "main"))
