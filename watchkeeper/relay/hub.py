"""The relay: runs sources on its own event-loop thread, numbers and merges their
events per session, and serves subscribers in batches.

Everything that changes state runs on the relay's thread. What other threads
read (``read_range``, ``sessions``) lives in the session book (``book.py``),
behind its one lock, taken once per emitted batch, not per event.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..adapters.base import HistorySource, OriginSource, Source, StatusSource
from ..protocol import ControlModel, Event, ToolCall, make_event, validate_control
from ..protocol.activity import Clock
from ..protocol.display import visible
from ..protocol.kinds import Kind
from ..protocol.listing import session_row
from ..retention import retained
from .api import BatchCallback, Folded, RelayAPI, ResyncCallback, SessionInfo
from .book import RELAY_KEY, SessionBook
from .controls import FORWARD_TIMEOUT, ControlRouter
from .delivery import Delivery
from .fanout import SessionsWatch, Subscription, strike
from .history import Rebuild, RelayHistoryHost
from .names import new_epoch
from .search import Search
from .sessions_feed import SessionsFeed
from .spill import DEFAULT_KEEP, DEFAULT_KEEP_BYTES, Recording, Spool

log = logging.getLogger("watchkeeper.relay")

#: Events of a rebuilt history spilled per turn of the relay's loop.
SPILL_STEP = 10_000


class Relay:
    """The hub every face uses; implements ``relay.api.RelayAPI``.

    A facade over its parts, each with its own state: the session book (``book.py``: sessions,
    seq, generations), delivery to subscribers (``delivery.py``), the sessions feed
    (``sessions_feed.py``) and the control router (``controls.py``); it runs the sources.

    ``start()`` runs the loop on a daemon thread; ``add_source``, ``subscribe``,
    ``on_sessions``, ``read_range`` and ``sessions`` may be called from any
    thread, before or after ``start()``. Callbacks run on the relay's thread
    and must not block. A callback that raises is reported (a ``notice`` in the sessions of the
    batch it failed on, and a line on stderr) and misses that batch; after ``fanout.MAX_STRIKES`` failures
    in a row it is unsubscribed, which is reported too.

    Every event is fitted where it comes in (``protocol.bounds.fit``): whatever a source read,
    each event the relay holds can be encoded and is at most ``MAX_EVENT_BYTES``.

    Each session keeps its newest ``keep`` events in memory, at most ``keep_bytes`` of them, and the
    older ones on disk (``spill.py``), in a private directory under ``spill_dir`` (default ``$XDG_RUNTIME_DIR``,
    else the temp directory) made at the first spill and removed by ``stop``; range reads,
    resumes and subscribers still serve every seq. ``keep=None`` keeps everything in memory.
    """

    def __init__(self, *, flush_interval: float = 0.05, max_batch: int = 1000,
                 sessions_interval: float = 0.2, epoch: str | None = None, clock: Clock = time.time,
                 keep: int | None = DEFAULT_KEEP, spill_dir: str | None = None, index_after: float = 0.0,
                 keep_bytes: int = DEFAULT_KEEP_BYTES) -> None:
        self.epoch = epoch or new_epoch()
        #: Seconds a huge transcript's background indexing waits after its newest events went out: none
        #: unless a viewer draws in this process (``tailfirst.INDEX_AFTER``), whose first frame needs the GIL.
        self.index_after = index_after
        #: the last problems reported (a source that failed, a callback that raised).
        self.errors: deque[str] = deque(maxlen=100)
        self._loop = asyncio.new_event_loop()
        self.spool = Spool(spill_dir) if keep is not None else None
        self._book = SessionBook(self.epoch, self._report, spool=self.spool, keep=keep or DEFAULT_KEEP,
                                 lost=self._history_lost, keep_bytes=keep_bytes)
        self._delivery = Delivery(self._loop, self._book, flush_interval=flush_interval, max_batch=max_batch,
                                  failed=self._subscriber_failed, unwatched=self._unwatched, report=self._report)
        self._feed = SessionsFeed(self._loop, self._book, self._call, interval=sessions_interval,
                                  report=self._report, clock=clock)
        self._controls = ControlRouter(self._book.sources_of, self._ingest)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> Relay:
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._run, name=f"watchkeeper-relay-{self.epoch}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Cancel every source, deliver what subscribers have not had yet, and join the thread."""
        if self._stopping:
            return
        self._stopping = True
        thread = self._thread
        if thread is None:
            self._loop.close()
            self._close_spool()
            return
        if threading.current_thread() is thread:
            # From a callback or a source: shut down once this callback returns; nothing to join.
            self._loop.create_task(self._shutdown()).add_done_callback(lambda _: self._loop.stop())
            return
        done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            done.result(timeout)
        except Exception as e:
            self._report(f"relay did not shut down cleanly: {e!r}")
        self._loop.call_soon_threadsafe(self._loop.stop)
        thread.join(timeout)

    def _close_spool(self) -> None:
        self._book.close()
        if self.spool is not None:
            self.spool.close()

    def _run(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            if self._stopping:
                self._loop.close()
                self._close_spool()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every source has finished and every subscriber has had every event.

        For one-shot sources (a file's conversion); a live tail never finishes.
        False if ``timeout`` passed first.
        """
        if threading.current_thread() is self._thread:
            raise RuntimeError("Relay.drain() would wait for itself when called on the relay's thread")
        done = asyncio.run_coroutine_threadsafe(self._drain(), self._loop)
        try:
            done.result(timeout)
        except TimeoutError:
            done.cancel()
            return False
        return True

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- sources -----------------------------------------------------------

    def add_source(self, source: Source) -> None:
        """Run ``source`` on the relay's loop; callable from any thread, the relay's included."""
        self._call(self._start_source, source)

    def _start_source(self, source: Source) -> None:
        if self._stopping:
            return
        key = next(self._keys)
        name = str(getattr(source, "name", type(source).__name__))
        agent_kind = str(getattr(source, "agent_kind", "unknown"))

        def emit(batch: list[Event]) -> None:
            self._ingest(key, name, agent_kind, batch)

        if isinstance(source, HistorySource):
            source.bind_history(RelayHistoryHost(self._book, key, name, agent_kind, install=self._install_history,
                                                 progress=self._indexing, report=self._report,
                                                 index_after=self.index_after))
        status = None
        if isinstance(source, StatusSource):
            source.on_status_change(self._feed.changed)
            status = source.session_status
        self._feed.source_started(key, status, source.session_origin if isinstance(source, OriginSource) else None)
        self._controls.add(key, source)
        self._tasks[key] = self._loop.create_task(self._run_source(key, name, source, emit))

    async def _run_source(self, key: int, name: str, source: Source,
                          emit: Callable[[list[Event]], None]) -> None:
        try:
            await source.run(emit)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._report(f"source {name!r} failed: {e!r}", exc=e)
            self._notice_source_failed(key, name, e)
        finally:
            self._tasks.pop(key, None)
            self._controls.remove(key)
            self._feed.source_stopped(key)

    def _notice_source_failed(self, key: int, name: str, e: Exception) -> None:
        self._ingest(key, name, "unknown", [
            make_event(f"relay:{self.epoch}:source-failed:{key}", sid, Kind.NOTICE,
                       {"level": "error", "text": f"source {name} stopped: {e!r}", "code": "source-failed"})
            for sid in self._book.sessions_of(key)
        ])

    # --- ingest and generations -------------------------------------------

    def _ingest(self, key: int, name: str, agent_kind: str, batch: Iterable[Event]) -> None:
        added, held = self._book.ingest(key, name, agent_kind, batch)
        if added:
            retained(added)
            # A held call goes out at once, not at the next batch: the agent waits for every millisecond of it.
            self._delivery.added(added, soon=held)
            self._feed.changed()

    def _install_history(self, rb: Rebuild, superseded: Collection[str]) -> None:
        """A committed rebuild (``history.py``) becomes the session's new generation; on the relay's loop."""
        start, end, added = self._book.install(rb, superseded)
        self._delivery.resync(rb.session, start, end)
        self._delivery.added(added, soon=True)
        self._feed.changed()
        self._loop.call_soon(self._spill_rebuilt, rb.session)
        if rb.others:
            self._ingest(rb.key, rb.name, rb.summary.info.agent_kind, rb.others)

    def _spill_rebuilt(self, session: str) -> None:
        """A rebuilt history goes to disk a step per turn of the loop (``SPILL_STEP`` events, ~20 ms)."""
        if not self._stopping and self._book.spill_step(session, SPILL_STEP):
            self._loop.call_soon(self._spill_rebuilt, session)

    def _history_lost(self, session: str, text: str) -> None:
        """History kept in a transcript cannot be read back (the file was replaced or truncated): said in the
        session, never silently; from whichever thread read it."""
        self.notice(session, text, "transcript-changed")

    def _indexing(self, session: str, fraction: float | None) -> None:
        self._book.set_indexing(session, fraction)
        self._feed.changed()

    # --- controls ----------------------------------------------------------

    def control(self, control: ControlModel | dict[str, Any], timeout: float = FORWARD_TIMEOUT) -> Future[Event]:
        """Send one control from any thread; the future holds its one outcome (``ProtocolError`` if invalid).

        For a session followed from a remote relay that is the remote relay's own outcome, or a
        rejection if it does not answer within ``timeout`` seconds.
        """
        done: Future[Event] = Future()

        def settled(outcome: asyncio.Future[Event]) -> None:
            if outcome.cancelled():
                done.cancel()
            elif (e := outcome.exception()) is not None:
                done.set_exception(e)
            else:
                done.set_result(outcome.result())

        def route() -> None:
            try:
                model = control if isinstance(control, ControlModel) else validate_control(control)
                self._controls.submit(model, timeout).add_done_callback(settled)
            except Exception as e:
                done.set_exception(e)

        self._call(route)
        return done

    def route_control(self, control: ControlModel) -> Event:
        """``control`` (on the relay's loop) to the source that can honour it; its one outcome event."""
        return self._controls.route(control)

    # --- delivery and reads ----------------------------------------------

    def subscribe(self, callback: BatchCallback, session: str | None = None,
                  from_seq: int = 0, on_resync: ResyncCallback | None = None) -> Subscription:
        """Events with ``seq >= from_seq`` (one session, or every session), history first, then live.

        With ``on_resync`` (one session only) the subscriber follows generations
        (``history.py``): it starts at the current one and is told when a new one begins.
        """
        sub = Subscription(callback, session, from_seq,
                           lambda s: self._call(self._delivery.detach, s, quiet=True), on_resync)
        self._call(self._delivery.attach, sub)
        return sub

    def viewers(self, session: str) -> int:
        """Open subscriptions to this one session (a viewer watching it); all-sessions ones do not count."""
        return self._delivery.viewers(session)

    def _unwatched(self, session: str) -> None:
        self._controls.unwatched(session)

    def _subscriber_failed(self, sub: Subscription, batch: list[Event], e: Exception) -> None:
        """Told where the person looks (notices, ``fanout.strike``) and on stderr: never silent."""
        text, notices = strike(sub, batch, e, f"relay:{self.epoch}:subscriber-failed:{next(self._keys)}")
        self.errors.append(text)
        log.info(text, exc_info=e)
        print(f"watchkeeper: {text}", file=sys.stderr, flush=True)
        self._ingest(RELAY_KEY, "relay", "unknown", notices)

    def notice(self, session: str, text: str, code: str, level: str = "warning",
               data: dict[str, Any] | None = None) -> None:
        """A problem of one of the relay's helpers (an alert command that failed) as a notice in
        ``session``'s stream and on stderr; from any thread. ``data``: more fields for the notice's data."""
        self.errors.append(text)
        print(f"watchkeeper: {visible(text)}", file=sys.stderr, flush=True)
        event = make_event(f"relay:{self.epoch}:{code}:{next(self._keys)}", session, Kind.NOTICE,
                           {**(data or {}), "level": level, "text": text, "code": code})
        self._call(self._ingest, RELAY_KEY, "relay", "unknown", [event], quiet=True)

    def read_range(self, session: str, start: int, stop: int) -> list[Event]:
        """Events with ``start <= seq < stop`` of one session (clamped); from any thread."""
        return self._book.read_range(session, start, stop)

    def folded(self, session: str) -> Folded | None:
        """The session's state as the relay folded it, a copy, and the seqs it covers; from any thread."""
        return self._book.folded(session)

    def length(self, session: str) -> int:
        """The seq the session's next event will get (0: no such session); from any thread."""
        return self._book.length(session)

    def search(self, session: str, text: str, *, start: int = 0, stop: int | None = None) -> Search:
        """Seqs of ``session``'s events whose JSON text holds ``text`` (any case), over its whole history.

        Runs on its own thread (history on disk takes seconds to scan): never call ``result`` on a
        UI's loop; ``cancel()`` stops it at the next chunk (``search.py``).
        """
        return Search(lambda a, b: self._book.lines(session, a, b), lambda: self._book.length(session), text,
                      start=start, stop=stop)

    def record_to(self, recording: Recording) -> None:
        """Recorded sessions spill to their recording (``recorder.Recorder``) instead of a second copy."""
        self._book.record_to(recording)

    def in_memory(self) -> int:
        """Events held in memory across every session's working set (the rest is on disk)."""
        return self._book.in_memory()

    def in_memory_bytes(self) -> tuple[int, int]:
        """Encoded bytes in memory: the biggest session's working set, and the all-sessions journal's."""
        return self._book.in_memory_bytes()

    def call(self, session: str, call_id: str) -> ToolCall | None:
        """One tool call as merged from every source of its session (a copy)."""
        return self._book.call(session, call_id)

    def sessions(self) -> list[SessionInfo]:
        """A snapshot: those needing attention first, then live ones, then by last activity."""
        return self._feed.sessions()

    def session(self, session: str) -> SessionInfo | None:
        return self._feed.session(session)

    def listing(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The sessions as ``watchkeeper sessions --json`` prints them (``protocol.listing``), in ``sessions()``'s
        order; each says whether a control can act on it now, which only the relay's thread may ask."""
        if self._thread is not None and threading.current_thread() is not self._thread:
            async def on_loop() -> list[dict[str, Any]]:
                return self.listing()

            return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result(timeout)
        return [session_row(id=i.session, agent=i.agent_kind, title=i.title, cwd=i.cwd, state=i.state, live=i.live,
                            last_activity=i.last_ts, why_not=self._controls.why_not(i.session), held=i.held)
                for i in self.sessions()]

    def on_sessions(self, callback: Callable[[list[SessionInfo]], None]) -> SessionsWatch:
        """``callback(sessions())`` soon, then on every change, at most every ``sessions_interval``."""
        return self._feed.watch(callback)

    # --- plumbing ----------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any, quiet: bool = False) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            if not quiet:
                raise RuntimeError("the relay has been stopped") from None

    async def _drain(self) -> None:
        while True:
            await asyncio.sleep(0)
            if self._tasks:
                await asyncio.wait(list(self._tasks.values()))
                continue
            self._delivery.flush_all()
            if not self._tasks:
                return

    async def _shutdown(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _finish_other_tasks()
        self._delivery.flush_all()
        self._feed.flush()

    def _report(self, message: str, exc: BaseException | None = None) -> None:
        self.errors.append(message)
        log.warning(message, exc_info=exc)


async def _finish_other_tasks(timeout: float = 10.0) -> None:
    """End every other task on the loop (a file watcher's, say) before the loop stops.

    A task the loop stops under is never finished, and whatever waits on it
    waits forever: a thread pool's non-daemon worker that only exits when its
    owning task is done keeps the whole process from exiting.
    """
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in others:
        t.cancel()
    if others:
        await asyncio.wait(others, timeout=timeout)


if TYPE_CHECKING:
    _implements: type[RelayAPI] = Relay
