"""What the SDK answers an agent with: a decision, a cancel, a refused connection.

Here, not in ``watchkeeper.sdk`` itself, so that the link raises and returns
them without importing the module that owns it; they are public as
``watchkeeper.sdk.Cancelled`` and so on, and say so (``__module__``).
"""

from __future__ import annotations

PUBLIC = "watchkeeper.sdk"


class Cancelled(Exception):
    """The person cancelled the run; raised at ``checkpoint()`` or a pending ``approval()``."""

    __module__ = PUBLIC


class ConnectError(ConnectionError):
    """The relay refused the connection (a wrong token: 401), or never answered."""

    __module__ = PUBLIC


class Decision:
    """The answer to ``approval()``: ``verdict`` is ``approve``, ``deny`` or ``none`` (nobody decided)."""

    __module__ = PUBLIC

    def __init__(self, verdict: str, reason: str | None = None, by: str | None = None) -> None:
        self.verdict = verdict
        self.reason = reason
        self.by = by

    @property
    def approved(self) -> bool:
        """False only for a denial: with no decision the agent goes on under its own rules."""
        return self.verdict != "deny"

    def __repr__(self) -> str:
        return f"Decision({self.verdict!r}, reason={self.reason!r}, by={self.by!r})"
