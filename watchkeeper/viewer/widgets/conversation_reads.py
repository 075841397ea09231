"""Blocks of the conversation view not read yet: laid out at once, drawn as placeholders, read in a worker.

The conversation's sibling of ``timeline_reads.py``, with its idioms. A
session the relay holds keeps only its newest events in the viewer, and a read
of older ones may take seconds; the conversation lays its blocks out from the
store's columns without reading an event (``model/conversation.py``), measures
and draws inside ``events.no_wait()``, and a block whose events are not read
keeps its estimated height and is drawn as a faint ``… seq N`` line. A thread
worker (group ``blocks``, latest wins) reads the chunks those blocks missed,
nearest the selection first, then those of the blocks a screen above and
below; each chunk read posts a :class:`~.timeline_reads.RowsRead` (the screen
shows the detail pane or makes a copy waiting for it, as for the timeline's
reads) and the view repaints: the blocks read get their exact heights, the
top line staying where it was. Keys go on being handled meanwhile.

A read that failed shows on its blocks as ``seq N could not be read: why`` and
is tried again ``RETRY`` seconds later. A log whose reads are instant never
raises: such a session's conversation looks as it always did.
"""

from __future__ import annotations

from typing import Protocol

from ..model.conversation import Conversation as Blocks
from ..model.event_log import CHUNK, NotRead
from ..model.prose import Line
from .timeline_reads import ChunkReader, RowsRead, Scrolled


class Shown(Scrolled, Protocol):
    """What of the conversation view its reads use (the view imports this module, not the other way)."""

    blocks: Blocks


class BlockReads:
    """The conversation's reads of blocks not read yet: what is wanted, what is being read."""

    def __init__(self, view: Shown) -> None:
        self.view = view
        self._reader = ChunkReader(view, "blocks")

    def placeholder(self, i: int, missing: NotRead) -> list[Line]:
        """Block ``i``'s lines while its events are read, or why they could not be."""
        blocks = self.view.blocks
        self._reader.note(blocks.store.events)
        if missing.failed is None:
            self._reader.wanted.add(missing.chunk)
        return blocks.placeholder(i, missing)

    def request(self) -> None:
        """After a pass over the screen: read what its blocks missed, and those a screen above and below."""
        view, blocks = self.view, self.view.blocks
        events = blocks.store.events
        if not events.slow:
            return
        self._reader.note(events)
        first = self._reader.wanted | blocks.missed
        self._reader.wanted = set()
        blocks.missed.clear()
        near: set[int] = set()
        if blocks.blocks:
            y, h = view.scroll_offset.y, max(1, view.size.height)
            for i in range(blocks.block_at(max(0, y - h)), blocks.block_at(y + 2 * h) + 1):
                n = events.due(blocks.blocks[i])
                if n is not None:
                    near.add(n)
        first = {n for n in first if events.due(n * CHUNK) is not None}
        selected = view.selected_head
        self._reader.read(events, first, near, (selected if selected is not None else 0) // CHUNK)

    def landed(self, message: RowsRead) -> bool:
        """A chunk of this view's events was read (or failed): whether the view repaints."""
        return self._reader.landed(message)
