"""One shared directory watcher per event loop: it says when to look at a followed file again.

It knows nothing of any format (the tailer, ``tail.py``, reads the lines);
sources (``source.py``) put the two together with a converter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path

from watchfiles import awatch

log = logging.getLogger(__name__)

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
