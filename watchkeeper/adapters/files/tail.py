"""Following append-only JSONL files: a byte-offset tailer, and one shared directory watcher.

Both know nothing of any format. The :class:`Tailer` turns a growing file into
complete lines with their byte offsets; the :class:`DirWatcher` says when to
look again. Sources (``source.py``) put the two together with a converter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from watchfiles import awatch

log = logging.getLogger(__name__)

#: Bytes read per call: bounds the memory and the loop time one read of a huge append takes.
CHUNK = 1 << 20
#: Bytes kept from just before the read position; if they change, the file was rewritten in place.
_MARK = 32
#: A line's length to where the next one starts (``_split`` numbers lines in C, not in a Python loop).
_plus_newline = (1).__add__


@dataclass(slots=True)
class TailRead:
    """What one :meth:`Tailer.read` found."""

    #: The file shrank or was replaced: forget what it said, ``lines`` start again at offset 0.
    reset: bool = False
    #: Complete lines (without the newline), each with the byte offset where it starts.
    lines: list[tuple[int, bytes]] = field(default_factory=list)
    #: More bytes are waiting: call again before waiting for a change.
    more: bool = False


class Tailer:
    """Complete lines of an append-only file, as it grows, from a byte offset.

    A half-written last line is held until its newline arrives. A file that
    shrank, was replaced (another inode) or was rewritten in place (the bytes
    before the offset changed) is read again from the start, and the read says
    so (``reset``): the caller starts a fresh converter, and the relay drops the
    events it already has by their stable ids. The file is opened for each read
    and closed after it, so following hundreds of sessions holds no descriptors.
    """

    def __init__(self, path: Path | str, offset: int = 0, chunk_size: int = CHUNK) -> None:
        self.path = Path(path)
        self.chunk_size = chunk_size
        self._ident: tuple[int, int] | None = None
        self._pos = offset
        self._pending = bytearray()
        self._pending_at = offset
        self._mark = b""

    @property
    def offset(self) -> int:
        """Where the first line not yet returned starts: everything before it was returned."""
        return self._pending_at

    @property
    def held(self) -> int:
        """Bytes of a half-written last line waiting for their newline."""
        return len(self._pending)

    def read(self, final: bool = False) -> TailRead:
        """Lines from at most one chunk of new bytes; with ``final``, a last line without a newline too."""
        result = TailRead()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return result
        try:
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino)
            if ident != self._ident:
                result.reset = self._ident is not None
                self._ident = ident
            if result.reset or st.st_size < self._pos or not self._mark_holds(fd):
                result.reset = True
                self._rewind()
            if self._pos < st.st_size:
                data = os.pread(fd, min(self.chunk_size, st.st_size - self._pos), self._pos)
                self._split(data, result.lines)
                result.more = self._pos < st.st_size
        finally:
            os.close(fd)
        if final and not result.more and self._pending:
            result.lines.append((self._pending_at, bytes(self._pending)))
            self._pending_at += len(self._pending)
            self._pending.clear()
        return result

    def _mark_holds(self, fd: int) -> bool:
        if not self._mark:
            return True
        return os.pread(fd, len(self._mark), self._pos - len(self._mark)) == self._mark

    def _rewind(self) -> None:
        self._pos = self._pending_at = 0
        self._pending.clear()
        self._mark = b""

    def _split(self, data: bytes, out: list[tuple[int, bytes]]) -> None:
        base = self._pos
        self._pos += len(data)
        self._mark = (self._mark + data[-_MARK:])[-_MARK:]
        parts = data.split(b"\n")
        if len(parts) == 1:
            self._pending += data
            return
        first = parts[0]
        if self._pending:
            self._pending += first
            first = bytes(self._pending)
            self._pending.clear()
        out.append((self._pending_at, first))
        whole = parts[1:-1]
        starts = list(accumulate(map(_plus_newline, map(len, whole)), initial=base + len(parts[0]) + 1))
        out += zip(starts, whole, strict=False)  # starts has one more: where the held rest begins
        self._pending += parts[-1]
        self._pending_at = starts[-1]


# --- the shared directory watcher ---------------------------------------------

#: Called on the loop with the paths that changed; an empty set means "anything may have changed".
OnChange = Callable[[set[str]], None]


def _dirs(dirs: Iterable[Path | str]) -> frozenset[str]:
    return frozenset(os.path.abspath(d) for d in dirs)


class Watch:
    """One follower's interest in some directories (not recursive); see :meth:`DirWatcher.watch`."""

    def __init__(self, owner: DirWatcher, on_change: OnChange) -> None:
        self._owner = owner
        self.dirs: frozenset[str] = frozenset()
        self.on_change = on_change

    def update(self, dirs: Iterable[Path | str]) -> None:
        """Watch these instead; also the way to say that one of them has just been created."""
        self._owner._index(self, _dirs(dirs))

    def close(self) -> None:
        self._owner._index(self, None)

    async def aclose(self) -> None:
        """Close, and if this was the last watch, wait (briefly) for the watcher's thread to let go."""
        self.close()
        task = self._owner._task
        if task is not None and not self._owner._watches:
            await asyncio.wait({task}, timeout=2.0)


class DirWatcher:
    """One ``watchfiles`` watcher for every follower on one event loop.

    Each watcher is a thread and an inotify instance, and with the 1 ms step the
    latency budget needs, its thread wakes every millisecond; one shared watcher
    keeps a relay that follows hundreds of sessions at one of each (Linux allows
    128 inotify instances per user by default). Watching is not recursive: each
    follower names the directories it cares about. When the set of existing
    watched directories changes the watcher restarts, then tells every follower
    to look again, so nothing written in between goes unnoticed.
    """

    def __init__(self, step: int = 1, debounce: int = 10, retry: float = 5.0) -> None:
        self.step = step
        self.debounce = debounce
        self.retry = retry
        self._watches: set[Watch] = set()
        self._by_dir: dict[str, set[Watch]] = {}
        self._running: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._check_soon: asyncio.Handle | None = None
        self._stop = threading.Event()
        self._dirty = asyncio.Event()

    def watch(self, dirs: Iterable[Path | str], on_change: OnChange) -> Watch:
        """Call ``on_change`` (on this loop) when something in ``dirs`` changes, until closed."""
        w = Watch(self, on_change)
        self._index(w, _dirs(dirs))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="watchkeeper-dirwatch")
        return w

    def _index(self, w: Watch, dirs: frozenset[str] | None) -> None:
        """Point ``dirs`` (None: nothing, the watch is closed) at ``w``, and restart if need be."""
        for d in w.dirs:
            users = self._by_dir.get(d)
            if users is not None:
                users.discard(w)
                if not users:
                    del self._by_dir[d]
        w.dirs = dirs or frozenset()
        for d in w.dirs:
            self._by_dir.setdefault(d, set()).add(w)
        if dirs is None:
            self._watches.discard(w)
        else:
            self._watches.add(w)
        if self._check_soon is None:
            self._check_soon = asyncio.get_running_loop().call_soon(self._check)

    def _wanted(self) -> list[str]:
        return sorted(d for d in self._by_dir if os.path.isdir(d))

    def _check(self) -> None:
        """Once per loop turn however many watches changed: do the watched directories differ?"""
        self._check_soon = None
        if not self._watches or self._wanted() != self._running:
            self._stop.set()
            self._dirty.set()

    async def _run(self) -> None:
        try:
            while self._watches:
                self._dirty.clear()
                self._stop = stop = threading.Event()
                self._running = dirs = self._wanted()
                for w in list(self._watches):
                    self._tell(w, set())
                if not dirs:
                    await self._dirty.wait()
                    continue
                try:
                    changes = awatch(*dirs, watch_filter=None, step=self.step, debounce=self.debounce,
                                     stop_event=stop, recursive=False, rust_timeout=1000)
                    async with contextlib.aclosing(changes):
                        async for batch in changes:
                            self._dispatch({p for _, p in batch})
                except FileNotFoundError:
                    await asyncio.sleep(0.05)
                except (OSError, RuntimeError) as e:
                    log.warning("watching %d directories failed (%s); polling only, retrying in %ss",
                                len(dirs), e, self.retry)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.retry):
                            await self._dirty.wait()
                finally:
                    stop.set()
        finally:
            self._task = None
            self._running = []

    def _dispatch(self, paths: set[str]) -> None:
        by_watch: dict[Watch, set[str]] = {}
        for p in paths:
            for d in (os.path.dirname(p), p):
                for w in self._by_dir.get(d, ()):
                    by_watch.setdefault(w, set()).add(p)
        for w, mine in by_watch.items():
            if w in self._watches:
                self._tell(w, mine)

    def _tell(self, w: Watch, paths: set[str]) -> None:
        try:
            w.on_change(paths)
        except Exception:
            log.exception("a watch callback failed; the watcher goes on")


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, DirWatcher] = weakref.WeakKeyDictionary()


def shared_watcher() -> DirWatcher:
    """The running loop's watcher (one per loop: the relay's thread has its own)."""
    loop = asyncio.get_running_loop()
    w = _shared.get(loop)
    if w is None:
        w = _shared[loop] = DirWatcher()
    return w
