"""The sessions list by where the sessions run: one group per origin, and the filter to one of them.

A viewer attached to a hub sees sessions pushed by many edges; each session's
``origin`` (``relay.api.SessionInfo``) says which edge, on which host, and
whether it can be reached now. Groups stay in place as sessions come and go
(this machine, then relays, then edges by name), except that a group with a
call waiting for the person goes to the top; within a group the list keeps
its order (waiting, live, recent first). Sessions with no origin (found on
this machine) make one group too. Pure (no Textual); the names are
data from the edges, shown with :func:`visible`, on one line and cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len

from ...protocol.display import plural, visible
from ...protocol.origin import Origin
from ...relay.api import SessionInfo
from .rows import one_line
from .session_columns import Cells, cut_end

#: What sessions with no origin are: found by this viewer's own relay.
HERE = "this machine"
#: Cells an edge's (or relay's) name and a host take at most in a group's header.
NAME_CELLS = 24
HOST_CELLS = 48
#: The filter value that shows every origin.
EVERY = "every origin"


@dataclass(frozen=True, slots=True)
class Group:
    """The sessions of one origin, in the list's order; ``key`` is stable while the origin is the same."""

    key: str
    origin: Origin | None
    sessions: tuple[SessionInfo, ...]

    @property
    def kind(self) -> str:
        """``edge`` (pushed to a hub), ``relay`` (a remote relay's own), ``local`` (this machine)."""
        if self.origin is None:
            return "local"
        return "relay" if self.origin.edge is None else "edge"

    @property
    def name(self) -> str:
        """The edge's name, the relay's name, or "this machine": one line, :func:`visible`."""
        if self.origin is None:
            return HERE
        return _shown(self.origin.edge if self.origin.edge is not None else self.origin.host)

    @property
    def host(self) -> str | None:
        """The edge's host (a relay's own sessions are named by it already)."""
        if self.origin is None or self.origin.edge is None:
            return None
        return _shown(self.origin.host)

    @property
    def reachable(self) -> bool:
        return all(i.origin is None or i.origin.connected for i in self.sessions)

    def label(self) -> str:
        """The whole group in a line: for the filter's choices."""
        where = f"{self.kind} {cut_end(self.name, NAME_CELLS)}" if self.origin is not None else self.name
        if self.host is not None:
            where += f" on {cut_end(self.host, HOST_CELLS)}"
        return where if self.reachable else f"{where} (unreachable)"


def group_key(origin: Origin | None) -> str:
    """A stable, unambiguous key for an origin (names may hold any character)."""
    return "local" if origin is None else repr(origin.key)


def grouped(infos: Sequence[SessionInfo]) -> list[Group]:
    """``infos`` (in the list's order) by origin: waiting first, then by kind and name."""
    by_key: dict[str, list[SessionInfo]] = {}
    origins: dict[str, Origin | None] = {}
    for info in infos:
        key = group_key(info.origin)
        by_key.setdefault(key, []).append(info)
        origins.setdefault(key, info.origin)
    groups = [Group(key, origins[key], tuple(members)) for key, members in by_key.items()]
    groups.sort(key=lambda g: (not any(i.needs_attention for i in g.sessions), _KINDS[g.kind], g.name,
                               g.host or ""))
    return groups


_KINDS = {"local": 0, "relay": 1, "edge": 2}


def where_from(origin: Origin | None) -> str | None:
    """``edge alpha on build-3`` (``, unreachable`` while it is away) for a session pushed by an edge, for
    the session screen's header and the inbox; None for this machine's and a relay's own sessions."""
    if origin is None or origin.edge is None:
        return None
    where = f"edge {cut_end(_shown(origin.edge), NAME_CELLS)} on {cut_end(_shown(origin.host), NAME_CELLS)}"
    return where if origin.connected else f"{where}, unreachable"


def header_cells(group: Group, key: str) -> Cells:
    """A group's header row (row key ``key``): its kind, name and size, its host where the cwd goes,
    and "unreachable" where the state goes."""
    return Cells(session=key, mark="", agent=group.kind, title=header_title(group, None),
                 cwd=cut_end(group.host or "", HOST_CELLS),
                 state="" if group.reachable else "unreachable", activity="", tokens="", events="",
                 attention=False, live=group.reachable)


def header_title(group: Group, width: int | None) -> str:
    """``name · N sessions`` in ``width`` cells: the name is cut before the count is."""
    tail = f" · {plural(len(group.sessions), 'session')}"
    name = cut_end(group.name, NAME_CELLS)
    if width is None or cell_len(name + tail) <= width:
        return name + tail
    room = width - cell_len(tail)
    return cut_end(name, room) + tail if room >= 4 else cut_end(name + tail, width)


def choices(groups: Sequence[Group]) -> tuple[list[tuple[str, int]], dict[str, str]]:
    """The filter's choices: (key, how many sessions) with every origin first, and each key's label."""
    total = sum(len(g.sessions) for g in groups)
    return [(EVERY, total), *((g.key, len(g.sessions)) for g in groups)], {g.key: g.label() for g in groups}


def _shown(text: str) -> str:
    return visible(one_line(text, NAME_CELLS + HOST_CELLS))
