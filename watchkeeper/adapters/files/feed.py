"""One transcript file read incrementally, and a session's files together: lines in, events out, no waiting.

``FileFeed`` pairs a file's tailer with the converter that ``registry.detect()``
picks from its first line; ``TranscriptReader`` reads a session's main file and
(for Claude Code) its subagent files, one chunk at a time. The live and the
tail-first readers (``source.py``, ``tailfirst.py``) are built on these;
``convert_file`` is the one-shot conversion of a whole session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ...protocol import Event, Kind, content_id, make_event, raw_event
from ...protocol.envelope import iso
from ..base import Converter
from ..claude_code import subagent_files
from ..registry import detect
from .tail import CHUNK, Tailer, open_regular

CLAUDE_CODE = "claude-code"


# --- one file: its tailer and its converter ----------------------------------


class _Unreadable:
    """Stands in when no adapter can read a file: a notice, then every line kept as ``raw``."""

    def __init__(self, path: Path, agent_kind: str, why: str) -> None:
        self.agent_kind = agent_kind
        self.session = path.stem
        self.path = path
        self.why = why
        self._told = False
        #: The file's last write stands for when its lines happened: it says nothing of its own.
        self.ts = written_at(path)

    def feed(self, line: bytes, offset: int) -> list[Event]:
        out: list[Event] = []
        if not self._told:
            self._told = True
            data = {"level": "warning", "text": f"{self.path}: {self.why}", "code": "no-adapter"}
            nid = f"notice:{self.session}:{content_id(self.why)}"
            out.append(make_event(nid, self.session, Kind.NOTICE, data, ts=self.ts))
        if line.strip():
            out.append(raw_line(self.session, line, offset, self.why, self.path, self.ts))
        return out

    def finish(self) -> list[Event]:
        return []


def written_at(path: Path) -> str | None:
    """When ``path`` was last written (ISO-8601), or None if it cannot be told."""
    try:
        return iso(datetime.fromtimestamp(path.stat().st_mtime, UTC))
    except (OSError, ValueError, OverflowError):
        return None


def raw_line(session: str, line: bytes, offset: int, error: str, path: Path, ts: str | None = None) -> Event:
    """A line no converter could use, kept as ``raw`` with an id from its place and bytes."""
    ev = raw_event(session, line, error, str(path), ts)
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
    """The kind of agent that wrote a file, or "unknown" while it is empty (or not a regular file)."""
    try:
        with os.fdopen(open_regular(path), "rb") as f:
            first = f.readline(65536)
    except OSError:
        return "unknown"
    spec = detect(path, first) if first else None
    return spec.agent_kind if spec else "unknown"


class Follows(Protocol):
    """Where a feed's events can be read again (``backing.TranscriptBacking``), told of each as it is read."""

    def follow(self, events: list[Event], at: list[int], session: str) -> None: ...


class FileFeed:
    """One transcript file read incrementally: its tailer, and its converter once its first line is known.

    The first line picks the adapter (a native recording looks like any other
    ``.jsonl`` until then); a reset starts a fresh converter on the re-read.
    With a ``backing`` (a file followed after its history was indexed), every event read is kept
    there too, until a reset (another file's events could not be read back from there).
    """

    def __init__(self, path: Path, chunk_size: int = CHUNK, session: str | None = None) -> None:
        self.path = path
        self.tailer = Tailer(path, chunk_size=chunk_size)
        self.converter: Converter | None = None
        self.backing: Follows | None = None
        self.finished = False
        #: Times the file was found replaced or truncated (and read again from the start).
        self.resets = 0
        #: The session a notice about the file goes to before a converter knows (a subagent file's parent).
        self._session = session
        #: Why the file could not be read, as last told: a notice says it once, and again if it changes.
        self.problem: str | None = None

    @property
    def session(self) -> str:
        if self.converter is None:
            return self._session or self.path.stem
        return str(getattr(self.converter, "session", self.path.stem))

    def read(self, final: bool = False, at: list[int] | None = None) -> tuple[list[Event], bool]:
        """Events of one chunk, and whether more is waiting; ``final`` flushes the file's end.

        With ``at``, the offset of the record each event came from is appended to it (-1: none, the
        file's end); ``backing.py`` reads them again from there.
        """
        if self.finished:
            return [], False
        r = self.tailer.read(final)
        if r.reset:
            self.converter = None
            self.backing = None
            self.resets += 1
        if self.backing is not None and at is None:
            at = []
        out: list[Event] = []
        base = len(at) if at is not None else 0
        lines = r.lines
        converter = self.converter
        if lines and converter is None:
            converter = self.converter = open_converter(self.path, lines[0][1])
        if lines and converter is not None:
            feed = converter.feed  # every line of the file passes here
            for offset, line in lines:
                try:
                    got = feed(line, offset)
                except Exception as e:
                    got = [raw_line(self.session, line, offset, f"converter failed: {e!r}", self.path)]
                if got:
                    out += got
                    if at is not None:
                        at += [offset] * len(got)
        if final and not r.more:
            self.finished = True
            if self.converter is not None:
                try:
                    out += self.converter.finish()
                except Exception as e:
                    out.append(raw_line(self.session, b"", self.tailer.offset,
                                    f"converter failed at the end: {e!r}", self.path))
        if r.problem != self.problem:
            self.problem = r.problem
            if r.problem:
                out.append(self._notice(r.problem))
        if at is not None:
            at += [-1] * (base + len(out) - len(at))
            if self.backing is not None:
                self.backing.follow(out, at[base:], self.session)
        return out, r.more

    def _notice(self, problem: str) -> Event:
        """The file is there but cannot be read (a FIFO, no permission): said, not skipped in silence."""
        text = f"{self.path}: {problem}; not read"
        data = {"level": "warning", "text": text, "code": "unreadable-file"}
        return make_event(f"notice:{self.session}:{content_id(text)}", self.session, Kind.NOTICE, data)


# --- one session: the main file and its subagent files -------------------------


class TranscriptReader:
    """A session's files read incrementally, without I/O waits: the core of ``source.TranscriptSource``.

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
                self.feeds[p] = FileFeed(p, self.chunk_size, session=self.main.session)
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
    for events in convert_chunks(path):
        yield from events


def convert_chunks(path: Path | str) -> Iterator[list[Event]]:
    """:func:`convert_file` a chunk of the file at a time: a list per chunk, for a caller on the hot path."""
    reader = TranscriptReader(path)
    reader.rescan()
    more = True
    while more:
        events, more = reader.poll(final=True)
        yield events
