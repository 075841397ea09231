"""Sessions opened tail-first: the continuous export folds them only once the relay has their whole history.

A followed transcript of ``TAIL_FIRST_BYTES`` or more is opened tail-first
(``adapters/files/tailfirst.py``): the relay gets its head and its last MB at
once, and the whole history, rebuilt in the background, later as a new
generation. An all-sessions subscriber sees the tail first and the rebuilt
middle after it, out of order; folded like that, a call's or a subagent's
span comes out unlike a one-shot export's, and a span sent cannot be taken back.

So a session whose transcript is that big is held from its first event: its
events are let go (the relay keeps them), and when its history is committed
(``SessionInfo.history_from``) the generation is read back from the relay in
seq order and folded from there; events the subscription delivers after that
read are folded only if the read did not hold them. Should the history not
come (the file was replaced, the source did not open it tail-first), the
session is read back as the relay holds it, still in order.

Why predict rather than wait for ``SessionInfo.indexing``: the relay sets it a
few turns of its loop after the tail went out, when the tail may be folded
already. The sources' threshold is the default ``TAIL_FIRST_BYTES``; a source
given another one is not held unless its indexing is seen first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from ..adapters.files.index import TAIL_FIRST_BYTES, file_size
from ..protocol import Event
from ..relay.api import RelayAPI, SessionInfo

__all__ = ["DEFER_WAIT", "TAIL_FIRST_BYTES", "Deferred"]

#: Seconds a held session may wait for its history to begin indexing before it is read back as it is.
DEFER_WAIT = 30.0
#: Seconds between two looks at the held sessions.
LOOK_EVERY = 0.2
#: Events per read of a committed history.
READ_CHUNK = 2000
#: What a transcript source is named in ``SessionInfo.sources`` (``TranscriptSource.name``).
TRANSCRIPT = "transcript:"


class Deferred:
    """Used by the export's writer thread; ``holding`` is also read, under ``lock``, by the export's relay
    callback, which lets a held session's events go before they take room in its queue."""

    def __init__(self, relay: RelayAPI, lock: threading.Condition, threshold: int | None = TAIL_FIRST_BYTES,
                 wait: float = DEFER_WAIT) -> None:
        self.relay = relay
        self.lock = lock
        self.threshold = threshold
        self.wait = wait
        self.holding: set[str] = set()
        self._known: set[str] = set()
        #: held session -> (when first seen, whether its indexing was seen).
        self._held: dict[str, tuple[float, bool]] = {}
        #: session read back -> the seq after the last event read: the subscription's earlier ones are not folded.
        self._read_upto: dict[str, int] = {}
        self._looked = 0.0

    def _info(self, session: str) -> SessionInfo | None:
        one = getattr(self.relay, "session", None)
        if one is not None:
            info: SessionInfo | None = one(session)
            return info
        return next((i for i in self.relay.sessions() if i.session == session), None)

    def _tail_first(self, info: SessionInfo) -> bool:
        if info.indexing is not None or info.history_from > 0:
            return True
        return self.threshold is not None and any(
            name.startswith(TRANSCRIPT) and file_size(name[len(TRANSCRIPT):]) >= self.threshold
            for name in info.sources)

    def sort(self, batch: list[Event]) -> list[Event]:
        """The events of ``batch`` to fold now: not those of a held session, nor those already read back."""
        for sid in {ev.get("session") for ev in batch} - self._known:
            self._known.add(sid)
            info = self._info(sid) if isinstance(sid, str) else None
            if info is not None and self._tail_first(info):
                self._held[info.session] = (time.monotonic(), info.indexing is not None)
                with self.lock:
                    self.holding.add(info.session)
        if not self.holding and not self._read_upto:
            return batch
        out: list[Event] = []
        for ev in batch:
            sid = ev.get("session")
            if sid in self.holding:
                continue
            if self._read_upto and sid in self._read_upto:
                seq = ev.get("seq")
                if isinstance(seq, int) and seq < self._read_upto[sid]:
                    continue
                del self._read_upto[sid]
            out.append(ev)
        return out

    def due(self, final: bool = False) -> list[tuple[str, int]]:
        """Held sessions whose history is in (or will not come; ``final``: all of them, the export is closing):
        (session, the seq to read back from)."""
        now = time.monotonic()
        if not self._held or (now - self._looked < LOOK_EVERY and not final):
            return []
        self._looked = now
        due = []
        for sid, (since, indexed) in list(self._held.items()):
            info = self._info(sid)
            if info is None:
                continue
            if info.history_from > 0:
                due.append((sid, info.history_from))
            elif info.indexing is not None and not final:
                self._held[sid] = (since, True)
            elif indexed or final or now - since >= self.wait:
                due.append((sid, 0))
        return due

    def release(self, sid: str, start: int) -> Iterator[list[Event]]:
        """The session's events from ``start`` on, in seq order, in chunks; from then on the subscription's
        events of it are let through (those the read already had are not)."""
        del self._held[sid]
        with self.lock:
            self.holding.discard(sid)
        at = start
        while chunk := self.relay.read_range(sid, at, at + READ_CHUNK):
            last = chunk[-1].get("seq")
            at = last + 1 if isinstance(last, int) else at + len(chunk)
            yield chunk
        self._read_upto[sid] = at
