"""Following append-only JSONL files: a byte-offset tailer.

It knows nothing of any format: the :class:`Tailer` turns a growing file into
complete lines with their byte offsets; the directory watcher (``watch.py``)
says when to look again, and sources (``source.py``) put the two together with
a converter. No asyncio and no watchfiles here: ``watchkeeper events`` reads
files with this module alone and starts faster without them.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from ...protocol.codec import BOM

#: Bytes read per call: bounds the memory and the loop time one read of a huge append takes.
CHUNK = 1 << 20
#: Bytes kept from just before the read position; if they change, the file was rewritten in place.
_MARK = 32
#: A line's length to where the next one starts (``_split`` numbers lines in C, not in a Python loop).
_plus_newline = (1).__add__


#: What a file that is not a regular one is, by its ``stat.S_IFMT``, for the person told it is not read.
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


class NotRegularFile(OSError):
    """A transcript's name on something that is not a regular file (a FIFO, a device): never read."""


def open_regular(path: Path | str) -> int:
    """A descriptor to read ``path``, or OSError (:class:`NotRegularFile` if it is not a regular file).

    The open does not block and nothing is read before the type is checked: a FIFO
    named like a transcript would otherwise hang the open, and every file read after it,
    until something wrote to it.
    """
    return _open_regular(path)[0]


def _open_regular(path: Path | str) -> tuple[int, os.stat_result]:
    """:func:`open_regular`, with the ``fstat`` it checked (the tailer reads size and inode from it)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = _KINDS.get(stat.S_IFMT(st.st_mode), f"mode {st.st_mode:o}")
        raise NotRegularFile(errno.EINVAL, f"not a regular file ({what})", str(path))
    return fd, st


@dataclass(slots=True)
class TailRead:
    """What one :meth:`Tailer.read` found."""

    #: The file shrank or was replaced: forget what it said, ``lines`` start again at offset 0.
    reset: bool = False
    #: Complete lines (without the newline), each with the byte offset where it starts.
    lines: list[tuple[int, bytes]] = field(default_factory=list)
    #: More bytes are waiting: call again before waiting for a change.
    more: bool = False
    #: Why the file is there but could not be read (not a regular file, no permission), for the person.
    problem: str | None = None


class Tailer:
    """Complete lines of an append-only file, as it grows, from a byte offset.

    A half-written last line is held until its newline arrives. A file that
    shrank, was replaced (another inode) or was rewritten in place (the bytes
    before the offset changed) is read again from the start, and the read says
    so (``reset``): the caller starts a fresh converter, and the relay drops the
    events it already has by their stable ids. The file is opened for each read
    and closed after it, so following hundreds of sessions holds no descriptors;
    a file that is there but cannot be read (a FIFO, no permission) says why (``problem``).
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
            fd, st = _open_regular(self.path)
        except (FileNotFoundError, NotADirectoryError):
            return result  # not written yet, or gone
        except OSError as e:
            result.problem = e.strerror or str(e)
            return result
        try:
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
        if self._pos == 0 and data.startswith(BOM):  # an editor's byte order mark: not the first record's
            self._pos = self._pending_at = len(BOM)
            data = data[len(BOM):]
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
