"""A session's tool calls as the timeline keeps them: the newest whole, older finished ones as columns.

A merged :class:`~watchkeeper.protocol.ToolCall` holds its input, its output
and its events' ids: ~700 bytes a call, most of a million-event session's
memory once the events themselves are read back from the relay on demand.
So the store keeps whole only the newest ``KEPT`` finished calls (and every
running or held one); an older call is folded again from its own events when
a row on screen, the detail pane or a search asks for it (``apply`` over its
events in order gives the same call: a finished call no longer moves), and
the last ``REBUILT`` so folded are kept. What a view is built from — a call's
tool name and whether it failed — and which events are the call's stay in
columns: a few bytes a call and 8 an event. A control that let a held call go
is noted by the call, so that folding it again gives what the table held.

A history read whole (``history_reload.read_store``) folds no call while it is
read (``light``): the columns come from the events' data, and at the end
(:meth:`CallIndex.settle`) only the calls to keep are folded, once each.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from ...protocol import Event, Kind, ToolCall, ToolStatus
from ...protocol.calls import apply, running
from ...protocol.controls import released
from ...protocol.kinds import FINAL_TOOL_STATUSES
from ...protocol.payloads import ControlOutcomeData
from . import rows

#: Finished calls kept whole (running and held ones always are).
KEPT = 2_000
#: Calls folded again from their events, kept for the reads to come.
REBUILT = 1_024

FAILED = 1
FINAL = 2


@dataclass(slots=True)
class Folded:
    """What :meth:`CallIndex.fold_light` did to a batch's tool events, by position in the batch."""

    #: Events that joined an earlier event's row, and that row's head (one each).
    joined: list[int] = field(default_factory=list)
    heads: list[int] = field(default_factory=list)
    #: The tool name of each call that started, when its first event named it.
    started: list[str] = field(default_factory=list)
    #: Finishes that left their call failed.
    failed: int = 0
    #: Tool events of no call (no ``call_id``): each heads a row of its own, folded one at a time.
    left: list[int] = field(default_factory=list)


class WorkingCalls:
    """The calls kept whole, by (session, call id), as ``protocol.CallTable`` keeps them; a forgotten one is
    put back (``put``) before another of its events is folded in."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], ToolCall] = {}

    def fold(self, event: Event, call_id: str) -> ToolCall:
        """Fold a tool event of ``call_id`` into its call."""
        key = (event["session"], call_id)
        call = self._calls[key] = apply(self._calls.get(key), event)  # type: ignore[arg-type]
        return call

    def put(self, call: ToolCall) -> None:
        self._calls[(call.session, call.call_id)] = call

    def get(self, session: str, call_id: str) -> ToolCall | None:
        return self._calls.get((session, call_id))

    def release(self, event: Event) -> list[ToolCall]:
        """A ``control.applied`` event: the held calls it let go are running again; those calls."""
        data = event.get("data")
        ids = released(cast(ControlOutcomeData, data)) if isinstance(data, dict) else []
        calls = self._calls
        return [running(call) for cid in ids if (call := calls.get((event["session"], cid))) is not None]

    def forget_final(self, keep: int) -> None:
        """Forget the oldest finished calls until at most ``keep`` remain (running and held ones stay)."""
        calls = self._calls
        drop = len(calls) - keep
        if drop > 0:
            for key in [k for k, c in calls.items() if c.final][:drop]:
                del calls[key]

    def __len__(self) -> int:
        return len(self._calls)


class Heads(Mapping[str, int]):
    """Call id -> the index of the call's first event (its row's head), read from the index's columns."""

    __slots__ = ("_index",)

    def __init__(self, index: CallIndex) -> None:
        self._index = index

    def __getitem__(self, call_id: str) -> int:
        return self._index.first[self._index.numbers[call_id]]

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._index.numbers

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.numbers)

    def __len__(self) -> int:
        return len(self._index.numbers)


class CallIndex:
    """Which event belongs to which call, each call's name and outcome, and the calls themselves."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self.table = WorkingCalls()
        #: call id -> the index of its first event (the row's head).
        self.head = Heads(self)
        #: Per event, by index: its call's number, or -1.
        self.number = array("i")
        #: Per event, by index: the index of its call's next event, or -1.
        self.next = array("q")
        #: Per call, by number: its id, session, first and last event, tool name (``names``), outcome.
        self.ids: list[str] = []
        self.sessions: list[str] = []
        self.first = array("q")
        self.last = array("q")
        self.name_of = array("i")
        self.flags = bytearray()
        self.names: list[str | None] = [None]
        self._name_no: dict[str | None, int] = {None: 0}
        #: call id -> its number.
        self.numbers: dict[str, int] = {}
        #: call number -> the indices of the ``control.applied`` events that let it go (held calls only).
        self.releases: dict[int, list[int]] = {}
        #: Columns only, no call folded (a history read whole); :meth:`settle` ends it.
        self.light = False
        self._rebuilt: dict[int, ToolCall] = {}
        self._sessions: dict[str, str] = {}

    def extend(self, n: int) -> None:
        """``n`` more events, of no call until :meth:`update` says otherwise."""
        none = array("i", [-1]) * n
        self.number.extend(none)
        self.next.extend(array("q", [-1]) * n)

    def update(self, index: int, event: Event, call_id: str) -> int | None:
        """Fold event ``index`` into its call; the head of its row if it had one already."""
        no = self.numbers.get(call_id)
        head = None
        if no is None:
            no = self.numbers[call_id] = len(self.ids)
            self.ids.append(call_id)
            session = event.get("session", "")
            self.sessions.append(self._sessions.setdefault(session, session))
            self.first.append(index)
            self.last.append(index)
            self.name_of.append(0)
            self.flags.append(0)
        else:
            self.next[self.last[no]] = index
            self.last[no] = index
            head = self.first[no]
            self._rebuilt.pop(no, None)
            if not self.light and self.table.get(self.sessions[no], call_id) is None:
                self.table.put(self._fold(no, upto=index))
        self.number[index] = no
        if self.light:
            self._note_data(no, event)
            return head
        self._note_call(no, self.table.fold(event, call_id))
        if len(self.table) > 2 * KEPT:
            self.table.forget_final(KEPT)
        return head

    def _note_data(self, no: int, event: Event) -> None:
        """The columns from the event itself, as ``protocol.calls.apply`` would leave the call."""
        data: dict[str, Any] = event["data"]
        if not self.name_of[no] and (name := data.get("name")):
            self.name_of[no] = self._name_number(name)
        if event["kind"] == Kind.TOOL_FINISHED:
            error = bool(data.get("is_error"))
            status = data.get("status") or (ToolStatus.ERROR if error else ToolStatus.OK)
            failed = status != ToolStatus.DENIED and (error or status in rows.FAILED)
            self.flags[no] = (FAILED if failed else 0) | (FINAL if status in FINAL_TOOL_STATUSES else 0)

    def fold_light(self, base: int, batch: list[Event], kinds: list[str], positions: list[int]) -> Folded:
        """:attr:`light`: the tool events at ``positions`` of ``batch`` (event ``base + p``), in order, each as
        :meth:`update` folds it; one loop with no call per event, for a history of a million read whole."""
        assert self.light
        numbers, ids, sessions, shared = self.numbers, self.ids, self.sessions, self._sessions
        first, last, nxt, number = self.first, self.last, self.next, self.number
        name_of, flags, name_no, rebuilt = self.name_of, self.flags, self._name_no, self._rebuilt
        out = Folded()
        joined, heads, started = out.joined, out.heads, out.started
        finished, failing, final = Kind.TOOL_FINISHED, rows.FAILED, FINAL_TOOL_STATUSES
        denied, error_status, ok_status = ToolStatus.DENIED, ToolStatus.ERROR, ToolStatus.OK
        failures = 0
        for p in positions:
            event = batch[p]
            data = event.get("data")
            call_id = data.get("call_id") if data.__class__ is dict else None
            if not call_id:
                out.left.append(p)
                continue
            index = base + p
            no = numbers.get(call_id)
            if no is None:
                no = numbers[call_id] = len(ids)
                ids.append(call_id)
                session = event.get("session", "")
                sessions.append(shared.setdefault(session, session))
                first.append(index)
                last.append(index)
                flags.append(0)
                if name := data.get("name"):
                    name_of.append(name_no.get(name) or self._name_number(name))
                    started.append(name)
                else:
                    name_of.append(0)
            else:
                nxt[last[no]] = index
                last[no] = index
                joined.append(p)
                heads.append(first[no])
                if rebuilt:
                    rebuilt.pop(no, None)
                if not name_of[no] and (name := data.get("name")):
                    name_of[no] = self._name_number(name)
            number[index] = no
            if kinds[p] == finished:
                error = bool(data.get("is_error"))
                status = data.get("status") or (error_status if error else ok_status)
                failed = status != denied and (error or status in failing)
                flags[no] = (FAILED if failed else 0) | (FINAL if status in final else 0)
                failures += failed
        out.failed = failures
        return out

    def _name_number(self, name: str | None) -> int:
        n = self._name_no.get(name)
        if n is None:
            n = self._name_no[name] = len(self.names)
            self.names.append(name)
        return n

    def released(self, index: int, call_ids: list[str]) -> None:
        """``control.applied`` event ``index`` let these calls go."""
        for call_id in call_ids:
            no = self.numbers.get(call_id)
            if no is not None:
                self.releases.setdefault(no, []).append(index)
                self._rebuilt.pop(no, None)

    def settle(self) -> None:
        """End :attr:`light`: fold the calls to keep whole — every unfinished one, and the newest ``KEPT``."""
        self.light = False
        newest = len(self.ids) - KEPT
        for no in range(len(self.ids)):
            if no >= newest or not self.flags[no] & FINAL:
                self.table.put(self._fold(no))

    def _note_call(self, no: int, call: ToolCall) -> None:
        self.name_of[no] = self._name_number(call.name)
        self.flags[no] = (FAILED if rows.call_failed(call) else 0) | (FINAL if call.final else 0)

    def refresh(self, call: ToolCall) -> None:
        """``call`` changed outside :meth:`update` (a control let it go)."""
        no = self.numbers.get(call.call_id)
        if no is not None:
            self._note_call(no, call)

    # --- reading --------------------------------------------------------------------

    def of(self, index: int) -> ToolCall | None:
        """The call event ``index`` belongs to, whole (folded again if it was forgotten)."""
        no = self.number[index]
        if no < 0:
            return None
        call_id = self.ids[no]
        call = self.table.get(self.sessions[no], call_id)
        if call is not None:
            return call
        call = self._rebuilt.get(no)
        if call is None:
            call = self._fold(no)
            if len(self._rebuilt) >= REBUILT:
                self._rebuilt.clear()
            self._rebuilt[no] = call
        return call

    def number_of(self, index: int) -> int:
        return self.number[index]

    def name(self, no: int) -> str | None:
        return self.names[self.name_of[no]]

    def failed(self, no: int) -> bool:
        return bool(self.flags[no] & FAILED)

    def event_indices(self, no: int, upto: int | None = None) -> list[int]:
        """The call's events, by index, in the order they came (those before ``upto``)."""
        out: list[int] = []
        i, nxt = self.first[no], self.next
        while i >= 0 and (upto is None or i < upto):
            out.append(i)
            i = nxt[i]
        return out

    def events_of(self, call_id: str) -> list[int] | None:
        no = self.numbers.get(call_id)
        return None if no is None else self.event_indices(no)

    def _fold(self, no: int, upto: int | None = None) -> ToolCall:
        """The call as its events before ``upto`` (and the controls that let it go) left it."""
        call: ToolCall | None = None
        events = self.events
        releases = [r for r in self.releases.get(no, ()) if upto is None or r < upto]
        for i in self.event_indices(no, upto):
            while releases and releases[0] < i:
                releases.pop(0)
                if call is not None:
                    running(call)
            call = apply(call, events[i])  # type: ignore[arg-type]
        assert call is not None
        for _ in releases:
            running(call)
        return call

    def __len__(self) -> int:
        return len(self.ids)
