"""What the live tests of the real agent CLIs share: a waiting inbox, the relay wiring, token sums."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from waiting import until

from watchkeeper.adapters.files.source import DirectorySource, TranscriptSource
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay, SessionInfo

#: Seconds any one wait may take: each CLI runs its whole scripted session in about 1-2 s.
WAIT = 20.0
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


class Inbox:
    """What a relay subscriber was handed, in delivery order; a test thread waits on it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def put(self, batch: list[Event]) -> None:
        with self._changed:
            self.events.extend(batch)
            self._changed.notify_all()

    def ids(self) -> set[str]:
        with self._changed:
            return {e["id"] for e in self.events}

    def wait_until(self, done: Callable[[list[Event]], bool], timeout: float = WAIT) -> bool:
        """True once ``done(events so far)`` holds; fails the test if ``timeout`` passes first."""
        return until(lambda: done(self.events), timeout=timeout, condition=self._changed)

    def wait_for(self, ids: Iterable[str], timeout: float = WAIT) -> bool:
        """True once every id in ``ids`` was delivered."""
        wanted = set(ids)
        return self.wait_until(lambda events: wanted <= {e["id"] for e in events}, timeout)


def follow_sessions(relay: Relay, root: Path) -> None:
    """Discovery plus a tail per session, wired as ``watchkeeper events --follow DIR`` wires it."""
    relay.add_source(DirectorySource([root], lambda path: relay.add_source(TranscriptSource(path))))


def usage_totals(events: Iterable[Event]) -> dict[str, int]:
    """Summed per-call usage; the CLI's cumulative ``cost-state`` is a running total, not an addend."""
    totals = dict.fromkeys(TOKENS, 0)
    for e in events:
        if e["kind"] == "usage" and not e["data"].get("cumulative"):
            for key in TOKENS:
                totals[key] += e["data"].get(key) or 0
    return totals


def relay_totals(info: SessionInfo) -> dict[str, int]:
    values = (info.tokens_in, info.tokens_out, info.tokens_cache_read, info.tokens_cache_creation)
    return dict(zip(TOKENS, values, strict=True))


def tool_event_ids(call_ids: Iterable[str]) -> set[str]:
    return {f"tool:{c}:{end}" for c in call_ids for end in ("started", "finished")}
