"""Sources the relay steers, and a one-shot source over any iterable.

What a source is (``Source``) and its other optional abilities are defined
once, in ``adapters/base.py``; the adapters' sources (transcript tails,
discovery, a remote relay) and the relay's own hook endpoint fit them structurally.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ..protocol import ControlModel, Emit, Event
from ..protocol.controls import ControlResult


@runtime_checkable
class Steerable(Protocol):
    """A source that honours controls for some of its sessions (the hook endpoint, an SDK server).

    The relay routes each control to a source of its session that can steer
    it, and tells it when the last viewer of a session leaves; both run on
    the relay's loop and must not block.
    """

    name: str
    agent_kind: str

    def can_steer(self, session: str) -> bool: ...

    def control(self, control: ControlModel) -> ControlResult: ...

    def unwatched(self, session: str) -> list[Event]:
        """Nobody watches ``session`` any more: end its holds by the policy; the events to record."""
        ...


class IterSource:
    """A one-shot source over any iterable of events (a file's conversion, a list in a test).

    Emits ``batch`` events at a time and yields to the loop between batches,
    so subscribers are served while a large file is still being read.
    """

    def __init__(self, name: str, events: Iterable[Event], batch: int = 1000) -> None:
        self.name = name
        self._events = events
        self._batch = batch

    async def run(self, emit: Emit) -> None:
        chunk: list[Event] = []
        for ev in self._events:
            chunk.append(ev)
            if len(chunk) >= self._batch:
                emit(chunk)
                chunk = []
                await asyncio.sleep(0)
        if chunk:
            emit(chunk)
