"""The Textual viewer: the only part of watchkeeper that imports ``textual``.

``WatchkeeperApp(relay)`` is the whole UI; it needs nothing but a relay API
(``relay/api.py``) and the protocol. ``model/`` folds events into what the
screens show (no widgets), ``screens/`` and ``widgets/`` show it, and
``compat.py`` holds every private Textual call.
"""

from .app import WatchkeeperApp

__all__ = ["WatchkeeperApp"]
