"""What the span mapping hands the sender: finished spans as plain records, and the content limit.

Plain data, so the mapping and its tests need no OpenTelemetry; ``otlp``
turns a record into the SDK's ``ReadableSpan``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

INTERNAL = "internal"
CLIENT = "client"
#: The latest time OTLP carries (unsigned 64-bit nanoseconds since 1970: in the year 2554).
LATEST_NS = 2**64 - 1


def otlp_time(ns: int) -> int:
    """``ns`` within OTLP's range: a time it cannot carry fails the whole request it is in."""
    return min(max(ns, 0), LATEST_NS)


@dataclass(slots=True)
class SpanRecord:
    """One finished span, ready to be sent."""

    trace_id: int
    span_id: int
    parent_id: int | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    #: Status ERROR with this description (``""``: ERROR without one); None: status unset.
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Content:
    """Record content on spans, each text cut to ``limit`` characters."""

    limit: int = 4096

    def text(self, value: Any) -> str:
        s = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
        return s if len(s) <= self.limit else s[: self.limit] + f"… [{len(s) - self.limit} more characters]"

    def json(self, value: Any) -> str:
        """JSON that stays valid when cut: a too long document becomes ``{"truncated": n, "prefix": …}``."""
        s = orjson.dumps(value, default=str).decode()
        if len(s) <= self.limit:
            return s
        return orjson.dumps({"truncated": len(s), "prefix": s[: self.limit]}).decode()
