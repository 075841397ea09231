"""Codex token counts as per-step deltas, so that summing a session's usage events gives its totals.

Codex writes usage in two records, and which one depends on the version:

- ``event_msg/token_count``: ``info.total_token_usage`` is the thread's
  *cumulative* total (older versions repeat the same snapshot several times);
  ``info.last_token_usage`` is the last model call.
- ``token_usage_record`` (0.171): one model response's ``usage`` plus the
  ``thread_token_usage`` total.

Both feed one :class:`TokenLedger` that remembers the thread total seen so far
and reports only what grew. A repeated snapshot, or the ``token_count`` that
follows a ``token_usage_record`` with the same total, adds nothing, so a
version that writes both records is not counted twice.

Meaning of the fields (Codex counts like the OpenAI API, the protocol like
Anthropic's): Codex ``input_tokens`` *includes* ``cached_input_tokens`` (and,
we assume, ``cache_write_input_tokens``); the protocol's ``input_tokens``
excludes cache reads and writes, which go to ``cache_read_tokens`` and
``cache_creation_tokens``. Codex ``output_tokens`` already includes
``reasoning_output_tokens``; ``reasoning_tokens`` is that share, not an
addition. So ``input + cache_read + cache_creation`` equals Codex's
``input_tokens`` and ``output`` equals Codex's ``output_tokens``.
"""

from __future__ import annotations

from typing import Any

FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
)


class TokenLedger:
    """The thread's running total; turns snapshots and per-call usage into deltas."""

    def __init__(self) -> None:
        self.total: dict[str, int] = dict.fromkeys(FIELDS, 0)

    def snapshot(self, cumulative: Any) -> dict[str, int] | None:
        """A cumulative total: the growth since the last one, or None if nothing grew.

        A total smaller than the one before (a counter that restarted) counts
        in full: the tokens were spent, whatever the counter says.
        """
        snap = _counts(cumulative)
        if snap is None:
            return None
        if any(v < self.total[k] for k, v in snap.items()):
            delta = dict.fromkeys(FIELDS, 0) | snap
            self.total = dict(delta)
        else:
            delta = {k: snap.get(k, self.total[k]) - self.total[k] for k in FIELDS}
            self.total.update(snap)
        return normalise(delta)

    def step(self, usage: Any) -> dict[str, int] | None:
        """One call's usage, when no cumulative total came with it."""
        counts = _counts(usage)
        if counts is None:
            return None
        for k, v in counts.items():
            self.total[k] += v
        return normalise(dict.fromkeys(FIELDS, 0) | counts)


def normalise(delta: dict[str, int]) -> dict[str, int] | None:
    """Codex fields to the protocol's; None when the delta is empty."""
    if not any(delta.values()):
        return None
    cached = delta["cached_input_tokens"]
    written = delta["cache_write_input_tokens"]
    return {
        "input_tokens": max(0, delta["input_tokens"] - cached - written),
        "output_tokens": delta["output_tokens"],
        "cache_read_tokens": cached,
        "cache_creation_tokens": written,
        "reasoning_tokens": delta["reasoning_output_tokens"],
    }


def _counts(obj: Any) -> dict[str, int] | None:
    if not isinstance(obj, dict):
        return None
    out = {k: v for k in FIELDS if isinstance(v := obj.get(k), int) and not isinstance(v, bool)}
    return out or None
