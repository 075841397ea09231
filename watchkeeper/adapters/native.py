"""watchkeeper's own recordings: one protocol event per line, as written by the relay or the SDK."""

from __future__ import annotations

from pathlib import Path

from ..protocol import Event, decode_native_line


class NativeConverter:
    agent_kind = "native"

    def __init__(self, path: Path | None = None) -> None:
        self.source = str(path) if path else None
        self.session = path.stem if path else "unknown"

    def feed(self, line: bytes, offset: int) -> list[Event]:
        if not line.strip():
            return []
        event = decode_native_line(line, self.session, self.source)
        # A recording replays as written: drop the old run's numbering, the relay assigns its own.
        event.pop("seq", None)
        event.pop("epoch", None)
        return [event]

    def finish(self) -> list[Event]:
        return []
