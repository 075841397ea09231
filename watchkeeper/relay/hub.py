"""The relay: runs sources on its own event-loop thread, numbers and merges their
events per session, and serves subscribers in batches.

Everything that changes state runs on the relay's thread; the stores are also
read from other threads (``read_range``, ``sessions``), so every change and
every such read holds one lock, taken once per emitted batch, not per event.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import secrets
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..adapters.base import HistorySource, Source, StatusSource
from ..protocol import CallTable, ControlModel, Event, fit, make_event, raw_event, validate_control
from ..protocol.calls import TOOL_KINDS
from ..protocol.kinds import Kind
from .api import BatchCallback, RelayAPI, ResyncCallback
from .controls import FORWARD_TIMEOUT, ControlRouter, SessionSources
from .fanout import SessionsWatch, Subscription, strike
from .generations import Generations
from .history import RelayHistoryHost
from .sessions_view import SessionStatus, SessionsView
from .store import SessionLog

log = logging.getLogger("watchkeeper.relay")

UNKNOWN_SESSION = "unknown"
#: Events kept between two ``gc.freeze()`` calls. The relay keeps every event as long as it runs:
#: a 1 GB transcript is ~10M objects, and each full collection would walk all of them again,
#: holding the GIL (the UI's too) for up to a second. Frozen, the collector skips them; being
#: acyclic, they are still freed by reference counting.
FREEZE_EVERY = 10_000
#: The key that the relay's own notices (a subscriber that failed) are ingested under: not a source.
RELAY_KEY = -1


def new_epoch() -> str:
    """A short random name for one relay run; a subscriber that sees it change resyncs."""
    return "r-" + secrets.token_hex(3)


class Relay(Generations, SessionsView):
    """The hub every face uses; implements ``relay.api.RelayAPI``.

    ``start()`` runs the loop on a daemon thread; ``add_source``, ``subscribe``,
    ``on_sessions``, ``read_range`` and ``sessions`` may be called from any
    thread, before or after ``start()``. Callbacks run on the relay's thread
    and must not block. A callback that raises is reported (a ``notice`` in the sessions of the
    batch it failed on, and a line on stderr) and misses that batch; after ``fanout.MAX_STRIKES`` failures
    in a row it is unsubscribed, which is reported too.

    Every event is fitted where it comes in (``protocol.bounds.fit``): whatever a source read,
    each event the relay holds can be encoded and is at most ``MAX_EVENT_BYTES``.
    """

    def __init__(self, *, flush_interval: float = 0.05, max_batch: int = 1000,
                 sessions_interval: float = 0.2, epoch: str | None = None) -> None:
        self.epoch = epoch or new_epoch()
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.sessions_interval = sessions_interval
        #: the last problems reported (a source that failed, a callback that raised).
        self.errors: deque[str] = deque(maxlen=100)
        self._lock = threading.Lock()
        self._logs: dict[str, SessionLog] = {}
        #: every event kept, all sessions, in arrival order: what an all-sessions subscriber reads.
        self._journal: list[Event] = []
        #: session -> the seq where its current generation starts (see ``history.py``); absent: 0.
        self._history_from: dict[str, int] = {}
        #: session -> fraction of its earlier history indexed so far, while a source rebuilds it.
        self._indexing: dict[str, float] = {}
        self._calls = CallTable()
        self._running: dict[int, str] = {}
        #: sources that know better than "running" whether their sessions are live (a remote relay).
        self._status: dict[int, SessionStatus] = {}
        self._controls = ControlRouter(self._sources_of, self._ingest)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._keys = itertools.count()
        self._subs: list[Subscription] = []
        self._watches: list[SessionsWatch] = []
        self._pending = 0
        self._unfrozen = 0
        self._flush_handle: asyncio.Handle | None = None
        self._last_flush = float("-inf")
        self._sessions_handle: asyncio.Handle | None = None
        self._last_sessions = float("-inf")
        self._loop = asyncio.new_event_loop()
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

    def _run(self) -> None:
        try:
            self._loop.run_forever()
        finally:
            if self._stopping:
                self._loop.close()

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
            source.bind_history(RelayHistoryHost(self, key, name, agent_kind))
        if isinstance(source, StatusSource):
            source.on_status_change(self._sessions_changed)
        with self._lock:
            self._running[key] = name
            if isinstance(source, StatusSource):
                self._status[key] = source.session_status
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
            with self._lock:
                self._running.pop(key, None)
                self._status.pop(key, None)
            self._sessions_changed()

    def _notice_source_failed(self, key: int, name: str, e: Exception) -> None:
        with self._lock:
            sessions = [sid for sid, lg in self._logs.items() if key in lg.sources]
        self._ingest(key, name, "unknown", [
            make_event(f"relay:{self.epoch}:source-failed:{key}", sid, Kind.NOTICE,
                       {"level": "error", "text": f"source {name} stopped: {e!r}", "code": "source-failed"})
            for sid in sessions
        ])

    # --- ingest: number, dedupe, merge -------------------------------------

    def _ingest(self, key: int, name: str, agent_kind: str, batch: Iterable[Event]) -> None:
        epoch = self.epoch
        calls = self._calls
        logs = self._logs
        journal = self._journal
        seen: set[str] = set()
        added = 0
        batch = [fit(ev) if isinstance(ev, dict) else
                 fit(raw_event(UNKNOWN_SESSION, repr(ev), "a source emitted a non-event", name)) for ev in batch]
        with self._lock:
            for ev in batch:
                sid = ev.get("session") or UNKNOWN_SESSION
                lg = logs.get(sid)
                if lg is None:
                    lg = logs[sid] = SessionLog(sid, agent_kind)
                if sid not in seen:
                    seen.add(sid)
                    if key != RELAY_KEY:
                        lg.sources.setdefault(key, name)
                if not lg.append(ev, epoch):
                    continue
                journal.append(ev)
                added += 1
                try:
                    kind = ev.get("kind")
                    if kind in TOOL_KINDS:
                        calls.update(ev)  # type: ignore[arg-type]
                    elif kind == Kind.CONTROL_APPLIED:
                        calls.release(ev)  # type: ignore[arg-type]
                    lg.summary.fold(ev)
                except Exception as e:
                    self._report(f"event {ev.get('id')!r} kept but not summarised: {e!r}")
        if added:
            self._pending += added
            self.retained(added)
            self._schedule_flush()
            self._sessions_changed()

    def retained(self, n: int) -> None:
        """``n`` more events are kept for good (see ``FREEZE_EVERY``); from any thread."""
        self._unfrozen += n
        if self._unfrozen >= FREEZE_EVERY:
            self._unfrozen = 0
            gc.freeze()

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

    def _sources_of(self, session: str) -> SessionSources | None:
        with self._lock:
            lg = self._logs.get(session)
            if lg is None:
                return None
            info = lg.summary.info
            return list(lg.sources.items()), info.agent_kind, info.capabilities.get("why")

    # --- delivery ----------------------------------------------------------

    def subscribe(self, callback: BatchCallback, session: str | None = None,
                  from_seq: int = 0, on_resync: ResyncCallback | None = None) -> Subscription:
        """Events with ``seq >= from_seq`` (one session, or every session), history first, then live.

        With ``on_resync`` (one session only) the subscriber follows generations
        (``history.py``): it starts at the current one and is told when a new one begins.
        """
        sub = Subscription(callback, session, from_seq, self._unsubscribe, on_resync)
        self._call(self._attach, sub)
        return sub

    def viewers(self, session: str) -> int:
        """Open subscriptions to this one session (a viewer watching it); all-sessions ones do not count."""
        return sum(1 for sub in list(self._subs) if sub.session == session and not sub.closed)

    def _attach(self, sub: Subscription) -> None:
        if sub.closed:
            return
        if sub.on_resync is not None and sub.session is not None:
            sub.cursor = max(sub.cursor, self._history_from.get(sub.session, 0))
        self._subs.append(sub)
        self._schedule_flush(soon=True)

    def _unsubscribe(self, sub: Subscription) -> None:
        def detach() -> None:
            if sub in self._subs:
                self._subs.remove(sub)
                if sub.session is not None and self.viewers(sub.session) == 0:
                    self._controls.unwatched(sub.session)

        self._call(detach, quiet=True)

    def _schedule_flush(self, soon: bool = False) -> None:
        """Deliver at once after a quiet spell, else at most every ``flush_interval``, or at ``max_batch``."""
        if self._pending >= self.max_batch:
            soon = True
        if self._flush_handle is not None:
            if not soon or not isinstance(self._flush_handle, asyncio.TimerHandle):
                return
            self._flush_handle.cancel()
        delay = 0.0 if soon else self._last_flush + self.flush_interval - self._loop.time()
        if delay <= 0:
            self._flush_handle = self._loop.call_soon(self._flush)
        else:
            self._flush_handle = self._loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        self._last_flush = self._loop.time()
        self._pending = 0
        more = False
        for sub in list(self._subs):
            if sub.closed:
                continue
            batch = sub.take(self._journal, self._logs, self.max_batch)
            if batch:
                try:
                    sub.callback(batch)
                    sub.strikes = 0
                except Exception as e:
                    self._subscriber_failed(sub, batch, e)
                    if sub.closed:
                        continue
            more = more or sub.behind(self._journal, self._logs)
        if more and self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _subscriber_failed(self, sub: Subscription, batch: list[Event], e: Exception) -> None:
        """Told where the person looks (notices, ``fanout.strike``) and on stderr: never silent."""
        text, notices = strike(sub, batch, e, f"relay:{self.epoch}:subscriber-failed:{next(self._keys)}")
        self.errors.append(text)
        log.info(text, exc_info=e)
        print(f"watchkeeper: {text}", file=sys.stderr, flush=True)
        self._ingest(RELAY_KEY, "relay", "unknown", notices)

    def _flush_all(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._flush()
        while any(not s.closed and s.behind(self._journal, self._logs) for s in self._subs):
            self._flush()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None

    def read_range(self, session: str, start: int, stop: int) -> list[Event]:
        """Events with ``start <= seq < stop`` of one session (clamped); from any thread."""
        with self._lock:
            lg = self._logs.get(session)
            return lg.range(start, stop) if lg is not None else []

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
            self._flush_all()
            if not self._tasks:
                return

    async def _shutdown(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _finish_other_tasks()
        self._flush_all()
        if self._sessions_handle is not None:
            self._sessions_handle.cancel()
            self._notify_sessions()

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
