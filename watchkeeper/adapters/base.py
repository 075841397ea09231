"""What every transcript adapter provides: a converter from lines to events."""

from __future__ import annotations

from typing import Protocol

from ..protocol import Event


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
