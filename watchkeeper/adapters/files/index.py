"""Line offsets of huge files, found from the end: where to start reading a file tail-first.

Toolong's trick, for JSONL transcripts: memory-map the file and look for
newlines with ``rfind`` from where the reading should start, so finding the
last lines of a 1 GB file touches a few pages, not the gigabyte. ``head``
reads the first lines, which name the session (its id, title, cwd, model);
``tail_start`` is where the last ``nbytes`` begin, on a line boundary.
Nothing here knows any transcript format.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from ...protocol.codec import BOM

#: Files at least this big are opened tail-first (when a relay can take the rebuilt history).
TAIL_FIRST_BYTES = 32 << 20
#: How much of a file's end is converted first: ~400 events, ten screens, while the rest is indexed (4 MB
#: took ~0.1 s of CPU, converted and folded into the timeline, before the first screen).
TAIL_BYTES = 1 << 20
#: Most bytes ``head`` reads: a first record bigger than this is left to the tail (or the full read).
HEAD_BYTES = 1 << 20
#: Most lines ``head`` reads (the Claude Code converter holds at most 64 lines back before its first event).
HEAD_LINES = 65


def line_start(mm: mmap.mmap | bytes, pos: int) -> int:
    """The offset where the line holding byte ``pos`` starts (0 for the first line)."""
    if pos <= 0:
        return 0
    return mm.rfind(b"\n", 0, min(pos, len(mm))) + 1


def head(path: Path | str, max_lines: int = HEAD_LINES, max_bytes: int = HEAD_BYTES) -> list[tuple[int, bytes]]:
    """The first complete lines (without newlines) with their offsets, at most ``max_lines`` / ``max_bytes``."""
    with open(path, "rb") as f:
        data = f.read(max_bytes)
    out: list[tuple[int, bytes]] = []
    at = len(BOM) if data.startswith(BOM) else 0
    while len(out) < max_lines:
        nl = data.find(b"\n", at)
        if nl < 0:
            break
        out.append((at, data[at:nl]))
        at = nl + 1
    return out


def tail_start(path: Path | str, nbytes: int, not_before: int = 0) -> int:
    """Where reading must start to get (about) the last ``nbytes`` as whole lines; never before ``not_before``.

    The start of the line that holds the byte ``nbytes`` from the end, so a
    last line longer than ``nbytes`` is still read whole.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= nbytes or size <= not_before:
            return max(0, min(not_before, size))
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return max(not_before, line_start(mm, size - nbytes))


def file_size(path: Path | str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
