"""The event envelope on the hot path: plain dicts, built and read without validation.

A model instance per event costs more than the whole conversion budget (see
``bench/``), so adapters and the relay pass dicts shaped like :class:`Event`;
pydantic (``models.py``) checks them only where they cross a trust boundary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict, cast

from .kinds import MAIN_AGENT, PROTOCOL_VERSION


class Event(TypedDict):
    v: int
    id: str
    ts: str
    session: str
    agent: str
    kind: str
    data: dict[str, Any]
    seq: NotRequired[int]
    epoch: NotRequired[str]


#: Where a source hands its events: a batch at a time, on the relay's loop; never blocks.
Emit = Callable[[list[Event]], None]


def make_event(
    id: str,
    session: str,
    kind: str,
    data: Mapping[str, Any],
    ts: str | None = None,
    agent: str = MAIN_AGENT,
) -> Event:
    """An event without ``seq``/``epoch``: the relay assigns those.

    ``data`` is a plain dict, typed by its kind's payload (``payloads.py``) where it is built.
    """
    return {
        "v": PROTOCOL_VERSION,
        "id": id,
        "ts": ts or now_iso(),
        "session": session,
        "agent": agent,
        "kind": kind,
        "data": cast(dict[str, Any], data),
    }


def now_iso() -> str:
    """UTC now in the transcripts' own format: ISO-8601, milliseconds, ``Z``."""
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """An aware datetime in the transcripts' own format."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(ts: str | None) -> float | None:
    """Epoch seconds of an ISO-8601 timestamp (``Z`` or an offset); None if it is not one."""
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def content_id(*parts: str | bytes) -> str:
    """A short stable digest for records that carry no id of their own."""
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\0")
    return h.hexdigest()
