"""A huge transcript opened tail-first: the newest events at once, the whole history in the background.

Converting a 1 GB Claude Code transcript takes ~5 s of CPU, far too long
before the first screen. So when a followed file is bigger than a threshold:

1. A *tail feed* gives the converter the file's first lines (they name the
   session, its title, cwd and model, so ``session.started`` is right), then
   jumps to the last MB (found with ``index.tail_start``: mmap + rfind)
   and goes on following appends. Its events go out at once; a tool result
   whose call lies before the jump is an orphan, which ``protocol.calls``
   merges by call id anyway.
2. Meanwhile a *full feed* converts the file from offset 0 in a worker
   thread, a few MB per step (so the relay's loop never waits on it), into
   the relay's ``HistoryBuilder`` for the session, which dedupes, summarises
   and (once caught up, ``prepare``) numbers off the loop. The relay shows
   the progress ("indexing earlier history… N%").
   The builder keeps no events: each one's record offset goes to a
   ``backing.TranscriptBacking``, from which the relay reads events back on
   demand (the transcript is the history on disk, not a second copy).
3. When the full feed has caught up with the end of the file, on the relay's
   loop and with no await in between: the full feed replaces the tail feed
   (its converter has seen every line, so appends from then on get exactly
   the ids ``convert_file`` gives), and the builder is committed: the session
   gets its whole history in file order as a new generation, the tail feed's
   events are superseded, and subscribers that asked are told to resync.

Why not a subprocess: events are dicts the relay keeps, and sending 400k of
them back through a pipe would cost more than converting them. Why not the
relay's loop: a step is ~20 ms of CPU, and the loop serves live events with
a 20 ms budget. The worker holds the GIL in 5 ms slices, like any thread.
Only a followed file goes tail-first: a one-shot conversion (``replay``)
streams from the start, its first batch out after the first MB.

If the file is replaced or truncated meanwhile, the background work is
dropped: the tail feed re-reads the new file from its start, as any feed does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...protocol import Event
from ...retention import give_back
from ..base import HistoryBuilder, HistoryHost
from . import index
from .backing import TranscriptBacking
from .feed import FileFeed, TranscriptReader, open_converter, raw_line
from .index import TAIL_BYTES
from .tail import Tailer

log = logging.getLogger(__name__)

#: Bytes the background conversion reads per step in its worker thread (~20 ms of CPU for Claude Code).
STEP_BYTES = 4 << 20

#: Seconds between the tail's first events and the background conversion when a viewer draws in the same
#: process (the commands that start the app pass it to the relay, ``Relay(index_after=…)``): the first
#: screen is drawn meanwhile (a worker converting takes the GIL half the time, which costs a first frame
#: ~0.12 s of CPU). With nothing drawing (``serve``, a relay alone) the conversion starts at once.
INDEX_AFTER = 0.3

#: One worker thread for every background conversion in the process: huge files are indexed one
#: step at a time, in turn, and never take more than one core between them.
WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watchkeeper-index")


class TailFeed(FileFeed):
    """A file's first lines, then its last ``tail_bytes`` and whatever is appended; remembers what it emitted."""

    def __init__(self, path: Path, chunk_size: int, tail_bytes: int) -> None:
        super().__init__(path, chunk_size)
        #: ids of every event this feed emitted: superseded by the full history once it is in.
        self.ids: set[str] = set()
        self._first: list[Event] = []
        end = 0
        for offset, line in index.head(path):
            end = offset + len(line) + 1
            if self.converter is None:
                self.converter = open_converter(path, line)
            try:
                self._first += self.converter.feed(line, offset)
            except Exception as e:
                self._first.append(raw_line(self.session, line, offset, f"converter failed: {e!r}", path))
            if self._first:
                break
        self.start = index.tail_start(path, tail_bytes, not_before=end)
        self.tailer = Tailer(path, offset=self.start, chunk_size=chunk_size)

    def read(self, final: bool = False, at: list[int] | None = None) -> tuple[list[Event], bool]:
        events, more = super().read(final, at)
        if self._first:
            events, self._first = self._first + events, []
        self.ids.update(e["id"] for e in events if isinstance(e, dict) and "id" in e)
        return events, more


class TailFirst:
    """Runs steps 1–3 above for one :class:`TranscriptReader`; ``start`` says whether it applies."""

    def __init__(self, reader: TranscriptReader, host: HistoryHost, tail: TailFeed) -> None:
        self.reader = reader
        self.host = host
        self.tail = tail
        self.size = index.file_size(reader.path)
        self.task: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, reader: TranscriptReader, host: HistoryHost | None, threshold: int | None,
              tail_bytes: int = TAIL_BYTES) -> TailFirst | None:
        """Put a tail feed in place of the main file's feed, if the file is big enough; else None."""
        if host is None or threshold is None or index.file_size(reader.path) < threshold:
            return None
        try:
            tail = TailFeed(reader.path, reader.chunk_size, tail_bytes)
        except OSError:
            return None
        reader.main = reader.feeds[reader.path] = tail
        return cls(reader, host, tail)

    def run_in_background(self) -> None:
        """Start the full conversion; call on the loop after the tail's first events went out."""
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._index(), name=f"index:{self.reader.path}")

    async def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _index(self) -> None:
        await asyncio.sleep(self.host.index_after)
        session = self.tail.session
        loop = asyncio.get_running_loop()
        full = FileFeed(self.reader.path, self.reader.chunk_size)
        try:
            backing: TranscriptBacking | None = TranscriptBacking(self.reader.path, session)
        except OSError:
            backing = None
        builder = self.host.begin(session, backing)
        committed = False
        try:
            self.host.progress(session, 0.0)
            while True:
                more = await loop.run_in_executor(WORKER, _step, full, builder)
                if full.resets or self.tail.resets:
                    return
                self.host.progress(session, min(full.tailer.offset / max(self.size, 1), 0.99))
                if not more:
                    break
            await loop.run_in_executor(WORKER, builder.prepare)
            # On the loop from here to the commit: nothing else reads the file or emits meanwhile.
            more = True
            while more:
                at: list[int] = []
                events, more = full.read(at=at)
                builder.add(events, at)
            if full.resets or self.tail.resets:
                return
            if backing is not None:
                backing.indexed(full.tailer.offset)
                full.backing = backing
            self.reader.main = self.reader.feeds[self.reader.path] = full
            builder.commit(self.tail.ids)
            committed = True
            await loop.run_in_executor(WORKER, give_back)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("indexing %s in the background failed; its tail stays as it is", self.reader.path)
        finally:
            if not committed:
                builder.abandon()
            self.host.progress(session, None)


def _step(full: FileFeed, builder: HistoryBuilder, budget: int = STEP_BYTES) -> bool:
    """In the worker thread: convert about ``budget`` bytes into ``builder``; whether more is waiting."""
    start = full.tailer.offset
    more = True
    resets = full.resets
    while more and full.tailer.offset - start < budget and full.resets == resets:
        at: list[int] = []
        events, more = full.read(at=at)
        builder.add(events, at)
    return more and full.resets == resets
