"""Transcript files as event sources: one-shot conversion, live follow, and new sessions as they appear.

A source has a ``name`` and ``async run(emit)``; the relay runs it on its own
loop and ``emit`` takes a batch of events (all the events of one read). The
tailer (``tail.py``) finds the lines, and the adapter that ``registry.detect()``
picks turns them into events; a Claude Code session brings its subagent files along.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..protocol import Emit, Event, Kind, content_id, make_event, raw_event
from .base import Converter
from .claude_code import subagent_files
from .index import TAIL_BYTES, TAIL_FIRST_BYTES
from .registry import detect
from .tail import CHUNK, Tailer, Watch, shared_watcher

if TYPE_CHECKING:
    from .tailfirst import HistoryHost

log = logging.getLogger(__name__)

CLAUDE_CODE = "claude-code"
#: Seconds between looks when the watcher says nothing: the fallback if notifications are lost.
POLL_INTERVAL = 1.0
#: Seconds between fallback looks for new subagent files (the watcher reports them at once).
RESCAN_INTERVAL = 3.0


class Source(Protocol):
    name: str

    async def run(self, emit: Emit) -> None:
        """Emit batches until cancelled, or, for a one-shot source, until done."""
        ...


# --- one file: its tailer and its converter ----------------------------------


class _Unreadable:
    """Stands in when no adapter can read a file: a notice, then every line kept as ``raw``."""

    def __init__(self, path: Path, agent_kind: str, why: str) -> None:
        self.agent_kind = agent_kind
        self.session = path.stem
        self.path = path
        self.why = why
        self._told = False

    def feed(self, line: bytes, offset: int) -> list[Event]:
        out: list[Event] = []
        if not self._told:
            self._told = True
            data = {"level": "warning", "text": f"{self.path}: {self.why}", "code": "no-adapter"}
            nid = f"notice:{self.session}:{content_id(self.why)}"
            out.append(make_event(nid, self.session, Kind.NOTICE, data))
        if line.strip():
            out.append(_raw(self.session, line, offset, self.why, self.path))
        return out

    def finish(self) -> list[Event]:
        return []


def _raw(session: str, line: bytes, offset: int, error: str, path: Path) -> Event:
    ev = raw_event(session, line, error, str(path))
    ev["id"] = f"raw:{session}:{offset}:{content_id(line)}"
    return ev


def open_converter(path: Path, first_line: bytes | None = None) -> Converter:
    """The converter for a file, as ``registry.detect()`` decides; never raises."""
    spec = detect(path, first_line)
    if spec is None:
        return _Unreadable(path, "unknown", "no adapter reads this file")
    try:
        return spec.converter(path)
    except Exception as e:
        return _Unreadable(path, spec.agent_kind, f"the {spec.agent_kind} adapter failed to load: {e!r}")


def agent_kind_of(path: Path) -> str:
    """The kind of agent that wrote a file, or "unknown" while it is empty."""
    try:
        with path.open("rb") as f:
            first = f.readline(65536)
    except OSError:
        return "unknown"
    spec = detect(path, first) if first else None
    return spec.agent_kind if spec else "unknown"


class FileFeed:
    """One transcript file read incrementally: its tailer, and its converter once its first line is known.

    The first line picks the adapter (a native recording looks like any other
    ``.jsonl`` until then); a reset starts a fresh converter on the re-read.
    """

    def __init__(self, path: Path, chunk_size: int = CHUNK) -> None:
        self.path = path
        self.tailer = Tailer(path, chunk_size=chunk_size)
        self.converter: Converter | None = None
        self.finished = False
        #: Times the file was found replaced or truncated (and read again from the start).
        self.resets = 0

    @property
    def session(self) -> str:
        return str(getattr(self.converter, "session", self.path.stem))

    def read(self, final: bool = False) -> tuple[list[Event], bool]:
        """Events of one chunk, and whether more is waiting; ``final`` flushes the file's end."""
        if self.finished:
            return [], False
        r = self.tailer.read(final)
        if r.reset:
            self.converter = None
            self.resets += 1
        out: list[Event] = []
        for offset, line in r.lines:
            if self.converter is None:
                self.converter = open_converter(self.path, line)
            try:
                out += self.converter.feed(line, offset)
            except Exception as e:
                out.append(_raw(self.session, line, offset, f"converter failed: {e!r}", self.path))
        if final and not r.more:
            self.finished = True
            if self.converter is not None:
                try:
                    out += self.converter.finish()
                except Exception as e:
                    out.append(_raw(self.session, b"", self.tailer.offset,
                                    f"converter failed at the end: {e!r}", self.path))
        return out, r.more


# --- one session: the main file and its subagent files -------------------------


class TranscriptReader:
    """A session's files read incrementally, without I/O waits: the core of :class:`TranscriptSource`.

    Each ``poll`` reads at most one chunk per file and stops at the first file
    with more to read, so a file is read through before the next one starts:
    the main file first, then subagent files in their listed order.
    """

    def __init__(self, path: Path | str, chunk_size: int = CHUNK) -> None:
        self.path = Path(path)
        self.chunk_size = chunk_size
        self.main = FileFeed(self.path, chunk_size)
        self.feeds: dict[Path, FileFeed] = {self.path: self.main}
        self._kind = "unknown"

    @property
    def agent_kind(self) -> str:
        """Known once the main file has a line; only a Claude Code session has subagent files."""
        if self._kind == "unknown":
            conv = self.main.converter
            self._kind = str(getattr(conv, "agent_kind", "unknown")) if conv else agent_kind_of(self.path)
        return self._kind

    def rescan(self) -> bool:
        """Pick up subagent files that appeared; True if any did."""
        if self.agent_kind != CLAUDE_CODE:
            return False
        found = False
        for p in subagent_files(self.path):
            if p not in self.feeds:
                self.feeds[p] = FileFeed(p, self.chunk_size)
                found = True
        return found

    def poll(self, final: bool = False) -> tuple[list[Event], bool]:
        out: list[Event] = []
        for feed in list(self.feeds.values()):
            events, more = feed.read(final)
            out += events
            if more:
                return out, True
        return out, False

    def finish(self) -> list[Event]:
        """The files ended: the last lines without a newline, and what the converters held back."""
        out: list[Event] = []
        more = True
        while more:
            events, more = self.poll(final=True)
            out += events
        return out

    def watch_dirs(self) -> list[Path]:
        """Where a change may concern this session (existing or not yet)."""
        dirs = {self.path.parent}
        if self.agent_kind == CLAUDE_CODE:
            own = self.path.parent / self.path.stem
            dirs |= {own, own / "subagents"}
            dirs |= {p.parent for p in self.feeds}
        return sorted(dirs)

    def concerns(self, path: str) -> bool:
        p = Path(path)
        if p in self.feeds:
            return True
        if self.agent_kind != CLAUDE_CODE:
            return False
        own = self.path.parent / self.path.stem
        return p == own or own in p.parents or (p.parent == self.path.parent and p.name.startswith("agent-"))


def convert_file(path: Path | str) -> Iterator[Event]:
    """All the events of a file (and of a Claude Code session's subagent files), in file order."""
    reader = TranscriptReader(path)
    reader.rescan()
    more = True
    while more:
        events, more = reader.poll(final=True)
        yield from events


async def _drain(reader: TranscriptReader, emit: Emit, final: bool = False) -> None:
    """Read until nothing is waiting, one batch per chunk, letting the loop breathe between chunks."""
    while True:
        events, more = reader.poll(final)
        if events:
            emit(events)
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
        from .tailfirst import TailFirst

        reader = TranscriptReader(self.path, self.chunk_size)
        tail_first = TailFirst.start(reader, self.history, self.tail_first, self.tail_bytes) if self.follow else None
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
                await _drain(reader, emit, final=not self.follow)
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


# --- new sessions under some directories ---------------------------------------

#: Directories that never hold sessions of their own (a session's attachments, tooling).
_NOT_SESSIONS = frozenset({"subagents", "tool-results", "node_modules", "__pycache__"})
#: Levels below a root searched for sessions: ~/.codex/sessions/YYYY/MM/DD is 3, ~/.codex is 4.
MAX_DEPTH = 5


def is_session_name(name: str) -> bool:
    """A session file, not a subagent's (``agent-*.jsonl``) nor a prompt history."""
    return name.endswith(".jsonl") and not name.startswith("agent-") and name != "history.jsonl"


def scan_sessions(root: Path) -> tuple[list[tuple[Path, float]], list[Path]]:
    """Session files under ``root`` with their mtimes, and the directories searched (to watch).

    Skips a session's own directory (``<id>/`` beside ``<id>.jsonl``: its
    subagents, tool results), hidden directories, and anything too deep.
    """
    files: list[tuple[Path, float]] = []
    dirs: list[Path] = []
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError:
            continue
        dirs.append(d)
        names = {e.name for e in entries}
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if (depth < MAX_DEPTH and e.name not in _NOT_SESSIONS and not e.name.startswith(".")
                            and f"{e.name}.jsonl" not in names):
                        stack.append((Path(e.path), depth + 1))
                elif is_session_name(e.name) and e.is_file():
                    files.append((Path(e.path), e.stat().st_mtime))
            except OSError:
                continue
    return files, dirs


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
