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

from array import array
from collections.abc import Sequence
from typing import Any

from ...protocol.payloads import UsageData
from .keys import KeyTable

_INT64 = (1 << 63) - 1

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
    """What has been counted per message, so each token is counted once.

    Kept for every message of the file (a later line may raise any of them), so flat: the keys in a
    ``keys.KeyTable``, and per key six counts in one array (input, output, cache_read,
    cache_creation, reasoning, events emitted); counts too large for it in a dict.
    """

    __slots__ = ("_counts", "_keys", "_last", "_last_at", "_wide")

    def __init__(self, expected: int = 0) -> None:
        self._keys = KeyTable(expected)
        self._counts = array("q")
        self._wide: dict[int, list[int]] = {}
        self._last: str | None = None
        self._last_at = -1

    def add(self, key: str, usage: dict[str, Any]) -> tuple[int, list[int]] | None:
        """(revision, counts to emit) for one line's usage, or None if it adds nothing."""
        counts = usage_counts(usage)
        if key == self._last:  # a message's lines come one after another: its key was the last one
            at = ~self._last_at
        else:
            at = self._keys.add(key)
            self._last, self._last_at = key, at if at >= 0 else ~at
        if at >= 0:
            emitted = 1 if any(counts) else 0
            values = [*counts, emitted]
            if max(values) > _INT64:
                self._wide[at] = values
                values = [0] * 6
            self._counts.extend(values)
            return (0, counts) if emitted else None
        at = ~at
        wide = self._wide.get(at) if self._wide else None
        seen: Sequence[int] = self._counts[6 * at:6 * at + 6] if wide is None else wide
        if (counts[0] <= seen[0] and counts[1] <= seen[1] and counts[2] <= seen[2] and counts[3] <= seen[3]
                and counts[4] <= seen[4]):
            return None  # a later line of the same message, nothing new: the common case, no delta built
        now = list(seen)
        delta = [0, 0, 0, 0, 0]
        for i in range(5):
            if counts[i] > now[i]:
                delta[i] = counts[i] - now[i]
                now[i] = counts[i]
        revision = now[5]
        now[5] += 1
        self._put(at, now)
        return revision, delta

    def _put(self, at: int, values: list[int]) -> None:
        if at in self._wide or max(values) > _INT64:
            self._wide[at] = values
            values = [0] * 6
        self._counts[6 * at:6 * at + 6] = array("q", values)


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
