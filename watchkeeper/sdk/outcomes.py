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
    """The answer to ``approval()``: ``verdict`` is ``approve``, ``deny`` or ``none``.

    ``none`` means nobody decided: nobody was watching the session, the person did not answer
    within the timeout, or the last viewer left. watchkeeper then neither allows nor forbids: the
    agent goes on under its own rules, as it would without watchkeeper. Act on ``may_run``.
    """

    __module__ = PUBLIC

    def __init__(self, verdict: str, reason: str | None = None, by: str | None = None) -> None:
        self.verdict = verdict
        self.reason = reason
        self.by = by

    @property
    def may_run(self) -> bool:
        """Run the tool? True unless a person denied it (``none``: nobody decided, run it as you would)."""
        return self.verdict != "deny"

    @property
    def decided(self) -> bool:
        """A person answered (``approve`` or ``deny``), rather than nobody (``none``)."""
        return self.verdict in ("approve", "deny")

    @property
    def approved(self) -> bool:
        """The same as ``may_run`` (True for ``none`` too), kept for compatibility; ``may_run`` says it better."""
        return self.may_run

    def __repr__(self) -> str:
        return f"Decision({self.verdict!r}, reason={self.reason!r}, by={self.by!r})"
