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
from typing import Any

from ...protocol import MAIN_AGENT, Event
from .rows import AGENT_KINDS, row_agent

#: ``dict.get`` unbound, for ``map`` over a batch.
_get: Callable[..., Any] = dict.get


def columns(batch: list[Event], shared: dict[str, str]) -> tuple[list[str], list[str]]:
    """Each event's kind (``?`` if it has none) and its row's agent, equal strings made one."""
    kinds: list[Any] = list(map(_get, batch, repeat("kind")))
    agents: list[Any] = list(map(_get, batch, repeat("agent"), repeat(MAIN_AGENT)))
    if all(k.__class__ is str for k in set(kinds)):
        kinds = list(map(shared.setdefault, kinds, kinds))
    else:
        kinds = [shared.setdefault(k, k) if isinstance(k, str) else "?" for k in kinds]
    if not AGENT_KINDS.isdisjoint(kinds):
        for i, kind in enumerate(kinds):
            if kind in AGENT_KINDS:
                agents[i] = row_agent(batch[i])
    if all(a.__class__ is str for a in set(agents)):
        agents = list(map(shared.setdefault, agents, agents))
    else:
        agents = [shared.setdefault(a, a) if isinstance(a, str) else a for a in agents]
    return kinds, agents
