"""A session's token and cost totals, folded from its ``usage`` events.

One rule for every reader (the relay's session list, the viewer's status bar):
per-call usage events add up; a ``cumulative`` event is the agent's own running
total (Claude Code's ``cost-state``). Totals are the larger of the two, field
by field: a running total already includes calls a reader may meet after it (a
subagent file read after the main file), and per-call sums run ahead of the
last total written, so neither alone is right in both orders.
"""

from __future__ import annotations

from typing import Literal

from .payloads import UsageData

#: A token count of ``UsageData`` a reader adds up (a literal type, so mypy checks the names against it).
TokenKey = Literal["input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens"]
TOKEN_KEYS: tuple[TokenKey, ...] = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")


class UsageTally:
    __slots__ = ("_cost_cumulative", "_cost_per_call", "cumulative", "per_call")

    def __init__(self) -> None:
        self.per_call = [0, 0, 0, 0]
        self.cumulative = [0, 0, 0, 0]
        self._cost_per_call: float | None = None
        self._cost_cumulative: float | None = None

    def fold(self, data: UsageData) -> None:
        cumulative = bool(data.get("cumulative"))
        tally = self.cumulative if cumulative else self.per_call
        for i, key in enumerate(TOKEN_KEYS):
            n = data.get(key)
            if isinstance(n, int):
                tally[i] = n if cumulative else tally[i] + n
        cost = data.get("cost_usd")
        if isinstance(cost, int | float):
            if cumulative:
                self._cost_cumulative = float(cost)
            else:
                self._cost_per_call = (self._cost_per_call or 0.0) + float(cost)

    def copy(self) -> UsageTally:
        other = UsageTally()
        other.per_call, other.cumulative = list(self.per_call), list(self.cumulative)
        other._cost_per_call, other._cost_cumulative = self._cost_per_call, self._cost_cumulative
        return other

    @property
    def tokens(self) -> tuple[int, int, int, int]:
        """(input, output, cache read, cache creation)."""
        a, b = self.per_call, self.cumulative
        return max(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])

    @property
    def cost_usd(self) -> float | None:
        costs = [c for c in (self._cost_per_call, self._cost_cumulative) if c is not None]
        return max(costs) if costs else None
