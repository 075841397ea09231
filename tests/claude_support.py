"""One Claude Code file through its converter alone: no adapter detection, no subagent files.

``watchkeeper.adapters.files.convert_file`` is what the app uses (it picks the
adapter and brings a session's subagent files along); these tests pin the
converter itself, one file at a time.
"""

from __future__ import annotations

from pathlib import Path

from watchkeeper.adapters.claude_code import ClaudeCodeConverter
from watchkeeper.protocol import Event


def file_events(path: Path | str) -> list[Event]:
    """Every event of one file, read line by line (the whole file, then ``finish``)."""
    converter = ClaudeCodeConverter(path)
    out: list[Event] = []
    offset = 0
    with open(path, "rb") as f:
        for line in f:
            out += converter.feed(line.rstrip(b"\r\n"), offset)
            offset += len(line)
    return out + converter.finish()
