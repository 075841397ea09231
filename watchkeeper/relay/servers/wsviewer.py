"""One viewer connected to ``serve``: its queue, and what happens when it falls behind.

The relay calls back on its loop with batches; the connection queues them and
a writer task sends frames as fast as the socket takes them, so a slow viewer
never stalls the relay, the agents or the other viewers. Past ``limit``
queued events the connection first coalesces telemetry (a session's queued
``usage`` events become one, its ``state`` events the latest one), then, if
still over, drops what is queued and tells the viewer ``resync {session,
from_seq}``: it reads what it missed back with range reads, at its own pace,
and follows the session again. Replies (a control's outcome above all) go on
their own lane and are never dropped; a viewer that asks (range reads of up to
a frame each) and does not read the replies is, past ``UNREAD_BYTES`` of them,
closed with 1013 saying why (its client resumes), so it cannot grow the relay.

Per session the connection keeps ``cursor`` (the next seq to queue), so a
resume, a re-follow after a resync, and the relay's own live batches never
queue one event twice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol, cast

from ...protocol import Event, Kind, fit, wire
from ...protocol.payloads import UsageData
from ...protocol.usage import TokenKey

DEFAULT_LIMIT = 10_000
#: Replies queued for one viewer, in bytes, before it is closed: eight range replies of a whole frame.
UNREAD_BYTES = 8 * wire.FRAME_BYTES
#: How long a close frame may wait behind what an unread viewer has not taken before its socket is cut.
CLOSE_WAIT = 5.0
#: "Try again later": the client reconnects and resumes, the relay holds nothing for it meanwhile.
TRY_AGAIN = 1013
_NEVER_DROPPED = frozenset({Kind.CONTROL_APPLIED, Kind.CONTROL_REJECTED})
_TOKENS: tuple[TokenKey, ...] = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens")


class _Relay(Protocol):
    def subscribe(self, callback: Any, session: str | None = None, from_seq: int = 0) -> Any: ...
    def read_range(self, session: str, start: int, stop: int) -> list[Event]: ...


class _Socket(Protocol):
    transport: asyncio.Transport

    async def send(self, message: bytes, *, text: bool | None = None) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


async def close_unread(ws: _Socket, why: str) -> None:
    """Close a peer that leaves what it was sent unread, saying ``why``; cut it if even that is not taken."""
    try:
        async with asyncio.timeout(CLOSE_WAIT):
            await ws.close(TRY_AGAIN, why)
    except TimeoutError:
        ws.transport.abort()


class ViewerConn:
    """Runs on the relay's loop: ``on_batch`` is the relay subscription's callback, ``writer()`` a task."""

    def __init__(self, ws: _Socket, relay: _Relay, *, limit: int = DEFAULT_LIMIT,
                 oldest: Any = None, unread_limit: int = UNREAD_BYTES) -> None:
        self.ws = ws
        self.relay = relay
        self.limit = limit
        #: ``oldest(session) -> seq``: the oldest seq the server still serves (a replay window), else 0.
        self.oldest = oldest or (lambda session: 0)
        self.queue: deque[Event] = deque()
        self.urgent: deque[bytes] = deque()
        #: bytes in ``urgent``: past ``unread_limit`` the viewer is hung up on (``hung_up`` says why).
        self.unread = 0
        self.unread_limit = unread_limit
        self.hung_up: str | None = None
        self._closing: asyncio.Task[None] | None = None
        self.cursor: dict[str, int] = {}
        #: sessions told to resync (-> from which seq): their live events wait until the viewer follows again.
        self.skipping: dict[str, int] = {}
        #: id() of a coalesced event -> the [seq, id] of the events folded into it.
        self._marks: dict[int, list[list[Any]]] = {}
        self._wake = asyncio.Event()
        self._sub: Any = None
        self.closed = False
        self.stats = {"coalesced": 0, "resyncs": 0, "dropped": 0}
        #: a hub this edge pushes to (``upstream.py``): how many people watch there (None: a person's screen).
        self.remote_watchers: int | None = None

    # --- what the viewer asks ---------------------------------------------------------

    def subscribe(self, positions: dict[str, int]) -> None:
        """First call: follow every session (``positions``: where to resume each). Later: follow these again."""
        if self._sub is None:
            self.cursor.update({sid: max(seq, self.oldest(sid)) for sid, seq in positions.items()})
            self._sub = self.relay.subscribe(self.on_batch, None, 0)
            return
        for sid, seq in positions.items():
            self.skipping.pop(sid, None)
            start = max(seq, self.oldest(sid))
            self.cursor[sid] = start
            # One past the limit is as good as all of it (over the limit, the viewer reads the rest back
            # by range), and history on disk is not read in whole for nothing.
            self._enqueue(self.relay.read_range(sid, start, start + self.limit + 1))

    @property
    def watching(self) -> bool:
        """Following the sessions (it subscribed), not only sending requests (``ctl --relay``).

        A hub follows every session but watches only while people watch there (it says how many).
        """
        return self._sub is not None and not self.closed and self.remote_watchers != 0

    def reply(self, msg: dict[str, Any]) -> None:
        """A message on the lane that is never dropped (outcomes, range replies, errors)."""
        self._urgent(wire.dumps(msg))

    def _urgent(self, data: bytes) -> None:
        if self.hung_up is not None:
            return
        self.unread += len(data)
        if self.unread > self.unread_limit:
            self._hang_up()
            return
        self.urgent.append(data)
        self._wake.set()

    def _hang_up(self) -> None:
        """Free what the viewer left unread and close it, saying why; it stays counted until the server drops it."""
        self.hung_up = (f"replies not read: over {self.unread_limit // 2**20} MiB queued for this viewer; "
                        "reconnect and read them")
        self.urgent.clear()
        self.queue.clear()
        self._marks.clear()
        self.unread = 0
        self._wake.set()
        self._closing = asyncio.get_running_loop().create_task(close_unread(self.ws, self.hung_up))

    def close(self) -> None:
        self.closed = True
        if self._sub is not None:
            self._sub.close()
        self._wake.set()

    # --- from the relay -----------------------------------------------------------------

    def on_batch(self, batch: list[Event]) -> None:
        if not self.closed:
            self._enqueue(batch)

    def _enqueue(self, events: Iterable[Event]) -> None:
        if self.hung_up is not None:
            return
        cursor, skipping, queue = self.cursor, self.skipping, self.queue
        append = queue.append
        for ev in events:
            sid = ev["session"]
            seq = ev["seq"]
            cur = cursor.get(sid)
            if cur is None:
                cur = cursor[sid] = self.oldest(sid)
            if seq < cur or (skipping and sid in skipping):
                continue
            cursor[sid] = seq + 1
            append(ev)
        if len(queue) > self.limit:
            self._coalesce()
            if len(self.queue) > self.limit:
                self._resync()
        self._wake.set()

    def _coalesce(self) -> None:
        """Fold each session's queued usage (per model) and state events into the first of them."""
        groups: dict[tuple[str, str, Any], list[int]] = {}
        for i, ev in enumerate(self.queue):
            kind = ev["kind"]
            if kind == Kind.USAGE:
                groups.setdefault((ev["session"], kind, cast(UsageData, ev["data"]).get("model")), []).append(i)
            elif kind == Kind.STATE:
                groups.setdefault((ev["session"], kind, None), []).append(i)
        folded: set[int] = set()
        items = list(self.queue)
        for (_, kind, _), idx in groups.items():
            if len(idx) < 2:
                continue
            group = [items[i] for i in idx]
            marks = [m for ev in group for m in self._marks.pop(id(ev), [])]
            marks += [[ev["seq"], ev["id"]] for ev in group[1:]]
            data = _sum_usage(group) if kind == Kind.USAGE else dict(group[-1]["data"])
            data["coalesced"] = len(marks) + 1
            merged: Event = {**group[0], "data": data}
            items[idx[0]] = merged
            self._marks[id(merged)] = marks
            folded.update(idx[1:])
            self.stats["coalesced"] += len(idx) - 1
        if folded:
            self.queue = deque(ev for i, ev in enumerate(items) if i not in folded)

    def _resync(self) -> None:
        """Still over the limit: drop what is queued (never control outcomes); the viewer reads it back."""
        keep: deque[Event] = deque()
        first: dict[str, int] = {}
        for ev in self.queue:
            if ev["kind"] in _NEVER_DROPPED:
                keep.append(ev)
                continue
            self._marks.pop(id(ev), None)
            first.setdefault(ev["session"], ev["seq"])
            self.stats["dropped"] += 1
        self.queue = keep
        for sid, seq in first.items():
            self.skipping[sid] = seq
            self._urgent(wire.dumps(wire.resync(sid, seq)))
            self.stats["resyncs"] += 1

    # --- to the socket ------------------------------------------------------------------

    async def writer(self) -> None:
        """Send replies first, then events in frames; returns when closed (or raises when the socket does)."""
        while not self.closed and self.hung_up is None:
            await self._wake.wait()
            self._wake.clear()
            while (self.urgent or self.queue) and not self.closed:
                while self.urgent:
                    data = self.urgent.popleft()
                    self.unread -= len(data)
                    await self.ws.send(data, text=True)
                if self.queue:
                    for frame in self._frames():
                        await self.ws.send(frame, text=True)

    def _frames(self) -> list[bytes]:
        n = min(len(self.queue), wire.FRAME_EVENTS)
        batch = [self.queue.popleft() for _ in range(n)]
        coalesced: dict[str, list[list[Any]]] = {}
        if self._marks:
            for ev in batch:
                marks = self._marks.pop(id(ev), None)
                if marks:
                    coalesced.setdefault(ev["session"], []).extend(marks)
        return wire.encode_events(batch, coalesced)


def _sum_usage(group: list[Event]) -> dict[str, Any]:
    """Usage events in order as one: deltas added, a cumulative one restarting the count."""
    out = dict(group[0]["data"])
    cost = out.get("cost_usd")
    for ev in group[1:]:
        data = cast(UsageData, ev["data"])
        if data.get("cumulative"):
            out = dict(data)
            cost = out.get("cost_usd")
            continue
        for key in _TOKENS:
            n = data.get(key)
            if isinstance(n, int):
                out[key] = (out.get(key) or 0) + n
        c = data.get("cost_usd")
        if isinstance(c, int | float):
            cost = (cost or 0.0) + c
        if data.get("model") is not None:
            out["model"] = data["model"]
        if data.get("message_id") is not None:
            out["message_id"] = data["message_id"]
    out["cost_usd"] = cost
    return out


def fit_range(r: wire.RangeRequest, events: list[Event], first: int, end: int) -> dict[str, Any]:
    """The range reply, shortened until it fits a frame (the viewer asks again for the rest).

    An event that cannot be encoded as it is goes cut and marked (``fit``), never fails the reply.
    """
    reply = wire.range_reply(r, events, first, end)
    try:
        wire.dumps(reply)
    except TypeError:
        events = [fit(e) for e in events]
        reply = wire.range_reply(r, events, first, end)
    while len(events) > 1 and len(wire.dumps(reply)) > wire.FRAME_BYTES:
        events = events[: len(events) // 2]
        reply = wire.range_reply(r, events, first, end)
    return reply
