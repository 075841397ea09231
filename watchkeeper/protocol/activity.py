"""The time rules of a session: when it is live, when idle, when a call can still be running.

One pure place that the relay's session list and every screen of the viewer
use, so they never disagree. Nothing here reads a clock: ``now`` (epoch
seconds) is always given, so a test states the time instead of sleeping.

- **live**: followed (a running source still has it: more of it may come) and
  either written to within :data:`LIVE_WINDOW` or with an open channel to the
  agent (a hook session between its start and end, an SDK or ACP connection,
  a remote relay's word). Tailing a file alone does not make a session live.
- **idle**: no write for :data:`IDLE_AFTER` and no open channel, whatever the
  last state reported was (an agent killed mid-turn never says it stopped).
- a call without a result is **running** only while its session may still run
  it (not finished, not idle); otherwise it is shown **unfinished**.

Times read as a person says them: ``3m ago``, ``8d ago``; ``4m05s``, ``3h12m``,
and past 48 hours ``3d 4h``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .envelope import parse_ts
from .kinds import State

#: A clock: epoch seconds now (``time.time``, or a test's).
Clock = Callable[[], float]

#: Written to within this many seconds: live.
LIVE_WINDOW = 5 * 60.0
#: No write for this many seconds (and no open channel): idle.
IDLE_AFTER = 30 * 60.0
#: Durations at least this long are told in days and hours.
DAYS_FROM = 48 * 3600.0

#: States in which a call without a result may still be running.
_RUNNING_STATES = frozenset({State.RUNNING, State.WAITING, State.PAUSED})


@dataclass(frozen=True, slots=True)
class Activity:
    """A session judged at one moment: whether it is live and the state to show."""

    live: bool
    state: str

    @property
    def calls_may_run(self) -> bool:
        """A call without a result may still be running (else it is unfinished)."""
        return self.state in _RUNNING_STATES


def quiet_for(last_write: str | float | None, now: float) -> float:
    """Seconds since the last write (``inf`` if there was none); never negative (clocks differ)."""
    t = parse_ts(last_write) if isinstance(last_write, str) else last_write
    return math.inf if t is None else max(0.0, now - t)


def judge(state: str | None, last_write: str | float | None, now: float, *, channel: bool = False,
          followed: bool = True) -> Activity:
    """The session's activity at ``now`` from its last reported ``state`` and its last write.

    ``channel``: an open hook, SDK, ACP or remote channel to the agent.
    ``followed``: a running source still has the session (a finished replay's has not).
    """
    if state == State.FINISHED:
        return Activity(False, State.FINISHED)
    quiet = quiet_for(last_write, now)
    open_ = followed and channel
    live = followed and (open_ or quiet <= LIVE_WINDOW)
    if not open_ and quiet > IDLE_AFTER:
        return Activity(live, State.IDLE)
    return Activity(live, state or (State.RUNNING if live else State.IDLE))


def next_change(last_write: str | float | None, now: float) -> float | None:
    """Seconds from ``now`` until :func:`judge` may say otherwise with no new write; None: never."""
    quiet = quiet_for(last_write, now)
    for edge in (LIVE_WINDOW, IDLE_AFTER):
        if quiet <= edge:
            return edge - quiet
    return None


def duration_text(seconds: float | None) -> str:
    """``450ms``, ``12.3s``, ``4m05s``, ``3h12m``, ``47h59m``, then ``3d 4h`` (from 48 hours on)."""
    if seconds is None or math.isnan(seconds):
        return ""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if seconds < DAYS_FROM:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h}h"


def ago_text(seconds: float | None) -> str:
    """How long ago, as a person says it: ``now``, ``45s ago``, ``3m ago``, ``5h ago``, ``8d ago``,
    ``4mo ago``, ``2y ago``; ``—`` when unknown."""
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return "—"
    s = int(max(0.0, seconds))
    if s < 5:
        return "now"
    for size, unit, below in ((1, "s", 60), (60, "m", 3600), (3600, "h", 48 * 3600),
                              (86400, "d", 60 * 86400), (30 * 86400, "mo", 730 * 86400)):
        if s < below:
            return f"{s // size}{unit} ago"
    return f"{s // (365 * 86400)}y ago"


def may_run(live: bool, state: str | None, followed: bool) -> bool:
    """Calls without a result may still be running (and a timeline follows the session): it is followed,
    and live or last said to be running, waiting or paused (not idle, not finished)."""
    return followed and (live or state in _RUNNING_STATES)
