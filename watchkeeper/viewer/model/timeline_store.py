"""The timeline's data: every event of a session, its rows, and the view being shown.

Pure and Textual-free, so it is tested without an app. A *head* is the index
(in ``events``) of the event that starts a row; a tool call's later events
update its row instead of adding one. The *view* is the list of heads on
screen, in tree order: a subagent's rows sit under the call that spawned it.
Tree order is the order of :meth:`TimelineStore.key`, so a live row is placed
with a binary search, and a filtered view is the same order with rows left
out.

Some kinds are hidden unless asked for (the ``usage`` and ``state`` rows):
hiding is part of the :class:`~.timeline_filter.Filter`, applied as rows
arrive, so it costs a live session nothing beyond one rebuild when the
person changes it. A queued prompt is one row while it waits (or once taken
back); the message that delivers it is a row of its own, at the time the
agent got it, standing for both events, and the queued row goes.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from itertools import compress
from typing import Any

from ...protocol import Event, Kind, ToolCall
from ...protocol.session import SessionState
from . import rows
from .batch_columns import columns
from .event_log import EventLog
from .relay_events import RelayEvents
from .rows import row_agent
from .store_calls import CallIndex
from .store_special import IN_ORDER, SPECIAL_KINDS, SpecialFold
from .timeline_filter import Filter, search_text
from .timeline_view import Added, tree_view

#: A subagent's completion sorts after its own rows: its key's last part is offset by this.
LAST = 1 << 62
#: A subagent's starts a row reads: its own file, its parent's link and a hook tell one start; an agent id
#: reused thousands of times (a grown or crafted transcript) would otherwise make its row read every chunk.
MERGED_STARTS = 8


class TimelineStore(SpecialFold):
    """All events of one session and the current view over them.

    ``events``: where the events are kept; by default all of them, as compact JSON (``event_log.py``);
    a session the relay holds keeps only their seqs and reads them back (``relay_events.py``).
    """

    def __init__(self, events: EventLog | RelayEvents | None = None) -> None:
        self.events = events if events is not None else EventLog()
        #: Per event, by index: its kind, and the agent whose row it belongs to (``rows.row_agent``),
        #: so that views are built without decoding events.
        self.event_kinds: list[str] = []
        self.row_agents: list[str] = []
        self.heads = array("q")
        self.call_index = CallIndex(self.events)
        #: the calls kept whole (``store_calls.py``): a forgotten one is folded again by :meth:`call_of`.
        self.calls = self.call_index.table
        #: the session as its stream describes it (``protocol.session``): state, usage, held calls.
        self.session = SessionState()
        #: Events with a seq below this are in ``session`` already (folded by the relay: ``history_reload``).
        self.fold_from = 0
        #: failed calls and error events so far (raw records are counted apart, in ``session.raw``).
        self.errors = 0
        #: call id -> its row's head.
        self.call_head: Mapping[str, int] = self.call_index.head
        self.parent_call: dict[str, str] = {}
        #: Each subagent's ``agent.started`` events: one row, headed by the first.
        self.agent_starts: dict[str, list[int]] = {}
        self.spawned: dict[str, list[str]] = {}
        #: A queued prompt's events (queued, then delivered or taken back), by queue id.
        self.queue_events: dict[str, list[int]] = {}
        #: Rows of queued prompts since delivered: the delivering message's row stands for them.
        self.superseded: set[int] = set()
        #: What a subagent is called on screen: its description, else its type.
        self.agent_names: dict[str, str] = {}
        self.agent_rows: Counter[str] = Counter()
        self.tools: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.collapsed: set[str] = set()
        self.hidden: frozenset[str] = frozenset()
        self.filter = Filter()
        self.view: list[int] = []
        self._prefix: dict[str, tuple[int, ...]] = {}
        #: One copy of each kind and agent string (``batch_columns.columns``).
        self._shared: dict[str, str] = {}

    # --- reading rows -----------------------------------------------------------

    def call_of(self, head: int) -> ToolCall | None:
        return self.call_index.of(head)

    def starts_of(self, head: int) -> list[int] | None:
        """The ``agent.started`` events merged into this row, when it is a subagent's start."""
        if self.event_kinds[head] != Kind.AGENT_STARTED:
            return None
        return self.agent_starts.get(self.row_agents[head])

    def queued_of(self, head: int) -> list[int] | None:
        """A queued prompt's events (queued, then delivered or taken back), when the row shows one."""
        if self.event_kinds[head] != Kind.MESSAGE_USER:
            return None
        event = self.events[head]
        data = event.get("data")
        qid = data.get("queue_id") if isinstance(data, dict) else None
        return self.queue_events.get(qid) if isinstance(qid, str) else None

    def head_event(self, head: int) -> Event:
        """The event a row shows: a subagent's first ``MERGED_STARTS`` starts merged (first non-empty value of
        each field); a queued prompt as it stands now (taken back)."""
        queued = self.queued_of(head)
        if queued and queued[0] == head:
            return self.events[queued[-1]]
        event, starts = self.events[head], self.starts_of(head)
        if not starts or len(starts) < 2:
            return event
        data: dict[str, Any] = {}
        for i in starts[:MERGED_STARTS]:
            more = self.events[i].get("data")
            for key, value in (more.items() if isinstance(more, dict) else ()):
                if value not in (None, "") and data.get(key) in (None, ""):
                    data[key] = value
        return {**event, "data": data}

    def row_events(self, head: int) -> list[Event]:
        """Every event a row stands for: all of a call's events, a subagent's (first) starts, or the one event."""
        call = self.call_of(head)
        if call is None:
            group = (self.starts_of(head) or [])[:MERGED_STARTS] or self.queued_of(head)
            return [self.events[i] for i in group] if group else [self.events[head]]
        return [self.events[i] for i in self.call_index.events_of(call.call_id) or [head]]

    def spawn_marker(self, head: int) -> str:
        """``▾ 2 agents (9)`` under an expanded spawning call, ``▸ …`` when collapsed; else empty."""
        call = self.call_of(head)
        agents = self.spawned.get(call.call_id) if call else None
        if not call or not agents:
            return ""
        count = sum(self.agent_rows[a] for a in agents)
        arrow = "▸" if call.call_id in self.collapsed else "▾"
        who = "subagent" if len(agents) == 1 else f"{len(agents)} agents"  # the call's input names it
        return f"{arrow} {who} ({count})"

    def row(self, head: int, now: float | None = None) -> rows.Row:
        event = self.head_event(head)
        agent = row_agent(event)
        depth = len(self.prefix(agent))
        name = self.agent_names.get(agent, agent)
        return rows.build_row(event, self.call_of(head), now, self.spawn_marker(head), depth, name)

    def stamp(self, head: int, now: float | None) -> tuple[Any, ...] | None:
        """Changes whenever the row's text would: the cache key part beside the head."""
        call = self.call_of(head)
        if call is None:
            group = self.starts_of(head) or self.queued_of(head)
            return (len(group) if group else 0, self.agent_names.get(self.row_agents[head]))
        elapsed = int(now) if now is not None and not call.final else None
        name = self.agent_names.get(self.row_agents[head])
        return (call.status, len(call.event_ids), self.spawn_marker(head), elapsed, name)

    def ticking(self, head: int) -> bool:
        """The row shows a running call's elapsed time, which changes by itself."""
        call = self.call_of(head)
        return call is not None and not call.final

    def kind_label(self, head: int) -> str:
        kind = self.event_kinds[head]
        return rows.KIND_LABELS.get(kind, kind)

    def is_error(self, head: int) -> bool:
        no = self.call_index.number_of(head)
        return self.call_index.failed(no) if no >= 0 else rows.event_is_error(self.events[head])

    # --- tree order -------------------------------------------------------------

    def key(self, head: int) -> tuple[int, ...]:
        """Tree order: a subagent's rows under the call that spawned it, its completion last."""
        prefix = self.prefix(self.row_agents[head])
        if prefix and self.event_kinds[head] == Kind.AGENT_FINISHED:
            return (*prefix, LAST + head)
        return (*prefix, head)

    def prefix(self, agent: str, _seen: frozenset[str] = frozenset()) -> tuple[int, ...]:
        """The key of the call that spawned ``agent`` (empty for the main agent or an orphan)."""
        found = self._prefix.get(agent)
        if found is not None:
            return found
        result: tuple[int, ...] = ()
        call_id = self.parent_call.get(agent)
        head = self.call_head.get(call_id) if call_id else None
        if head is not None and agent not in _seen:
            parent = self.row_agents[head]
            result = (*self.prefix(parent, _seen | {agent}), head)
        self._prefix[agent] = result
        return result

    def hidden_agents(self) -> frozenset[str]:
        """Agents under a collapsed call, their own subagents included."""
        hidden: set[str] = set()
        todo = [a for c in self.collapsed for a in self.spawned.get(c, ())]
        while todo:
            agent = todo.pop()
            if agent in hidden:
                continue
            hidden.add(agent)
            for call_id, agents in self.spawned.items():
                head = self.call_head.get(call_id)
                if head is not None and self.row_agents[head] == agent:
                    todo.extend(agents)
        return frozenset(hidden)

    # --- filtering --------------------------------------------------------------

    def matches(self, head: int, flt: Filter) -> bool:
        if self.superseded and head in self.superseded:
            return False
        if flt.hide and flt.hides(self.kind_label(head)):
            return False
        if flt.agent and self.row_agents[head] != flt.agent:
            return False
        if flt.kind and self.kind_label(head) != flt.kind:
            return False
        no = self.call_index.number_of(head)
        if flt.tool and (no < 0 or self.call_index.name(no) != flt.tool):
            return False
        if flt.errors and not self.is_error(head):
            return False
        return not flt.text or flt.text.lower() in search_text(self.head_event(head), self.call_of(head))

    def visible(self, head: int, flt: Filter, hidden: frozenset[str]) -> bool:
        if flt.active:
            return self.matches(head, flt)
        if self.superseded and head in self.superseded:
            return False
        return self.row_agents[head] not in hidden and not (flt.hide and flt.hides(self.kind_label(head)))

    def build_view(
        self,
        flt: Filter,
        hidden: frozenset[str],
        upto: int,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> list[int] | None:
        """The view over the first ``upto`` heads, in tree order; None if cancelled.

        Safe in a worker thread while the UI appends: it reads only what
        existed when it started.
        """
        return tree_view(self.event_kinds, self.row_agents, self.heads[:upto], self.prefix, self.matches,
                         self.superseded, flt, hidden, cancelled)

    def set_view(self, view: list[int], upto: int, flt: Filter, hidden: frozenset[str]) -> None:
        """Adopt a view built for the first ``upto`` heads, adding rows that arrived meanwhile."""
        self.view, self.filter, self.hidden = view, flt, hidden
        for head in self.heads[upto:]:
            if self.visible(head, flt, hidden):
                self._insert(head)

    def rebuild(self, flt: Filter | None = None) -> None:
        """Rebuild the view now, on this thread (small sessions, tests)."""
        flt = self.filter if flt is None else flt
        hidden = self.hidden_agents()
        upto = len(self.heads)
        view = self.build_view(flt, hidden, upto)
        assert view is not None
        self.set_view(view, upto, flt, hidden)

    def toggle_collapsed(self, call_id: str) -> frozenset[str]:
        """Collapse or expand a spawning call's subagents; the caller rebuilds with the result."""
        self.collapsed ^= {call_id}
        return self.hidden_agents()

    def position(self, head: int) -> int | None:
        """Where ``head`` is in the view, or None."""
        i = bisect_left(self.view, self.key(head), key=self.key)
        return i if i < len(self.view) and self.view[i] == head else None

    def nearest(self, head: int | None) -> int:
        """The view position of ``head``, or of the row that would follow it."""
        if head is None or not self.view:
            return 0
        return min(bisect_left(self.view, self.key(head), key=self.key), len(self.view) - 1)

    def _insert(self, head: int) -> int:
        view, key = self.view, self.key(head)
        if not view or key > self.key(view[-1]):
            view.append(head)
            return len(view) - 1
        i = bisect_right(view, key, key=self.key)
        view.insert(i, head)
        return i

    # --- adding events ------------------------------------------------------------

    def add(self, batch: Iterable[Event], folded: bool = False) -> Added:
        """Fold a batch in and place its new rows in the view (unless a rebuild is due); what can be is done
        a column at a time, so the one loop in Python per event decides whether it heads a row.
        ``folded``: the batch is in ``session`` already."""
        batch = batch if isinstance(batch, list) else list(batch)
        added = Added()
        events, special = self.events, self._fold_special
        base, n = len(events), len(batch)
        events.extend(batch)
        self.call_index.extend(n)
        if not folded:
            self.session.fold_all(self._unfolded(batch) if self.fold_from else batch)
        kinds, agents = columns(batch, self._shared)
        self.event_kinds += kinds
        self.row_agents += agents
        present = set(kinds)
        # Only a subagent's start (or a call that spawned one) reads the rows counted so far: count as we go.
        count_now = bool(self.spawned) or Kind.AGENT_STARTED in present
        agent_rows = self.agent_rows
        if present.isdisjoint(SPECIAL_KINDS):
            new = list(range(base, base + n))
            new_agents, new_kinds = agents, kinds
            count_now = False
        elif self.call_index.light and present.isdisjoint(IN_ORDER):
            heads = self._fold_batch(base, batch, kinds, agents, added)
            count_now = False
            new = list(range(base, base + n)) if heads is None else list(compress(range(base, base + n), heads))
            new_agents, new_kinds = (agents, kinds) if heads is None else \
                (list(compress(agents, heads)), list(compress(kinds, heads)))
        else:
            new, new_agents, new_kinds = [], [], []
            for index, kind, agent, event in zip(range(base, base + n), kinds, agents, batch, strict=True):
                if kind in SPECIAL_KINDS and not special(index, event, kind, added):
                    continue
                new.append(index)
                new_agents.append(agent)
                new_kinds.append(kind)
                if count_now:
                    agent_rows[agent] += 1
        self.heads.extend(new)
        if not count_now:
            agent_rows.update(new_agents)
        labels = rows.KIND_LABELS
        self.kinds.update(map(labels.get, new_kinds, new_kinds))
        added.rows = len(new)
        if added.rebuild:
            return added
        self._place(new, new_agents, new_kinds, added)
        if self.filter.active:
            for head in added.changed:
                if self.position(head) is None and self.matches(head, self.filter):
                    added.inserted_at.append(self._insert(head))
        return added

    def _unfolded(self, batch: list[Event]) -> list[Event]:
        """The events of ``batch`` not in ``session`` yet; once one comes past ``fold_from``, all later ones are."""
        upto = self.fold_from
        rest = [e for e in batch if not (isinstance(seq := e.get("seq"), int) and seq < upto)]
        if rest and isinstance(seq := rest[-1].get("seq"), int) and seq >= upto:
            self.fold_from = 0
        return rest

    def _place(self, new: list[int], new_agents: list[str], new_kinds: list[str], added: Added) -> None:
        """New rows into the view: appended when they are top-level rows, else where the tree puts them."""
        flt, hidden, view, superseded, prefix = self.filter, self.hidden, self.view, self.superseded, self.prefix
        labels = rows.KIND_LABELS
        active, hide = flt.active, flt.hide - {flt.kind}
        if not active and not superseded and not any(prefix(a) for a in set(new_agents)) \
                and hidden.isdisjoint(new_agents):
            hidden_kinds = {k for k in set(new_kinds) if labels.get(k, k) in hide}
            if hidden_kinds:
                new = [h for h, k in zip(new, new_kinds, strict=True) if k not in hidden_kinds]
            view += new  # new top-level rows are the last rows
            added.appended += len(new)
            return
        for head, agent, kind in zip(new, new_agents, new_kinds, strict=True):
            if superseded and head in superseded:
                continue
            if active:
                if not self.matches(head, flt):
                    continue
            elif agent in hidden or labels.get(kind, kind) in hide:
                continue
            if not prefix(agent):
                view.append(head)  # a new top-level row is the last row
                added.appended += 1
                continue
            at = self._insert(head)
            if at == len(view) - 1:
                added.appended += 1
            else:
                added.inserted_at.append(at)

    @property
    def agents(self) -> list[str]:
        return [a for a, _ in self.agent_rows.most_common()]
