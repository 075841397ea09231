"""Where a session comes from, for a relay that follows others: an edge of a hub, or a relay itself.

A hub (``serve`` with edges) lists each session pushed by an edge with its
``origin`` (``{"edge", "host", "connected"}``, see ``listing.SessionRow``);
``attach`` reads that word and keeps it with the session, so the viewer can
group and filter the sessions by where they run. A session a relay reports
itself (not pushed to it) has no edge: its origin is that relay, by its
server name. The names come from the far side, so they are cut here and shown
only as data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Characters of an edge's name and of a host kept (the hub already cuts them; a hostile one may not).
EDGE_MAX = 64
HOST_MAX = 200
#: A name an edge gives itself: visible ASCII only, so no look-alike, invisible or trailing character passes
#: for another edge's name on the hub's screens.
EDGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
EDGE_NAME_RULE = "1 to 64 of A-Z a-z 0-9 . _ -, a letter or digit first"


@dataclass(frozen=True, slots=True)
class Origin:
    """``edge``: the edge's name (``serve --upstream``), or None for the relay's own session;
    ``host``: the edge's host, or the relay's server name; ``connected``: reachable now."""

    edge: str | None
    host: str
    connected: bool = True

    @property
    def key(self) -> tuple[str | None, str]:
        """What groups sessions: the same edge (or relay) on the same host, reachable or not."""
        return self.edge, self.host


def edge_name_problem(name: str, chosen: bool = True) -> str | None:
    """Why ``name`` cannot name an edge on a hub, or None. ``local`` is the hub's own sessions' word; a name
    the edge ``chosen`` itself (not the hub's ``name=token`` line) must also be :data:`EDGE_NAME`."""
    if name.casefold() == "local":
        return "'local' stands for the hub's own sessions"
    if chosen and not EDGE_NAME.fullmatch(name):
        return f"an edge name is {EDGE_NAME_RULE}"
    return None


def origin_from(said: Any, relay: str, reachable: bool) -> Origin:
    """A hub's listing ``origin`` (a dict, or None for its own session) as an :class:`Origin`.

    ``relay`` names the relay that listed it; ``reachable``: whether the connection to it is up
    (an edge is reachable only through it).
    """
    if isinstance(said, dict) and isinstance(said.get("edge"), str) and said["edge"]:
        host = said.get("host")
        return Origin(said["edge"][:EDGE_MAX], str(host)[:HOST_MAX] if host is not None else "?",
                      reachable and said.get("connected") is not False)
    return Origin(None, relay[:HOST_MAX], reachable)
