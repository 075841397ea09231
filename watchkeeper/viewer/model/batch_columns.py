"""A batch of events as columns: each event's kind and its row's agent, read a column at a time.

A history read whole comes in batches of thousands; reading ``kind`` and
``agent`` with ``map`` over the batch runs in C, where a loop per event would
not. Events decoded apart (a relay's spill, a websocket) bring their own equal
strings, ~60 bytes each per event at a million events, so each distinct one is
kept once (``shared``).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from typing import Any

from ...protocol import MAIN_AGENT, Event
from .rows import AGENT_KINDS, row_agent

#: ``dict.get`` unbound, for ``map`` over a batch; where every event has them, a getter is cheaper still.
_get: Callable[..., Any] = dict.get
_kind, _agent = itemgetter("kind"), itemgetter("agent")


def columns(batch: list[Event], shared: dict[str, str]) -> tuple[list[str], list[str]]:
    """Each event's kind (``?`` if it has none) and its row's agent, equal strings made one."""
    try:
        kinds: list[Any] = list(map(_kind, batch))
        agents: list[Any] = list(map(_agent, batch))
    except KeyError:
        return _columns(batch, shared)
    present = set(kinds)
    names = present.union(agents)
    if not all(k.__class__ is str for k in names):
        return _columns(batch, shared)
    one = {k: shared.setdefault(k, k) for k in names}  # a lookup per event in a dict of a few strings
    kinds, agents = list(map(one.__getitem__, kinds)), list(map(one.__getitem__, agents))
    if not AGENT_KINDS.isdisjoint(present):
        _row_agents(batch, kinds, agents, shared)
    return kinds, agents


def _columns(batch: list[Event], shared: dict[str, str]) -> tuple[list[str], list[str]]:
    """:func:`columns` of a batch where some event lacks a kind or an agent, or has one that is no string."""
    kinds: list[Any] = list(map(_get, batch, repeat("kind")))
    agents: list[Any] = list(map(_get, batch, repeat("agent"), repeat(MAIN_AGENT)))
    kinds = [shared.setdefault(k, k) if isinstance(k, str) else "?" for k in kinds]
    if not AGENT_KINDS.isdisjoint(kinds):
        _row_agents(batch, kinds, agents, {})
    agents = [shared.setdefault(a, a) if isinstance(a, str) else a for a in agents]
    return kinds, agents


def _row_agents(batch: list[Event], kinds: list[str], agents: list[Any], shared: dict[str, str]) -> None:
    """A subagent's own start and end rows sit with its other rows (``rows.row_agent``)."""
    for i, kind in enumerate(kinds):
        if kind in AGENT_KINDS:
            agent = row_agent(batch[i])
            agents[i] = shared.setdefault(agent, agent) if isinstance(agent, str) else agent
