"""The hub every face uses (the TUI, ``serve``, ``events --follow``).

It runs on its own event-loop thread, so a busy UI never stalls an agent or a
tail. See ``api.py`` for the contract the viewer and the servers rely on.

``hub.Relay`` is a facade that runs the sources over parts with one job each:
``book`` (sessions, seq, merged calls, history generations: ``history``),
``delivery`` (subscribers served in batches: ``fanout``), ``sessions_feed``
(the session list and its watchers), ``controls`` (controls to the source that
can honour them). ``servers/`` is how the world reaches a relay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..adapters.base import Source
    from .api import BatchCallback, RelayAPI, SessionInfo
    from .hub import Relay
    from .names import new_epoch
    from .sources import IterSource

#: Loaded on first use: a light part (``relay.idset``, ``relay.names``) is imported without the hub and
#: the protocol's pydantic models behind it.
_LAZY = {
    "Source": "..adapters.base", "BatchCallback": ".api", "RelayAPI": ".api", "SessionInfo": ".api",
    "new_epoch": ".names", "Relay": ".hub", "IterSource": ".sources",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = ["BatchCallback", "IterSource", "Relay", "RelayAPI", "SessionInfo", "Source", "new_epoch"]
