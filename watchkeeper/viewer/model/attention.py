"""Sessions that need the person: counted on every screen, rung in when they arrive, kept watched.

A held call (a pause, a step, a breakpoint hit) makes the relay mark its
session ``needs_attention``. The app rings the bell when a session starts
needing the person, puts the count in every screen's header, and the
sessions screen lists those sessions first and marks them.

A call is held only while someone watches its session. The person running
the app watches every live session that can be steered (its breakpoints
must fire while the sessions list is on screen), so the app keeps a quiet
subscription to each; they close when the session ends or the app quits,
and the holds then end by the policy (fail-open by default).
"""

from __future__ import annotations

from collections.abc import Iterable

from ...protocol import Event
from ...protocol.controls import CONTROL_NAMES
from ...relay.api import RelayAPI, SessionInfo, Subscription


def steerable(info: SessionInfo) -> bool:
    return any(info.capabilities.get(name) for name in CONTROL_NAMES)


def title(count: int, base: str = "watchkeeper") -> str:
    """The app's title: the count of sessions waiting for the person, when there are any."""
    if count <= 0:
        return base
    return f"{base} — ⏸ {count} session{'s' if count != 1 else ''} waiting for you"


class Attention:
    """Which sessions need the person, and the subscriptions that keep steerable ones watched."""

    def __init__(self, relay: RelayAPI, keep_watch: bool = True) -> None:
        self.relay = relay
        self.keep_watch = keep_watch
        self.needing: set[str] = set()
        self._watches: dict[str, Subscription] = {}

    @property
    def count(self) -> int:
        return len(self.needing)

    @property
    def watched(self) -> set[str]:
        return set(self._watches)

    def update(self, infos: Iterable[SessionInfo]) -> set[str]:
        """Take the relay's latest list; the sessions that have just started needing the person."""
        infos = list(infos)
        needing = {i.session for i in infos if i.needs_attention}
        newly = needing - self.needing
        self.needing = needing
        if self.keep_watch:
            self._keep_watching(infos)
        return newly

    def _keep_watching(self, infos: list[SessionInfo]) -> None:
        wanted = {i.session: i for i in infos if i.live and steerable(i)}
        for sid in [s for s in self._watches if s not in wanted]:
            self._watches.pop(sid).close()
        for sid, info in wanted.items():
            if sid not in self._watches:
                self._watches[sid] = self.relay.subscribe(_ignore, sid, info.last_seq + 1)

    def close(self) -> None:
        for sub in self._watches.values():
            sub.close()
        self._watches.clear()


def _ignore(batch: list[Event]) -> None:
    """The app's own watch needs no events: the session screen subscribes for those."""
