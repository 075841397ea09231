"""Copying the selected row: its readable text on ``c``, each part and the JSON lines from the palette,
and the text or the raw events written to a file.

The base of :class:`~watchkeeper.viewer.screens.session.SessionScreen`; what
a part says is :mod:`~watchkeeper.viewer.model.row_text`'s, where it goes and
what the toast says is :mod:`~watchkeeper.viewer.clipboard`'s.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from functools import partial

import orjson
from textual.screen import Screen

from ...protocol import Event, ToolCall
from .. import clipboard
from ..model import row_text
from ..model.event_log import NotRead
from ..palette import PaletteCommand
from ..widgets.timeline import Timeline


class RowCopyScreen(Screen[None]):
    """A screen with a timeline whose selected row can be copied or written out."""

    #: (chunk, row, the action to do again): an action on the selected row that waits for its events to be read.
    _after_read: tuple[int, int, Callable[[], None]] | None = None

    def _selected_row(self, retry: Callable[[], None]) -> tuple[Event, ToolCall | None, list[Event]] | None:
        """The selected row's head event, call and events; None (said in a toast) while they are read,
        ``retry`` then done again when they land."""
        timeline = self.query_one(Timeline)
        head = timeline.selected_head
        if head is None:
            self.notify("Nothing selected", severity="warning")
            return None
        store = timeline.store
        try:
            with store.events.no_wait():
                return store.head_event(head), store.call_of(head), store.row_events(head)
        except NotRead as missing:
            text, role = timeline.reads.note(head, missing)
            if missing.failed is None:
                self._after_read = (missing.chunk, head, retry)
                text += " — done as soon as it is read"
            self.notify(text, severity="error" if role == "error" else "information")
            return None

    def _part(self, what: str, retry: Callable[[], None]) -> str | None:
        row = self._selected_row(retry)
        if row is None:
            return None
        text = dict(row_text.parts(*row)).get(what)
        if not text:
            self.notify(f"The selected row has no {what}", severity="warning")
        return text

    def send_to_clipboard(self, what: str, text: str) -> None:
        """``text`` to the terminal's clipboard (OSC 52); the toast says it was sent, or why it will not arrive."""
        self.app.copy_to_clipboard(text)
        note, warn = clipboard.sent_note(what, text, clipboard.tmux_set_clipboard())
        self.notify(note, title="Copy", severity="warning" if warn else "information", timeout=12 if warn else 6)

    def action_copy(self) -> None:
        """The row's readable text: the command and its output, the message."""
        self.action_copy_part("text")

    def action_copy_part(self, what: str) -> None:
        text = self._part(what, partial(self.action_copy_part, what))
        if text:
            self.send_to_clipboard("row's text" if what == "text" else what, text)

    def action_write_text(self) -> None:
        """The row's readable text, exactly as ``c`` copies it, to a new private file; the toast names it."""
        text = self._part("text", self.action_write_text)
        if not text:
            return
        try:
            path = clipboard.write_text(text)
        except OSError as e:
            self.notify(f"Not written: {e}", severity="error")
            return
        self.notify(f"Wrote the row's text ({len(text.encode()):,} bytes) to {path}", title="Row text", timeout=20)

    def action_write_raw(self) -> None:
        """The row's events as they came, unescaped, to a new private file (0600); the toast says where."""
        row = self._selected_row(self.action_write_raw)
        if row is None:
            return
        events = row[2]
        data = b"".join(orjson.dumps(e, default=str, option=orjson.OPT_APPEND_NEWLINE) for e in events)
        try:
            fd, path = tempfile.mkstemp(prefix="watchkeeper-row-", suffix=".jsonl")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            self.notify(f"Not written: {e}", severity="error")
            return
        self.notify(f"Wrote {len(events)} event{'s' if len(events) != 1 else ''} as received "
                    f"(JSON lines, {len(data):,} bytes) to {path}", title="Raw row", timeout=20)

    def copy_commands(self) -> list[PaletteCommand]:
        """The palette's copy choices for the selected row."""
        return [
            ("Copy row text", "The selected row's readable text: the command and its output, the message (c)",
             self.action_copy),
            ("Copy command", "Only the selected call's command (or input)", self._copy_input),
            ("Copy output", "Only the selected call's output", partial(self.action_copy_part, "output")),
            ("Copy as JSON lines", "The selected row's protocol events, controls shown escaped",
             partial(self.action_copy_part, "JSON lines")),
            ("Write row text to a file", "The readable text, exactly as copied, to a new file it names",
             self.action_write_text),
            ("Write raw row to a file", "The selected row's events, unescaped, to a new file (W)",
             self.action_write_raw),
        ]

    def _copy_input(self) -> None:
        row = self._selected_row(self._copy_input)
        if row is None:
            return
        call = row[1]
        self.action_copy_part("command" if call is not None and call.name in row_text.SHELLS else "input")
