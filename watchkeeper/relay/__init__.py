"""The hub every face uses (the TUI, ``serve``, ``events --follow``).

It runs on its own event-loop thread, so a busy UI never stalls an agent or a
tail. See ``api.py`` for the contract the viewer and the servers rely on.

``hub.Relay`` is a facade that runs the sources over parts with one job each:
``book`` (sessions, seq, merged calls, history generations: ``history``),
``delivery`` (subscribers served in batches: ``fanout``), ``sessions_feed``
(the session list and its watchers), ``controls`` (controls to the source that
can honour them). ``servers/`` is how the world reaches a relay.
"""

from ..adapters.base import Source
from .api import BatchCallback, RelayAPI, SessionInfo
from .hub import Relay, new_epoch
from .sources import IterSource

__all__ = ["BatchCallback", "IterSource", "Relay", "RelayAPI", "SessionInfo", "Source", "new_epoch"]
