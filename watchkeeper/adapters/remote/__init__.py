"""A remote relay (``watchkeeper serve``) followed as a source: what ``attach`` runs.

``source`` owns what is said on each connection (the reconnect loop itself is
``watchkeeper/reconnect.py``, shared with the SDK); ``resume`` is the pure
bookkeeping that makes a reconnect lose and double nothing; ``book`` is the
viewer's handle on the remote relay's breakpoint rules.
"""

from __future__ import annotations

from .source import RemoteError, RemoteSource, probe, request

__all__ = ["RemoteError", "RemoteSource", "probe", "request"]
