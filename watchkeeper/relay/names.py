"""Names the relay gives: a run's epoch, and the session of an event that names none.

Apart from the hub and the book, so that ``watchkeeper events`` numbers sessions as the relay
does without loading either (nor the protocol's pydantic models behind them).
"""

from __future__ import annotations

import secrets

#: The session of an event that names none.
UNKNOWN_SESSION = "unknown"


def new_epoch() -> str:
    """A short random name for one relay run; a subscriber that sees it change resyncs."""
    return "r-" + secrets.token_hex(3)
