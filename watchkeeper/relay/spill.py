"""History beyond a working set, on disk: a session's log and the all-sessions journal as sequences
that keep their newest events in memory and read older ones back on demand.

A relay that runs for days at thousands of events a second cannot keep every
event (~1.3 KB each in memory): each session keeps its newest ``keep`` events as
dicts, and no more than ``keep_bytes`` of them (``window.py``: an agent's events may
be 4 MB each), and writes older ones, as watchkeeper's native JSON lines, to a
private spill file (``Spool``: a 0700 directory of 0600 files, deleted when the relay
stops or the process exits; one left by a killed process is removed by the next spool
made there), with an 8-byte offset per ``STRIDE`` events. Reading any seq back is one ``pread`` and one
``orjson.loads`` per event: ``log[a:b]`` is the same list of dicts whether it came
from memory or from disk, so subscribers (``fanout.py``), range reads and resumes
are served the same way, only slower for what is on disk.

The journal (every session, arrival order) keeps its spilled entries as runs of
consecutive seqs of one session (20 bytes a run: one per switch between sessions),
and reads entries back through the sessions' logs.

A spill file that cannot be written is reported once and the events stay in
memory: nothing is lost, memory is then what bounds it.

A rebuilt history whose source can read it again (a transcript) is not written at all:
``SpillLog.back`` makes its seqs a segment read from there (``segment.py``).

Whatever pushes a session onward (a viewer resuming, an edge pushing to a hub) needs
no spool of its own: any seq it has not had acknowledged is still here, by seq
(``read_range``, ``subscribe(from_seq=…)``), in memory or on disk; across the process's
restart, recorded sessions' unacknowledged tails are read back from their recordings (``owed.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from ..config import alive
from ..protocol import Event
from .segment import Lost, Piece, Segment, Segmented, joined
from .spill_lines import decode, decode_block, encode
from .window import DEFAULT_KEEP, DEFAULT_KEEP_BYTES, Window

#: One byte offset kept per this many spilled events (a read starts at the one before and skips lines).
STRIDE = 32


class SpillFile:
    """One append-only file of JSON lines; ``read`` (``pread``) is safe from any thread."""

    __slots__ = ("_fd", "path", "size")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.size = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.size += len(data)

    def read(self, start: int, stop: int) -> bytes:
        return os.pread(self._fd, stop - start, start)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def runtime_base() -> str | None:
    """``$XDG_RUNTIME_DIR`` when it is usable (a per-user tmpfs on most systems), else the temp directory."""
    run = os.environ.get("XDG_RUNTIME_DIR")
    return run if run and os.path.isdir(run) and os.access(run, os.W_OK) else None


PREFIX = "watchkeeper-spool-"


def remove_stale(parent: Path) -> list[Path]:
    """Remove the spools of processes that are gone (killed before they could remove their own)."""
    removed = []
    for path in parent.glob(f"{PREFIX}*"):
        pid = path.name[len(PREFIX):].partition("-")[0]
        if not pid.isdigit() or alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            if path.stat().st_uid == os.geteuid():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


class Spool:
    """The spill files of one relay: a 0700 directory made on first use, removed (with its files) on ``close``."""

    def __init__(self, parent: str | os.PathLike[str] | None = None) -> None:
        self._parent = parent
        self.directory: Path | None = None
        self._files: list[SpillFile] = []
        self._n = 0
        self._closed = False

    def open(self) -> SpillFile:
        if self._closed:
            raise OSError("the relay's spool is closed")
        if self.directory is None:
            parent = self._parent if self._parent is not None else runtime_base()
            self.directory = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
            remove_stale(self.directory.parent)
            os.chmod(self.directory, 0o700)
            atexit.register(self.close)
        self._n += 1
        f = SpillFile(self.directory / f"{self._n}.jsonl")
        self._files.append(f)
        return f

    def close(self) -> None:
        self._closed = True
        for f in self._files:
            f.close()
        self._files.clear()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            atexit.unregister(self.close)


class Recording(Protocol):
    """Where a session is already written in seq order from seq 0 (``recorder.Recorder``): spilling it
    is then only forgetting it, and it is read back from there — one copy on disk, not two."""

    def covered(self, session: str) -> int:
        """How many seqs from 0 are written (and flushed) for ``session``."""
        ...

    def lines(self, session: str, start: int, stop: int) -> list[bytes]: ...


class SpillLog(Segmented, Window):
    """A session's events by seq (``log[seq]`` is the event numbered ``seq``): newest in memory, older on disk.

    Supports what the book and subscribers use of a list: ``len``, slices, ``append``, ``extend``.
    Spilled seqs below ``recorded`` are read from the session's recording, those in a ``segments`` from
    its backing, the others from the spill file.
    """

    __slots__ = ("_backed", "_failed", "_file", "_lost", "_next_entry", "_open", "_report", "keep", "offsets",
                 "recorded", "recording", "segments", "session")

    def __init__(self, open_file: Callable[[], SpillFile] | None, keep: int = DEFAULT_KEEP,
                 report: Callable[[str], None] | None = None, session: str = "",
                 recording: Recording | None = None, lost: Lost | None = None,
                 keep_bytes: int = DEFAULT_KEEP_BYTES) -> None:
        super().__init__(keep_bytes)
        #: spilled ranges read from a backing, in seq order; ``_backed``: how many seqs they hold.
        self.segments: list[Segment] = []
        self._backed = 0
        #: the entry of the last segment's backing that the next event spilled may be (``segment.backed_run``).
        self._next_entry = 0
        self._lost = lost
        #: byte offset in the spill file of every ``STRIDE``-th spilled seq from ``recorded`` on.
        self.offsets = array("q")
        self.keep = keep
        self.session = session
        self.recording = recording
        #: spilled seqs below this are read from ``recording``.
        self.recorded = 0
        self._open = open_file
        self._file: SpillFile | None = None
        self._report = report
        self._failed = False

    @property
    def spilled(self) -> int:
        """How many of the oldest events are on disk."""
        return self.base

    def spill(self, most: int | None = None, everything: bool = False) -> int:
        """Past ``keep`` and its ``slack`` or past ``keep_bytes`` (``window.Window.excess``), write the oldest to
        disk (at most ``most``); how many.

        ``everything``: all of ``mem``, whatever ``keep`` says (before a segment is appended).
        """
        rec = self.recording
        forgets = rec is not None and self.recorded == self.base
        if (self._open is None or self._failed) and not forgets and not self.segments:
            return 0  # nowhere to put them: memory bounds them (said once, when the file failed)
        mem = self.mem
        n = len(mem) if everything else self.excess(self.keep)
        if n <= 0:
            return 0
        if most is not None:
            n = min(n, most)
        if forgets:
            assert rec is not None
            covered = rec.covered(self.session)
            if covered >= self.base + n:
                self.forget(n)
                self.base += n
                self.recorded = self.base
                return n
            if (covered > self.base and len(mem) < 2 * self.keep and self.nbytes < 2 * self.keep_bytes
                    and most is None and not everything):
                return 0  # the recording is a flush behind: wait for it rather than write a second copy
        i = 0
        while i < n:
            k = self._back_run(mem, i, n)
            if not k:
                j = i + 1 if self.segments else n
                while j < n and not self._starts_run(mem[j]):
                    j += 1
                if not self._write(mem[i:j]):
                    break
                k = j - i
            i += k
        self.forget(i)
        return i

    def _write(self, events: list[Event]) -> bool:
        """``events`` (the next seqs from ``base`` on) to the spill file; False if it cannot be written."""
        if self._open is None or self._failed:
            return False
        try:
            f = self._file
            if f is None:
                f = self._file = self._open()
            lines = encode(events)
            at = f.size
            offsets = self.offsets
            had = len(offsets)
            for j, line in enumerate(lines, self.base - self.recorded - self._backed):
                if not j % STRIDE:
                    offsets.append(at)
                at += len(line)
            try:
                f.write(b"".join(lines))
            except BaseException:
                del offsets[had:]
                raise
        except OSError as e:
            self._failed = True
            if self._report is not None:
                self._report(f"cannot spill history to disk, keeping it in memory: {e}")
            return False
        self.base += len(events)
        return True

    def _segment(self, seg: Segment, start: int, stop: int, lines: bool) -> list[Event] | list[bytes]:
        events = seg.read(start, stop, self.session, self._report, self._lost)
        return [line[:-1] for line in encode(events)] if lines else events

    def _plain(self, start: int, stop: int, below: int, lines: bool) -> list[Event] | list[bytes]:
        if not lines and start >= self.recorded:
            return decode_block(self._block(start, stop, below), stop - start)
        raw = self._raw(start, stop, below)
        return raw if lines else decode(raw)

    def _block(self, start: int, stop: int, below: int) -> memoryview:
        """Seqs from the spill file as one block of lines, each with its newline (see :meth:`_raw`); not copied."""
        f = self._file
        assert f is not None
        offsets, rec = self.offsets, self.recorded
        i, j = start - rec - below, stop - rec - below
        first, last = i // STRIDE, -(-j // STRIDE)
        data = f.read(offsets[first], offsets[last] if last < len(offsets) else f.size)
        at, end = 0, len(data)
        for _ in range(i - first * STRIDE):
            at = data.index(b"\n", at) + 1
        for _ in range(min(last * STRIDE, self.base - rec - self._backed) - j):
            end = data.rindex(b"\n", at, end - 1) + 1
        return memoryview(data)[at:end]

    def _raw(self, start: int, stop: int, below: int = 0) -> list[bytes]:
        """Seqs from the recording or the spill file (none in a segment; ``below``: segment seqs before them)."""
        out: list[bytes] = []
        rec = self.recorded
        if start < rec:
            assert self.recording is not None
            out = self.recording.lines(self.session, start, min(stop, rec))
            start = rec
        if start < stop:
            f = self._file
            assert f is not None
            offsets = self.offsets
            i, j = start - rec - below, stop - rec - below
            first, last = i // STRIDE, -(-j // STRIDE)
            end = offsets[last] if last < len(offsets) else f.size
            skip = i - first * STRIDE
            out += f.read(offsets[first], end).split(b"\n")[skip:skip + j - i]
        return out

    def _load(self, start: int, stop: int) -> list[Event]:
        return self._spilled(start, stop, lines=False)

    def read_later(self, start: int, stop: int, lines: bool = False) -> Callable[[], list[Any]]:
        """Seqs ``start`` … ``stop - 1`` (events, or JSON lines), as a call to make once the caller's lock is let
        go: what is in memory, the spill file or the recording is taken now, what a backing holds read by the
        call (see ``segment.joined``)."""
        start, stop, _ = slice(start, stop).indices(self.base + len(self.mem))
        if start >= stop:
            return list
        base = self.base
        pieces: list[Piece] = self._pieces(start, min(stop, base), lines) if start < base else []
        if stop > base:
            mem = self.mem[max(start, base) - base:stop - base]
            pieces.append([line[:-1] for line in encode(mem)] if lines else mem)
        return partial(joined, pieces)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


#: ``resolve(session, start, stop)``: that session's events by seq (its ``SpillLog`` slice).
Resolve = Callable[[str, int, int], list[Event]]


class Journal(Window):
    """Every session's events in arrival order; entries past ``keep`` are kept as runs of (session, seq)."""

    __slots__ = ("_firsts", "_index", "_names", "_resolve", "_sids", "_starts", "keep")

    def __init__(self, resolve: Resolve, keep: int = DEFAULT_KEEP, keep_bytes: int = DEFAULT_KEEP_BYTES) -> None:
        super().__init__(keep_bytes)
        self.keep = keep
        #: per run: the journal index it starts at, its session (index into ``_names``), its first seq.
        self._starts = array("q")
        self._sids = array("i")
        self._firsts = array("q")
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._resolve = resolve

    def _load(self, start: int, stop: int) -> list[Event]:
        out: list[Event] = []
        starts, sids, firsts, names, base = self._starts, self._sids, self._firsts, self._names, self.base
        i = start
        r = bisect_right(starts, i) - 1
        while i < stop:
            run_end = starts[r + 1] if r + 1 < len(starts) else base
            upto = min(stop, run_end)
            first = firsts[r] + (i - starts[r])
            out += self._resolve(names[sids[r]], first, first + (upto - i))
            i = upto
            r += 1
        return out

    def spill(self, everything: bool = False) -> int:
        """Past ``keep`` and its ``slack`` or past ``keep_bytes`` (or ``everything``), forget the oldest entries'
        events (their sessions' logs hold them)."""
        mem = self.mem
        n = len(mem) if everything else self.excess(self.keep)
        if n <= 0:
            return 0
        at = self.base
        for ev in mem[:n]:
            self._run(ev.get("session") or "unknown", ev["seq"], at)
            at += 1
        self.forget(n)
        self.base += n
        return n

    def _run(self, sid: str, seq: int, at: int) -> None:
        """Entry ``at`` is ``sid``'s ``seq``: it extends the last run or starts one."""
        index, names, starts, sids, firsts = self._index, self._names, self._starts, self._sids, self._firsts
        i = index.get(sid)
        if i is None:
            i = index[sid] = len(names)
            names.append(sid)
        if not starts or sids[-1] != i or firsts[-1] + (at - starts[-1]) != seq:
            starts.append(at)
            sids.append(i)
            firsts.append(seq)

    def extend_seqs(self, session: str, seqs: Iterable[int]) -> int:
        """Entries for ``session``'s ``seqs`` (held by its log, not here), after everything in memory is
        forgotten: a backed history (``SpillLog.back``) joins the journal without its events."""
        self.spill(everything=True)
        at = self.base
        for seq in seqs:
            self._run(session, seq, at)
            at += 1
        n = at - self.base
        self.base = at
        return n
