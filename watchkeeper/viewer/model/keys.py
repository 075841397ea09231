"""Which keys the footer shows on each screen, and which give way first when it is narrow.

One table per screen, keyed by binding id (or, for a binding without one, by
its key): the table's order is the footer's order, the number its priority
(lower matters more). When the footer is too narrow for every key, it keeps
the most important ones that fit; a key that cannot act now (dimmed) gives way
before any that can. A new binding gets its place by an entry here; one
without an entry goes last (tests/test_viewer_keys.py says which).

Pure: the footer widget (``widgets/footer.py``) measures the keys and asks
:func:`choose`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...protocol.controls import CONTROLS

#: Priority added to a key that cannot act now: every usable key is kept before it.
DIMMED = 100
#: Priority of a shown key the table does not list.
UNLISTED = 1000

#: Steering keys, in the controls table's order; approve and deny decide a held call, so they count most.
_STEER_RANK = {"approve": 6, "deny": 6, "pause": 7, "resume": 7, "step": 8, "inject": 8, "cancel": 9, "end": 9}
STEER = tuple((f"steer.{c.kind.value}", _STEER_RANK.get(c.kind.value, 9)) for c in CONTROLS)

#: The keys every session screen shares (a live one and a replay): filters first, then the reading aids.
_SESSION_COMMON = (
    ("session.search", 1), ("session.errors", 2), ("session.tool", 3),
    ("app.inbox", 10), ("session.view", 11), ("session.zoom", 12),
    # Tab focuses the detail pane; listed by its key too, whatever id its binding gets.
    ("session.pane", 13), ("session.focus_detail", 13), ("tab", 13),
    ("timeline.follow", 14), ("session.back", 15), ("session.copy", 16),
    ("timeline.collapse", 20), ("session.agent", 21), ("session.clear", 22),
    ("session.quiet", 23), ("session.kind", 24), ("session.detail", 25), ("session.write_raw", 26),
    ("detail.unfold", 27),
)
_APP = (("app.help", 4), ("app.quit", 5))

#: Screen -> (name, priority) in the footer's order.
TABLES: dict[str, tuple[tuple[str, int], ...]] = {
    "sessions": (("sessions.open", 1), ("sessions.waiting", 3), ("sessions.origin", 5), ("app.inbox", 4),
                 ("app.help", 2), ("app.quit", 2)),
    "session": (*STEER, ("steer.waiting", 9), *_SESSION_COMMON, *_APP),
    "replay": (("replay.play", 1), ("replay.step", 7), ("replay.forward", 9), ("replay.faster", 9),
               ("replay.goto", 8), *((n, p + 1 if p < 10 else p) for n, p in _SESSION_COMMON), *_APP),
}


@dataclass(frozen=True, slots=True)
class Shown:
    """A key the footer could show: its binding's id (may be empty), key, width on screen, and whether it acts now."""

    id: str
    key: str
    width: int
    enabled: bool = True


def rank(screen: str, key: Shown) -> tuple[int, int]:
    """(priority, place in the footer's order) of ``key`` on ``screen``; unlisted keys last."""
    table = TABLES.get(screen, ())
    for place, (name, priority) in enumerate(table):
        if name in (key.id, key.key):
            return priority + (0 if key.enabled else DIMMED), place
    return UNLISTED + (0 if key.enabled else DIMMED), len(table)


def choose(screen: str, keys: Sequence[Shown], room: int) -> list[int]:
    """The indices of ``keys`` to show in ``room`` cells: the most important that fit, in the table's order."""
    ranks = [rank(screen, k) for k in keys]
    by_priority = sorted(range(len(keys)), key=lambda i: (ranks[i][0], i))
    kept: list[int] = []
    for i in by_priority:
        if keys[i].width <= room:
            kept.append(i)
            room -= keys[i].width
    return sorted(kept, key=lambda i: (ranks[i][1], i))


def listed(screen: str, name: str) -> bool:
    """Whether ``name`` (a binding id or key) has a place on ``screen``."""
    return any(n == name for n, _ in TABLES.get(screen, ()))
