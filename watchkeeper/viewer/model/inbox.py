"""The approvals inbox's content: every held call of every session, oldest first, with its countdown.

Pure (the relay's session list and a clock in, text out), so the order, the
countdown and what the inbox says of a call that went away are tested without
an app. The countdown is ``Held.expiry_text()`` with the time left: "goes on
under the agent's own rules in 4:32"; a hold without an expiry "waits for you".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ...protocol.envelope import parse_ts
from ...protocol.origin import Origin
from ...protocol.session import Held
from ...relay.api import SessionInfo

#: What a hold without an expiry says where the countdown would be.
NO_EXPIRY = "waits for you"


@dataclass(frozen=True, slots=True)
class Entry:
    """One held call and the session it belongs to."""

    session: str
    title: str
    call: Held
    #: where the session runs, for one an edge pushed to a hub (``origins.where_from`` says it).
    origin: Origin | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.session, self.call.call_id


def session_title(info: SessionInfo) -> str:
    return info.title or f"{info.agent_kind} {info.session[:8]}"


def entries(infos: Iterable[SessionInfo]) -> list[Entry]:
    """Every held call across ``infos``, oldest first (by when its hold began; unknown last)."""
    out = [Entry(info.session, session_title(info), held, info.origin)
           for info in infos for held in info.held]
    out.sort(key=lambda e: (e.call.since is None, e.call.since or ""))
    return out


def clock_text(seconds: float) -> str:
    """``4:32``, ``1:02:05``: a countdown's time left, whole seconds, never negative."""
    left = max(0, int(seconds))
    h, rest = divmod(left, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def countdown(call: Held, now: float) -> str:
    """What happens to ``call`` and when: "goes on under the agent's own rules in 4:32", "waits for you"."""
    what = call.expiry_text()
    if what is None:
        return NO_EXPIRY
    at = parse_ts(call.expires_at)
    if at is None:
        return what
    left = at - now
    return f"{what} in {clock_text(left)}" if left >= 0.5 else f"{what} now"


def counting(calls: Iterable[Held]) -> bool:
    """Whether any of ``calls`` has a countdown to tick."""
    return any(c.expires_at is not None for c in calls)
