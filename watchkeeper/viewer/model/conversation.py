"""The conversation view's data: which rows of the timeline it shows, and where each one's lines are.

Pure and Textual-free. A *block* is one row of the timeline's view that the
conversation shows (a message, a tool call, a thinking line…), in the same
tree order, so a subagent's blocks sit under the call that spawned it and the
timeline's filter narrows both. Blocks have heights in lines, which depend on
the width (prose wraps); wrapping all of a long session at once would cost
seconds, so a block's height is *estimated* from its size until its lines are
computed for the screen, then exact. Where each block starts comes from a
:class:`~watchkeeper.viewer.model.line_index.LineIndex`, cheap to keep as
heights change.
Lines are computed only for blocks on or near the screen and kept in an LRU
keyed by width, so a resize re-wraps only what is shown.

Which blocks there are, who speaks in each and where turns begin come from
the store's columns (kind, agent), never from the events: a session whose
older events the relay reads back (``events.slow``) is laid out without
reading one, a message not read yet estimated at :data:`GUESS`. Inside
``events.no_wait()`` a block whose events are not read raises
:class:`~watchkeeper.viewer.model.event_log.NotRead` from :meth:`Conversation.lines`
(its :meth:`~Conversation.placeholder` is drawn instead) and keeps its
estimate in :meth:`~Conversation.measure`, which notes the chunk in
``missed`` for the widget's reads.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any

from ...protocol import MAIN_AGENT, Kind
from ...protocol.calls import TOOL_KINDS
from ...protocol.payloads import AGENT_ORIGIN
from .conversation_blocks import BODY, PROSE_KINDS, PROSE_LINES, SHOWN_KINDS, Block, block_lines, estimate, speaker
from .event_log import NotRead
from .line_index import LineIndex
from .prose import Line
from .timeline_store import TimelineStore, row_agent

#: Blocks whose lines are kept: a few screens of long messages.
LINE_CACHE = 256
#: Cells left of the text: the selection bar.
GUTTER = 1
#: The estimate (lines, characters) of a message not read yet; its height is exact once read.
GUESS = (2, 0)
#: The kinds that take part in a turn, by speaker role (``conversation_blocks.speaker``).
TURN_KINDS: dict[str, str] = {Kind.MESSAGE_USER: "user", Kind.MESSAGE_ASSISTANT: "assistant",
                              Kind.THINKING: "assistant", **dict.fromkeys(TOOL_KINDS, "assistant")}


class Conversation:
    """The blocks of one store's view, their heights at one width, and their lines on demand."""

    def __init__(self, store: TimelineStore | None = None) -> None:
        self.store = store or TimelineStore()
        self._view: list[int] | None = None
        self._heads_seen = 0
        self.blocks: list[int] = []
        self.expanded: set[int] = set()
        self.width = 0
        self._fixed = array("l")
        self._chars = array("l")
        self._head = bytearray()
        self._heights = LineIndex()
        self._known = bytearray()
        self._lines: dict[tuple[Any, ...], list[Line]] = {}
        #: Chunks that blocks measured while not read were missing (their reads not failed).
        self.missed: set[int] = set()

    # --- following the store ---------------------------------------------------------------

    def sync(self, store: TimelineStore) -> tuple[int, bool]:
        """Take in what ``store`` gained since the last call: (new blocks, rebuilt from scratch).

        A new store or a new view (filter, collapse, history reloaded) rebuilds;
        otherwise the new rows are placed like the timeline places them.
        """
        if store is not self.store or store.view is not self._view:
            self.rebuild(store)
            return len(self.blocks), True
        heads = store.heads
        new = heads[self._heads_seen:]
        self._heads_seen = len(heads)
        kinds, flt, hidden = store.event_kinds, store.filter, store.hidden
        added = 0
        for head in new:
            if kinds[head] in SHOWN_KINDS and store.visible(head, flt, hidden):
                self._insert(head)
                added += 1
        return added, False

    def rebuild(self, store: TimelineStore) -> None:
        """All blocks anew from ``store``'s view (the expanded ones stay expanded)."""
        if store is not self.store:
            self.expanded.clear()
        self._lines.clear()
        self.missed.clear()
        self.store, self._view, self._heads_seen = store, store.view, len(store.heads)
        events, kinds = store.events, store.event_kinds
        self.blocks = [h for h in store.view if kinds[h] in SHOWN_KINDS]
        fixed, chars, head = array("l"), array("l"), bytearray()
        last: tuple[str, str] | bool | None = False
        unread, speaker_of = events.unread, self._speaker
        with events.no_wait():
            for h in self.blocks:
                if kinds[h] not in PROSE_KINDS:
                    f, c = 1, 0
                else:
                    f, c = self._estimate_of(h) if unread(h) is None else GUESS
                who = speaker_of(h)
                fixed.append(f)
                chars.append(c)
                head.append(0 if who is None or who == last else 1 if last is False else 2)
                last = who
            self._fixed, self._chars, self._head = fixed, chars, head
            width, self.width = self.width, 0
            self.set_width(width)

    def _estimate_of(self, head: int) -> tuple[int, int]:
        """``estimate`` of the block's event, :data:`GUESS` while it is not read."""
        try:
            return estimate(self.store.events[head])
        except NotRead:
            return GUESS

    def _speaker(self, head: int) -> tuple[str, str] | None:
        """``conversation_blocks.speaker`` of the event, from the store's columns (no event read)."""
        role = TURN_KINDS.get(self.store.event_kinds[head])
        return None if role is None else (role, str(self.store.row_agents[head]))

    def _insert(self, head: int) -> int:
        blocks, key = self.blocks, self.store.key
        i = len(blocks) if not blocks or key(head) > key(blocks[-1]) else bisect_right(blocks, key(head), key=key)
        blocks.insert(i, head)
        f, c = self._estimate_of(head)
        self._fixed.insert(i, f)
        self._chars.insert(i, c)
        self._head.insert(i, 0)
        self._known.insert(i, 0)
        self._head[i] = self._header_lines(i)
        self._heights.insert(i, self._estimate(i))
        if i + 1 < len(blocks):
            self._head[i + 1] = self._header_lines(i + 1)
            self._known[i + 1] = 0
            self._heights.set(i + 1, self._estimate(i + 1))
        return i

    def _header_lines(self, i: int) -> int:
        """2 for a turn that starts after another (a gap, then the speaker), 1 for the first, else 0."""
        blocks = self.blocks
        who = self._speaker(blocks[i])
        if who is None:
            return 0
        if i == 0:
            return 1
        return 0 if self._speaker(blocks[i - 1]) == who else 2

    # --- heights ------------------------------------------------------------------------------

    @property
    def text_width(self) -> int:
        return max(8, self.width - GUTTER)

    def set_width(self, width: int) -> None:
        """Lay out for ``width`` columns: every height an estimate again until measured."""
        if width == self.width and len(self._heights) == len(self.blocks):
            return
        self.width = width
        tw = max(1, self.text_width - 4)
        sizes = zip(self._fixed, self._head, self._chars, strict=True)
        self._heights = LineIndex(array("l", [f + h + c // tw for f, h, c in sizes]))
        self._known = bytearray(len(self.blocks))
        for i, head in enumerate(self.blocks):
            if head in self.expanded:
                self.measure(i)

    def _estimate(self, i: int) -> int:
        return self._fixed[i] + self._head[i] + self._chars[i] // max(1, self.text_width - 4)

    def height(self, i: int) -> int:
        return self._heights[i]

    def measure(self, i: int, now: float | None = None) -> int:
        """Block ``i``'s exact height (its lines computed, or found in the cache); its estimate while
        its events are not read (inside ``no_wait``: the chunk is noted in ``missed``)."""
        if not self._known[i]:
            try:
                self.lines(i, now)
            except NotRead as missing:
                if missing.failed is None:
                    self.missed.add(missing.chunk)
        return self._heights[i]

    def first_line(self, i: int) -> int:
        """Block ``i``'s first line after the blank one that separates turns."""
        return 1 if self._head[i] == 2 else 0

    def is_measured(self, i: int) -> bool:
        return bool(self._known[i])

    def start(self, i: int) -> int:
        """The first line of block ``i``; ``start(len(blocks))`` is the total."""
        return self._heights.start(i)

    @property
    def total(self) -> int:
        return self._heights.total

    def block_at(self, y: int) -> int:
        """The block that line ``y`` is in (the last block past the end)."""
        return self._heights.find(y)

    # --- lines --------------------------------------------------------------------------------

    def block(self, i: int) -> Block:
        store, head = self.store, self.blocks[i]
        event = store.head_event(head)
        hl = self._head[i]
        agent = row_agent(event)
        return Block(event, store.call_of(head), len(store.prefix(agent)), hl > 0, hl == 2,
                     head in self.expanded, self.who(event) if hl else "", store.spawn_marker(head))

    def who(self, event: Any) -> str:
        """The speaker's name: the person, the agent, or a subagent by its description."""
        found = speaker(event)
        role, agent = found if found is not None else ("", MAIN_AGENT)
        if agent == MAIN_AGENT:
            origin = event.get("data", {}).get("origin") if role == "user" else None
            if isinstance(origin, str) and origin.startswith(AGENT_ORIGIN):
                return f"Task from {origin.removeprefix(AGENT_ORIGIN)}"
            return "You" if role == "user" else "Assistant"
        name = self.agent_name(agent)
        return f"Prompt to {name}" if role == "user" else name

    def agent_name(self, agent: str) -> str:
        starts = self.store.agent_starts.get(agent)
        if starts:
            data = self.store.head_event(starts[0]).get("data")
            if isinstance(data, dict) and (name := data.get("description") or data.get("agent_type")):
                return str(name)
        return agent if len(agent) <= 12 else agent[:11] + "…"

    def lines(self, i: int, now: float | None = None) -> list[Line]:
        """Block ``i``'s lines at the current width; its height becomes exact."""
        head = self.blocks[i]
        key = (head, self.store.stamp(head, now), self.width, head in self.expanded, self._head[i])
        found = self._lines.pop(key, None)
        if found is None:
            block = self.block(i)
            if not self._known[i] and block.event.get("kind") in PROSE_KINDS:
                self._fixed[i], self._chars[i] = estimate(block.event)
            found = block_lines(block, self.text_width, now)
            if len(self._lines) >= LINE_CACHE:
                del self._lines[next(iter(self._lines))]
        self._lines[key] = found
        if not self._known[i] or self._heights[i] != len(found):
            self._known[i] = 1
            self._heights.set(i, len(found))
        return found

    def placeholder(self, i: int, missing: NotRead) -> list[Line]:
        """Block ``i``'s lines while its events are read (its estimated height), or why they could not be."""
        seq = self.store.events.seq_of(self.blocks[i])
        if missing.failed is None:
            note: Line = [(f"{BODY}… seq {seq}", "dim")]
        else:
            note = [(f"{BODY}seq {seq} could not be read: {missing.failed}", "error")]
        first = self.first_line(i)
        return [[] for _ in range(first)] + [note] + [[] for _ in range(max(0, self._heights[i] - first - 1))]

    def line_at(self, y: int, now: float | None = None) -> tuple[int, Line | None]:
        """(block, line) at line ``y``; the line is None past the end."""
        if not self.blocks:
            return 0, None
        i = self.block_at(y)
        lines = self.lines(i, now)
        off = y - self.start(i)
        return i, lines[off] if 0 <= off < len(lines) else None

    # --- selection helpers -------------------------------------------------------------------

    def index_of(self, head: int | None) -> int:
        """The block of timeline row ``head``, or the nearest block before it (after, at the start)."""
        if head is None or not self.blocks:
            return max(0, len(self.blocks) - 1)
        key = self.store.key
        i = bisect_right(self.blocks, key(head), key=key) - 1
        return max(0, i)

    def toggle(self, i: int) -> bool:
        """Expand or fold block ``i``; False if it has nothing more to show."""
        if not self.expandable(i):
            return False
        self.expanded ^= {self.blocks[i]}
        self._known[i] = 0
        return True

    def expandable(self, i: int) -> bool:
        store, head = self.store, self.blocks[i]
        if store.call_of(head) is not None:
            return True
        block = self.block(i)
        if block.event.get("kind") == "thinking":
            data = block.event.get("data")
            return isinstance(data, dict) and bool(data.get("text")) and not data.get("hidden")
        return self._fixed[i] > PROSE_LINES or head in self.expanded
