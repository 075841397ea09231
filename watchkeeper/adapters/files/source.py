"""Transcript files as the relay's live sources: a session followed as it grows, and new sessions as they appear.

A source has a ``name`` and ``async run(emit)`` (``adapters/base.py``); the
relay runs it on its own loop and ``emit`` takes a batch of events (all the
events of one read). ``feed.py`` reads the files through their converters,
``tail.py``'s shared watcher says when to look, and ``tailfirst.py`` opens a
huge file from its end; a Claude Code session brings its subagent files along.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ...protocol import Emit
from ..base import HistoryHost
from .backing import TranscriptBacking
from .discovery import is_session_name, scan_sessions
from .feed import TranscriptReader, agent_kind_of
from .index import TAIL_BYTES, TAIL_FIRST_BYTES
from .tail import CHUNK
from .tailfirst import TailFirst
from .watch import Watch, shared_watcher

log = logging.getLogger(__name__)

#: Seconds between looks when the watcher says nothing: the fallback if notifications are lost.
POLL_INTERVAL = 1.0
#: Seconds between fallback looks for new subagent files (the watcher reports them at once).
RESCAN_INTERVAL = 3.0


async def _drain(reader: TranscriptReader, emit: Emit, final: bool = False,
                 read: Callable[[], None] | None = None) -> None:
    """Read until nothing is waiting, one batch per chunk, letting the loop breathe between chunks;
    ``read()`` after each batch emitted."""
    while True:
        events, more = reader.poll(final)
        if events:
            emit(events)
            if read is not None:
                read()
        if not more:
            return
        await asyncio.sleep(0)


class TranscriptSource:
    """The events of a session file, live: everything present, then each append as it lands.

    A shared ``watchfiles`` watcher (1 ms step) says when to look; a slow poll
    covers anything it misses. A Claude Code session's subagent files are
    followed too, including those that appear later. With ``follow=False`` it
    is a one-shot conversion that ends with the files.

    A followed main file of ``tail_first`` bytes or more is opened tail-first
    when the relay offers a history host (``bind_history``): its last
    ``tail_bytes`` at once, the rest in the background (``tailfirst.py``).
    None turns that off; a one-shot conversion (a replay) always starts at the start.
    """

    def __init__(self, path: Path | str, *, follow: bool = True, poll_interval: float = POLL_INTERVAL,
                 chunk_size: int = CHUNK, tail_first: int | None = TAIL_FIRST_BYTES,
                 tail_bytes: int = TAIL_BYTES) -> None:
        self.path = Path(path).absolute()
        self.follow = follow
        self.poll_interval = poll_interval
        self.chunk_size = chunk_size
        self.agent_kind = agent_kind_of(self.path)
        self.name = f"transcript:{self.path}"
        self.tail_first = tail_first
        self.tail_bytes = tail_bytes
        self.history: HistoryHost | None = None

    def bind_history(self, host: HistoryHost) -> None:
        """The relay offers to take this session's history rebuilt in the background."""
        self.history = host

    async def run(self, emit: Emit) -> None:
        reader = TranscriptReader(self.path, self.chunk_size)
        tail_first = TailFirst.start(reader, self.history, self.tail_first, self.tail_bytes) if self.follow else None
        backing = self._backing(reader) if tail_first is None else None

        def told() -> None:
            """The relay hears of the backing once the session is known: before most of the file is in."""
            nonlocal backing
            if backing is not None and reader.main.converter is not None and self.history is not None:
                if reader.main.backing is backing:
                    self.history.follow(reader.main.session, backing)
                backing = None

        wake = asyncio.Event()
        rescan = True

        def on_change(paths: set[str]) -> None:
            nonlocal rescan
            hits = [p for p in paths if reader.concerns(p)]
            if hits or not paths:
                rescan = rescan or not paths or any(Path(p) not in reader.feeds for p in hits)
                wake.set()

        loop = asyncio.get_running_loop()
        watch: Watch | None = None
        watched: frozenset[Path] = frozenset()
        rescanned = loop.time()
        try:
            if self.follow:
                watch = shared_watcher().watch(reader.watch_dirs(), on_change)
            while True:
                if rescan:
                    rescan, rescanned = False, loop.time()
                    reader.rescan()
                    dirs = reader.watch_dirs()
                    present = frozenset(d for d in dirs if d.is_dir())
                    if watch is not None and present != watched:
                        watched = present
                        watch.update(dirs)
                await _drain(reader, emit, final=not self.follow, read=told if backing is not None else None)
                if tail_first is not None:
                    tail_first.run_in_background()
                if not self.follow:
                    return
                try:
                    async with asyncio.timeout(self.poll_interval):
                        await wake.wait()
                except TimeoutError:
                    rescan = loop.time() - rescanned >= RESCAN_INTERVAL
                wake.clear()
        finally:
            if tail_first is not None:
                await tail_first.cancel()
            if watch is not None:
                await watch.aclose()

    def _backing(self, reader: TranscriptReader) -> TranscriptBacking | None:
        """A file read from its start (followed or once) keeps its events' places (``backing.py``) from the
        first line: the relay forgets those past its working set instead of copying them (told after the
        first read, once the session is known)."""
        if self.history is None:
            return None
        try:
            backing = TranscriptBacking(self.path)
        except OSError:
            return None
        reader.main.backing = backing
        return backing


# --- new sessions under some directories ---------------------------------------


class DirectorySource:
    """Watches roots for session files and calls ``on_session(path)`` once for each, existing and new.

    Existing sessions are announced newest first; ``existing=False`` skips them
    and ``max_age`` skips those idle for longer (in seconds). It emits no events
    itself: the relay's ``on_session`` adds a :class:`TranscriptSource` per session.
    """

    def __init__(self, roots: Iterable[Path | str], on_session: Callable[[Path], None], *,
                 existing: bool = True, max_age: float | None = None, poll_interval: float = 1.0) -> None:
        self.roots = [Path(r).absolute() for r in roots]
        self.on_session = on_session
        self.existing = existing
        self.max_age = max_age
        self.poll_interval = poll_interval
        self.name = "sessions:" + ",".join(str(r) for r in self.roots)
        self.seen: set[Path] = set()
        self.dirs: list[Path] = list(self.roots)

    def scan(self) -> list[tuple[Path, float]]:
        """Session files not seen before, newest first; refreshes ``dirs``, the directories to watch."""
        found: list[tuple[Path, float]] = []
        self.dirs = list(self.roots)
        for root in self.roots:
            files, dirs = scan_sessions(root)
            found += files
            self.dirs += dirs
        found.sort(key=lambda f: f[1], reverse=True)
        return [(p, m) for p, m in found if p not in self.seen]

    def _announce(self, found: list[tuple[Path, float]], first: bool) -> None:
        oldest = time.time() - self.max_age if self.max_age is not None else float("-inf")
        for p, mtime in found:
            self.seen.add(p)
            if not first or (self.existing and mtime >= oldest):
                try:
                    self.on_session(p)
                except Exception:
                    log.exception("on_session(%s) failed; discovery goes on", p)

    async def run(self, emit: Emit) -> None:
        wake = asyncio.Event()
        changed: set[str] = set()
        full = True

        def on_change(paths: set[str]) -> None:
            nonlocal full
            full = full or not paths
            changed.update(paths)
            wake.set()

        watch = shared_watcher().watch(self.roots, on_change)
        watched: set[Path] = set()
        first = True
        try:
            while True:
                if full or any(os.path.isdir(p) for p in changed):
                    found = self.scan()
                    if set(self.dirs) != watched:
                        watched = set(self.dirs)
                        watch.update(self.dirs)
                else:
                    found = [(Path(p), 0.0) for p in sorted(changed)
                             if is_session_name(os.path.basename(p)) and Path(p) not in self.seen
                             and os.path.isfile(p)]
                full = False
                changed.clear()
                self._announce(found, first)
                first = False
                try:
                    async with asyncio.timeout(self.poll_interval):
                        await wake.wait()
                except TimeoutError:
                    full = True
                wake.clear()
        finally:
            await watch.aclose()
