"""The Textual viewer: the only part of watchkeeper that imports ``textual``.

``WatchkeeperApp(relay)`` is the whole UI; it needs nothing but a relay API.
"""

from .app import WatchkeeperApp

__all__ = ["WatchkeeperApp"]
