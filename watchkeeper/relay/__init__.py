"""The hub every face uses (the TUI, ``serve``, ``events --follow``).

It runs on its own event-loop thread, so a busy UI never stalls an agent or a
tail. See ``api.py`` for the contract the viewer and the servers rely on.
"""

from ..adapters.base import Source
from .api import BatchCallback, RelayAPI, SessionInfo
from .hub import Relay, new_epoch
from .sources import IterSource

__all__ = ["BatchCallback", "IterSource", "Relay", "RelayAPI", "SessionInfo", "Source", "new_epoch"]
