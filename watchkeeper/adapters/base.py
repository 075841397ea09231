"""What adapters provide: converters (lines in, events out) and sources (what the relay runs).

A source's required shape is :class:`Source`; what some sources can do
besides is spelled out here as protocols too (:class:`HistorySource`,
:class:`StatusSource`, :class:`OriginSource`), so the relay asks
``isinstance`` of a named ability instead of probing attributes. The relay's ``RelayHistoryHost`` implements the
history contract a tail-first source talks to (``files/tailfirst.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, runtime_checkable

from ..protocol import Emit, Event
from ..protocol.origin import Origin


class Converter(Protocol):
    """Stateful but pure: one line (without its newline) and its byte offset in, events out.

    A converter never raises on bad input: a line it cannot use becomes a
    ``raw`` event. Event ids are stable (derived from the records), so a file
    read twice through two converters yields the same ids; the relay drops the
    repeats, which is how a rewritten file is re-read without duplicates.
    """

    agent_kind: str

    def feed(self, line: bytes, offset: int) -> list[Event]: ...

    def finish(self) -> list[Event]:
        """The file ended (one-shot conversion): flush anything held back."""
        ...


class Source(Protocol):
    """Anything the relay runs: a ``name``, and ``run(emit)`` on the relay's loop.

    An ``agent_kind`` attribute, when there is one, labels its sessions.
    """

    name: str

    async def run(self, emit: Emit) -> None:
        """Emit batches until cancelled (a live source) or until done (a one-shot source)."""
        ...


# --- optional abilities ----------------------------------------------------------------


def event_key(ev: Event) -> int:
    """What tells a backed event from another source's with the same id (a hook's ``tool:…:started`` and
    the transcript's): its id and its time, hashed."""
    return hash((ev.get("id"), ev.get("ts")))


class ReadCancelled(Exception):
    """A read given up by the thread that asked for it (:func:`cancellable`) before it was done."""


_gave_up: ContextVar[Callable[[], bool] | None] = ContextVar("watchkeeper_read_gave_up", default=None)


@contextmanager
def cancellable(gave_up: Callable[[], bool]) -> Iterator[None]:
    """Reads on this thread meanwhile stop once ``gave_up()`` is true, raising :class:`ReadCancelled`.

    A backed read converts the transcript again (seconds near the end of a huge one); a viewer's worker that
    was replaced by a newer request, or an app quitting, would otherwise wait for it to the end: the quit
    for seconds, and a newer read behind the backing's lock. The scope rides with the thread, so no API
    between the reader and the backing changes."""
    token = _gave_up.set(gave_up)
    try:
        yield
    finally:
        _gave_up.reset(token)


def gave_up() -> Callable[[], bool] | None:
    """The check of the innermost :func:`cancellable` around this thread's read; None outside one."""
    return _gave_up.get()


class Backing(Protocol):
    """Where a rebuilt history can be read again (a transcript, ``files/backing.py``): the relay keeps
    each event's place there, not the event, and reads events back on demand."""

    #: Why the last ``read`` failed (the file was replaced or truncated), for the notice.
    problem: str | None

    @property
    def hashes(self) -> Sequence[int]:
        """Each entry's ``event_key``, in ``keep`` order: what the relay matches events it spills with."""
        ...

    def keep(self, at: int, ev: Event) -> None:
        """The next event of the history, ``ev``, came from the record at byte ``at``."""
        ...

    def extend(self, at: Sequence[int], keys: Sequence[int]) -> None:
        """:meth:`keep` for many at once (``keys``: their ``event_key``): what indexing a history does."""
        ...

    def __len__(self) -> int: ...

    def read(self, start: int, stop: int) -> list[Event] | None:
        """Events ``start`` … ``stop - 1`` (in ``keep`` order) as first converted; None if the source is no
        longer the one indexed (``problem`` says why); from any thread. Raises :class:`ReadCancelled`
        when the thread's :func:`cancellable` check gives up first."""
        ...


class HistoryBuilder(Protocol):
    """A session's history being rebuilt (the relay's ``relay.history.Rebuild``)."""

    def add(self, events: list[Event], at: list[int] | None = None) -> None:
        """Events in file order; from one thread at a time, not necessarily the relay's. With a backing
        (``HistoryHost.begin``), ``at[i]`` is where ``events[i]`` can be read again (-1: nowhere)."""
        ...

    def prepare(self) -> None:
        """In the worker, when the conversion has caught up: do what the commit can be spared."""
        ...

    def commit(self, superseded: Collection[str]) -> None:
        """On the relay's loop: the history is complete; ``superseded`` ids were only provisional."""
        ...

    def abandon(self) -> None: ...


class HistoryHost(Protocol):
    """What a relay offers a source that rebuilds a session's history (``relay.history.RelayHistoryHost``)."""

    #: Seconds to wait after the newest events went out before the rebuild starts (a viewer drawing its
    #: first frame in this process); 0: at once.
    index_after: float

    def begin(self, session: str, backing: Backing | None = None) -> HistoryBuilder:
        """A builder; with ``backing``, the history is kept there and read back on demand, not held."""
        ...

    def progress(self, session: str, fraction: float | None) -> None:
        """On the relay's loop: how much of the earlier history is indexed; None when done or dropped."""
        ...

    def follow(self, session: str, backing: Backing) -> None:
        """On the relay's loop: ``session``'s events from now on may be kept in ``backing`` too (a file
        followed from its start): the relay forgets those that leave its working set, not copies them."""
        ...


@runtime_checkable
class HistorySource(Protocol):
    """A source that can hand a session's earlier history over in the background (a huge transcript)."""

    def bind_history(self, host: HistoryHost) -> None:
        """Called once before ``run``: the relay takes rebuilt histories through ``host``."""
        ...


@runtime_checkable
class StatusSource(Protocol):
    """A source with its own word on whether a session is live (a remote relay's)."""

    def session_status(self, session: str) -> tuple[bool, str | None] | None:
        """(live, state) for ``session``, or None to let the relay judge; from any thread, reads only."""
        ...

    def on_status_change(self, changed: Callable[[], None]) -> None:
        """Called once before ``run``: ``changed()`` on the relay's loop whenever that word changes."""
        ...


@runtime_checkable
class OriginSource(Protocol):
    """A source whose sessions come from elsewhere: a remote relay's, or a hub's edge."""

    def session_origin(self, session: str) -> Origin | None:
        """Where ``session`` comes from, or None if not from this source; from any thread, reads only.

        A change is told as a status change is (``StatusSource.on_status_change``).
        """
        ...
