"""Claude Code transcripts (``~/.claude/projects/**.jsonl``) as protocol events.

``ClaudeCodeConverter(path)`` reads one file (a session's, or one subagent's);
``subagent_files(path)`` lists the subagent files that belong to a session
file; ``convert_file(path)`` converts one whole file (for one-shot use).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ...protocol import Event
from .converter import ClaudeCodeConverter
from .records import NEWEST_KNOWN
from .subagents import identify, subagent_files


def iter_file_events(path: Path | str) -> Iterator[Event]:
    """Every event of one file, read line by line (the whole file, then ``finish``)."""
    converter = ClaudeCodeConverter(path)
    offset = 0
    with open(path, "rb") as f:
        for line in f:
            size = len(line)
            yield from converter.feed(line.rstrip(b"\r\n"), offset)
            offset += size
    yield from converter.finish()


def convert_file(path: Path | str) -> list[Event]:
    return list(iter_file_events(path))


__all__ = [
    "NEWEST_KNOWN", "ClaudeCodeConverter", "convert_file", "identify", "iter_file_events", "subagent_files",
]
