"""Token usage without double counting, and the CLI's own cost accounting.

One API message is written as several lines (one per content block), each
with a copy of the message's usage; older CLIs wrote partial ``output_tokens``
on the intermediate lines. Usage is keyed by ``(message.id, requestId)``
(``message.id`` alone when the request id is missing) and the largest value
of each field wins. The first line of a message emits its usage at once (live
totals stay current); a later line with larger numbers emits only the
increase, under a new id, so the sum of a session's usage events is its true
total at every moment.
"""

from __future__ import annotations

from typing import Any

from ...protocol.payloads import UsageData

#: Claude Code usage fields, in the order the ledger stores them.
FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _count(value: Any) -> int:
    if type(value) is int:
        return value if value > 0 else 0
    if type(value) is float and value > 0:
        return int(value)
    return 0


def usage_counts(usage: dict[str, Any]) -> list[int]:
    """[input, output, cache_read, cache_creation, reasoning] of a Messages API usage object."""
    details = usage.get("output_tokens_details")
    reasoning = _count(details.get("thinking_tokens")) if type(details) is dict else 0
    get = usage.get
    a, b = get("input_tokens"), get("output_tokens")
    c, d = get("cache_read_input_tokens"), get("cache_creation_input_tokens")
    # Every assistant line passes here: the common case (plain non-negative ints) skips ``_count``.
    if type(a) is not int or a < 0:
        a = _count(a)
    if type(b) is not int or b < 0:
        b = _count(b)
    if type(c) is not int or c < 0:
        c = _count(c)
    if type(d) is not int or d < 0:
        d = _count(d)
    return [a, b, c, d, reasoning]


class UsageLedger:
    """What has been counted per message, so each token is counted once."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        # key -> [input, output, cache_read, cache_creation, reasoning, events emitted]
        self._seen: dict[str, list[int]] = {}

    def add(self, key: str, usage: dict[str, Any]) -> tuple[int, list[int]] | None:
        """(revision, counts to emit) for one line's usage, or None if it adds nothing."""
        counts = usage_counts(usage)
        seen = self._seen.get(key)
        if seen is None:
            if not any(counts):
                self._seen[key] = [*counts, 0]
                return None
            self._seen[key] = [*counts, 1]
            return 0, counts
        if (counts[0] <= seen[0] and counts[1] <= seen[1] and counts[2] <= seen[2] and counts[3] <= seen[3]
                and counts[4] <= seen[4]):
            return None  # a later line of the same message, nothing new: the common case, no delta built
        delta = [0, 0, 0, 0, 0]
        grew = False
        for i in range(5):
            if counts[i] > seen[i]:
                delta[i] = counts[i] - seen[i]
                seen[i] = counts[i]
                grew = True
        if not grew:
            return None
        revision = seen[5]
        seen[5] += 1
        return revision, delta


def usage_data(counts: list[int], model: Any, message_id: Any, request_id: Any) -> UsageData:
    """The ``usage`` event data; ``reasoning_tokens`` is part of ``output_tokens``, not extra."""
    return {
        "model": model,
        "message_id": message_id,
        "request_id": request_id,
        "input_tokens": counts[0],
        "output_tokens": counts[1],
        "cache_read_tokens": counts[2],
        "cache_creation_tokens": counts[3],
        "reasoning_tokens": counts[4],
        "cost_usd": None,
    }


def cost_state_data(rec: dict[str, Any]) -> dict[str, Any] | None:
    """A 2.1.33x ``cost-state`` record as a cumulative usage event: the CLI's own running
    totals for the whole session, subagents included. ``cumulative`` tells consumers not
    to add it to the per-message events (that would count every token twice)."""
    models = rec.get("modelUsage")
    cost = rec.get("totalCostUSD")
    if not isinstance(models, dict) and cost is None:
        return None
    totals = [0, 0, 0, 0, 0]
    if isinstance(models, dict):
        for per_model in models.values():
            if isinstance(per_model, dict):
                totals[0] += _count(per_model.get("inputTokens"))
                totals[1] += _count(per_model.get("outputTokens"))
                totals[2] += _count(per_model.get("cacheReadInputTokens"))
                totals[3] += _count(per_model.get("cacheCreationInputTokens"))
                totals[4] += _count(per_model.get("thinkingTokens"))
    names = list(models) if isinstance(models, dict) else []
    data: dict[str, Any] = {**usage_data(totals, names[0] if len(names) == 1 else None, None, None)}
    data["cost_usd"] = cost if isinstance(cost, int | float) and not isinstance(cost, bool) else None
    data["cumulative"] = True
    data["models"] = models if isinstance(models, dict) else None
    data["cost_unknown"] = bool(rec.get("hasUnknownModelCost"))
    for src, dst in (("totalAPIDuration", "api_duration_ms"), ("totalToolDuration", "tool_duration_ms"),
                     ("totalDuration", "duration_ms"), ("totalLinesAdded", "lines_added"),
                     ("totalLinesRemoved", "lines_removed")):
        if src in rec:
            data[dst] = rec[src]
    return data
