"""What an event does beyond heading a row of the timeline: tool calls, queued prompts, subagents, controls.

One event at a time as a session arrives (:meth:`SpecialFold._fold_special`);
a batch of a history read whole a column at a time (:meth:`SpecialFold._fold_batch`).
A million-event session read back from the relay (``history_reload.read_store``)
comes in batches of thousands where half the events are tool events: one at a
time they cost ~3 µs each, most of a load's seconds. There the batch's tool
events go through one loop with no call per event (``CallIndex.fold_light``), a
prompt never queued is passed over, and only what is left (queued prompts,
notices, rejected controls) is folded one at a time. A batch with an event whose
fold reads calls as they stand at that event (a subagent's start, a control that
let a call go) is folded one event at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from itertools import compress
from typing import cast

from ...protocol import Event, Kind, ToolCall
from ...protocol.calls import TOOL_KINDS
from ...protocol.controls import released
from ...protocol.payloads import AgentStartedData, ControlOutcomeData
from . import rows
from .store_calls import CallIndex, Folded, WorkingCalls
from .timeline_view import Added

#: Kinds that do more than head a row of their own.
SPECIAL_KINDS = frozenset({*TOOL_KINDS, Kind.CONTROL_APPLIED, Kind.CONTROL_REJECTED, Kind.MESSAGE_USER,
                           Kind.AGENT_STARTED, Kind.NOTICE})
#: Kinds whose fold reads or changes calls as they stand at that event: a batch with one is folded in order.
IN_ORDER = frozenset({Kind.AGENT_STARTED, Kind.CONTROL_APPLIED})


class SpecialFold:
    """The store's part that folds special events (``timeline_store.TimelineStore`` holds the state)."""

    call_index: CallIndex
    calls: WorkingCalls
    call_head: Mapping[str, int]
    errors: int
    tools: Counter[str]
    kinds: Counter[str]
    agent_rows: Counter[str]
    row_agents: list[str]
    parent_call: dict[str, str]
    spawned: dict[str, list[str]]
    agent_starts: dict[str, list[int]]
    agent_names: dict[str, str]
    queue_events: dict[str, list[int]]
    superseded: set[int]
    _prefix: dict[str, tuple[int, ...]]

    def position(self, head: int) -> int | None:
        raise NotImplementedError

    def kind_label(self, head: int) -> str:
        raise NotImplementedError

    def call_of(self, head: int) -> ToolCall | None:
        raise NotImplementedError

    def _fold_batch(self, base: int, batch: list[Event], kinds: list[str], agents: list[str],
                    added: Added) -> bytearray | None:
        """A batch of a history read whole (``call_index.light``, no event ``IN_ORDER``; ``batch[p]`` is event
        ``base + p``): which events head a row, a byte each (None: all of them). The caller counts the rows."""
        tools = list(compress(range(len(kinds)), map(TOOL_KINDS.__contains__, kinds)))
        calls = self.call_index
        known = len(calls)
        folded: Folded = calls.fold_light(base, batch, kinds, tools)
        spawning = [c for c in calls.ids[known:] if c in self.spawned] if self.spawned else ()
        if spawning:  # a subagent announced before the call that spawned it: its rows so far move under it
            self._prefix.clear()
            here = set(agents)
            added.rebuild |= any(self.agent_rows[a] or a in here for c in spawning for a in self.spawned[c])
        self.errors += folded.failed
        self.tools.update(folded.started)
        added.changed.update(folded.heads)
        skip = folded.joined
        user = Kind.MESSAGE_USER
        rest = [p for p, kind in enumerate(kinds) if kind in SPECIAL_KINDS and kind not in TOOL_KINDS]
        for p in (*rest, *folded.left):
            event, kind = batch[p], kinds[p]
            if kind == user:
                data = event.get("data")
                if not isinstance(data, dict) or not isinstance(data.get("queue_id"), str):
                    continue  # a prompt never queued: a row, nothing more
            if not self._fold_special(base + p, event, kind, added):
                skip.append(p)
        if not skip:
            return None
        heads = bytearray(b"\x01") * len(kinds)
        for p in skip:
            heads[p] = 0
        return heads

    def _fold_special(self, index: int, event: Event, kind: str, added: Added) -> bool:
        """What a tool event, a queued prompt, a subagent's start, a control or a notice does beyond its row;
        False when the event joins another event's row instead of heading its own."""
        data = event.get("data")
        if not isinstance(data, dict):
            data = {}
        call_id = data.get("call_id") if kind in TOOL_KINDS else None
        if call_id:
            calls = self.call_index
            head = calls.update(index, event, call_id)
            no = calls.number[index]
            if kind == Kind.TOOL_FINISHED and calls.failed(no):
                self.errors += 1
            if head is not None:
                added.changed.add(head)
                return False
            if name := calls.name(no):
                self.tools[name] += 1
            if call_id in self.spawned:
                self._prefix.clear()
                added.rebuild |= any(self.agent_rows[a] for a in self.spawned[call_id])
        elif kind == Kind.CONTROL_APPLIED:
            self.call_index.released(index, released(cast(ControlOutcomeData, data)))
            for held in self.calls.release(event):
                self.call_index.refresh(held)
                if (head := self.call_head.get(held.call_id)) is not None:
                    added.changed.add(head)
        elif kind == Kind.MESSAGE_USER and isinstance(qid := data.get("queue_id"), str):
            group = self.queue_events.get(qid)
            origin = data.get("origin")
            if group and origin == "queue-removed":
                group.append(index)  # taken back: the queued row says so
                added.changed.add(group[0])
                return False
            if group and origin != "queued" and group[0] not in self.superseded:
                group.append(index)  # delivered: a row of its own, in place of the queued one
                self._supersede(group[0])
                added.rebuild |= self.position(group[0]) is not None
            elif group is None and origin == "queued":
                self.queue_events[qid] = [index]
        elif kind == Kind.AGENT_STARTED and (spawn := cast(AgentStartedData, data)).get("agent_id"):
            # One row per subagent: its own file and its parent's both announce it.
            agent, parent = str(spawn["agent_id"]), spawn.get("parent_call_id")
            self._name_agent(agent, spawn.get("description") or spawn.get("agent_type"))
            if parent and agent not in self.parent_call:
                self.parent_call[agent] = str(parent)
                self.spawned.setdefault(str(parent), []).append(agent)
                self._prefix.clear()
                added.rebuild |= self.agent_rows[agent] > 0
                spawner = self.call_of(self.call_head[str(parent)]) if str(parent) in self.call_head else None
                if spawner is not None and isinstance(spawner.input, dict):
                    self._name_agent(agent, spawner.input.get("description"))
            starts = self.agent_starts.setdefault(agent, [])
            starts.append(index)
            if len(starts) > 1:
                added.changed.add(starts[0])
                return False
        elif kind != Kind.RAW and rows.event_is_error(event):
            self.errors += 1
        return True

    def _supersede(self, head: int) -> None:
        self.superseded.add(head)
        self.kinds[self.kind_label(head)] -= 1
        self.agent_rows[self.row_agents[head]] -= 1

    def _name_agent(self, agent: str, name: object) -> None:
        if isinstance(name, str) and name.strip() and agent not in self.agent_names:
            self.agent_names[agent] = rows.one_line(name, 120)
