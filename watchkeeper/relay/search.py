"""Search over a session's whole history, most of it on disk: on a worker thread, in chunks, cancellable.

History past the working set is on disk (``spill.py``), so a search over all of it
reads and scans every spilled line: seconds for millions of events. It never runs
on the relay's loop or a UI's: ``Relay.search`` starts it on its own thread and
returns a :class:`Search` to wait on or cancel. The book's lock is taken per chunk
only, and not while a transcript is read back, so ingest goes on meanwhile; a
cancel stops such a read between two lines.

What matches: the event's JSON text (kind, data: inputs, outputs, text), compared
case-insensitively; the answer is the seqs that match, oldest first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future

from ..adapters.base import ReadCancelled, cancellable

#: ``lines(start, stop)``: the session's events ``start <= seq < stop`` as JSON lines (bytes), and its length.
Lines = Callable[[int, int], list[bytes]]

#: Events scanned between two looks at ``cancel``.
CHUNK = 20_000
#: Matches past this many end the search (the answer says the first ones).
MAX_HITS = 100_000


class Search:
    """A search running on its own thread: ``result(timeout)`` for its seqs, ``cancel()`` to stop it."""

    def __init__(self, lines: Lines, length: Callable[[], int], text: str, *, start: int = 0,
                 stop: int | None = None, max_hits: int = MAX_HITS) -> None:
        self.future: Future[list[int]] = Future()
        self.scanned = 0
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(lines, length, text, start, stop, max_hits),
                                        name="watchkeeper-search", daemon=True)
        self.future.set_running_or_notify_cancel()
        self._thread.start()

    def cancel(self) -> None:
        """Stop at the next chunk; ``result`` then raises ``CancelledError``."""
        self._cancelled.set()

    def result(self, timeout: float | None = None) -> list[int]:
        return self.future.result(timeout)

    def _run(self, lines: Lines, length: Callable[[], int], text: str, start: int, stop: int | None,
             max_hits: int) -> None:
        try:
            with cancellable(self._cancelled.is_set):
                self._scan(lines, length, text, start, stop, max_hits)
        except ReadCancelled:
            self.future.set_exception(CancelledError())
        except BaseException as e:
            self.future.set_exception(e)

    def _scan(self, lines: Lines, length: Callable[[], int], text: str, start: int, stop: int | None,
              max_hits: int) -> None:
        needle = text.lower()
        raw = needle.encode()
        ascii_only = needle.isascii()
        hits: list[int] = []
        at = max(start, 0)
        end = length() if stop is None else stop
        while at < end and len(hits) < max_hits:
            if self._cancelled.is_set():
                raise CancelledError()
            upto = min(at + CHUNK, end)
            chunk = lines(at, upto)
            for i, line in enumerate(chunk, at):
                if (raw in line.lower()) if ascii_only else (needle in line.decode(errors="replace").lower()):
                    hits.append(i)
            self.scanned += len(chunk)
            if not chunk:
                break
            at = upto
        self.future.set_result(hits[:max_hits])
