"""Hostile text and a terminal that records what the app writes, for the hostile-text tests.

``CapturingDriver`` is Textual's headless driver that says it is not headless, so
the app renders every frame through ``write`` as it would to a real terminal;
the frames are kept as the bytes a terminal would receive. ``effects`` lists
whatever in them is not Textual's own output.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

from textual.drivers.headless_driver import HeadlessDriver

from watchkeeper.protocol import Emit, Event

#: Terminal controls an agent's text might carry; each is a field's first piece (no whitespace in them).
HOSTILE_FIRST = (
    "\x1b]0;OWNED-TITLE\x07",
    "\x1b]2;OWNED-TITLE\x1b\\",
    "\x1b]52;c;T1dORUQtQ0xJUA==\x07",
    "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\",
    "\x1bP1$r0m\x1b\\",
    "\x1b[2J\x1b[H",
    "\x1b[201~",
    "\x1b[31mred\x1b[0m",
    "\x9b2J",
    "\x9d0;OWNED\x9c",
    "\x90q\x9c",
    "\u202eevil",
    "\u2066iso\u2069",
    "\x00\x07\x08\x7f",
    "[/]",
    "[/src]",
    "[@click=app.quit]x[/]",
    "[b]bold[/b]",
)
#: What may follow a first piece: the same, and line-moving controls.
HOSTILE = (*HOSTILE_FIRST, "\r\x1b[K", "\n\x1b[1A", "\x1b7\x1b8", "\x1bc")

#: Textual's own output: colours and attributes (SGR), cursor moves, the pointer shape, the bell
#: (the app rings it when a session starts waiting for the person).
TEXTUAL_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\d+;\d+H|\x1b\]22;[a-z-]+\x07|\x07")
#: What no byte the app writes may be, once Textual's own sequences are taken out.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def capturing(into: list[str]) -> type[HeadlessDriver]:
    """A driver class whose output (every frame, every sequence) is appended to ``into``."""

    class CapturingDriver(HeadlessDriver):
        @property
        def is_headless(self) -> bool:
            return False

        def write(self, data: str) -> None:
            into.append(data)

    return CapturingDriver


def effects(out: str) -> list[str]:
    """What in ``out`` a terminal would act on beyond Textual's own sequences, each with its context."""
    rest = TEXTUAL_OWN.sub("", out)
    return [repr(rest[max(0, m.start() - 20):m.end() + 20]) for m in FORBIDDEN.finditer(rest)]


def shown_text(out: str) -> str:
    """The text the terminal shows, in write order (Textual's own sequences taken out)."""
    return TEXTUAL_OWN.sub("", out)


class LiveSource:
    """Emits its events, then stays: the relay counts its sessions live, as a running agent's."""

    def __init__(self, name: str, events: Iterable[Event]) -> None:
        self.name = name
        self.events = list(events)

    async def run(self, emit: Emit) -> None:
        emit(self.events)
        await asyncio.Event().wait()
