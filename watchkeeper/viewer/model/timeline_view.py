"""A timeline's view built whole: the rows shown, in tree order (a subagent's rows under the call that
spawned it, its completion after its own rows).

Pure; :meth:`~.timeline_store.TimelineStore.build_view` calls it, in a worker
thread on a big session, with the store's own lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ...protocol import Kind
from . import rows
from .timeline_filter import Filter


@dataclass(slots=True)
class Added:
    """What one batch did to the view, so the widget can keep its cursor and refresh."""

    rows: int = 0
    #: View positions where rows went in before the end, in insertion order.
    inserted_at: list[int] = field(default_factory=list)
    appended: int = 0
    #: Heads of rows whose content changed (a call finished).
    changed: set[int] = field(default_factory=set)
    #: The tree moved (a subagent linked after its rows arrived): rebuild the view.
    rebuild: bool = False



def tree_view(
    kinds: Sequence[str],
    agents: Sequence[str],
    heads: Sequence[int],
    prefix_of: Callable[[str], tuple[int, ...]],
    matches: Callable[[int, Filter], bool],
    superseded: set[int],
    flt: Filter,
    hidden: frozenset[str],
    cancelled: Callable[[], bool],
) -> list[int] | None:
    """The heads shown under ``flt`` (``hidden``: agents under collapsed calls), in tree order; None if cancelled.

    ``kinds`` and ``agents``: each event's kind and row agent (``rows.row_agent``), by index.
    """
    # One pass over the heads: a row left out stays in the tree as ``~head`` (its subagents' rows may
    # still show); a session without subagents needs no tree walk at all.
    top: list[int] = []
    children: dict[int, list[int]] = {}
    last: dict[int, list[int]] = {}
    labels = rows.KIND_LABELS
    hide = flt.hide - {flt.kind} if flt.kind else flt.hide
    active = flt.active
    for n, head in enumerate(heads):
        if n % 20_000 == 0 and cancelled():
            return None
        kind = kinds[head]
        agent = agents[head]
        prefix = prefix_of(agent)
        if active:
            shown = matches(head, flt)
        else:
            shown = agent not in hidden and labels.get(kind, kind) not in hide and head not in superseded
        item = head if shown else ~head
        if not prefix:
            top.append(item)
        elif kind == Kind.AGENT_FINISHED:
            last.setdefault(prefix[-1], []).append(item)
        else:
            children.setdefault(prefix[-1], []).append(item)
    if not children and not last:
        return [h for h in top if h >= 0]
    for parent, ends in last.items():
        children.setdefault(parent, []).extend(ends)
    out: list[int] = []
    stack = list(reversed(top))
    n = 0
    while stack:
        item = stack.pop()
        n += 1
        if n % 20_000 == 0 and cancelled():
            return None
        head = item if item >= 0 else ~item
        if item >= 0:
            out.append(head)
        kids = children.get(head)
        if kids:
            stack.extend(reversed(kids))
    return out
