"""Events a peer may send that pass validation with odd values, through every reader of the viewer's model.

``validate_event`` checks a peer's event against the protocol's models and returns it as sent: the
models coerce what they check (``"12"`` passes as a token count, ``true`` as a number), and fields they
do not name may hold anything. The relay's intake (``fit``) turns what cannot be encoded into text (a
100-bit integer becomes its digits). For each kind of event and each field it carries in the
repository's transcripts, the field is set to each odd value that still passes intake and validation,
and the event, after the ones before it, goes through the timeline store, every row, the detail pane's
renderable (rendered), the row texts a copy takes, the conversation's lines, the relay's summary of
the session (its row in the sessions list) and its held calls' countdowns. Nothing may raise: one
that did stopped the app when the row was drawn or selected (an ``apply_patch`` whose input is a list,
a usage event's ``"12"`` tokens, a tool's infinite duration).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import claude_transcripts, codex_rollouts
from rich.console import Console
from test_converters_odd_fields import fields
from test_tui_steering_unit import held_session
from test_viewer_support import Events

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.protocol import Event, ProtocolError, fit, validate_event
from watchkeeper.relay.summary import Summary
from watchkeeper.viewer.model import inbox, row_text, session_columns
from watchkeeper.viewer.model.conversation import Conversation
from watchkeeper.viewer.model.detail_render import render_detail
from watchkeeper.viewer.model.timeline_store import TimelineStore

ODD_VALUES = (["x"], {"odd": 1}, 10**30, -1, -(10**18), 1.5, 1e300, float("nan"), float("inf"), True, None, "",
              "12", "x" * 5)
#: Events before the changed one that go with it (its call's start, its session's).
CONTEXT = 15
NOW = 1_800_000_000.0


def path_keys(path: tuple[Any, ...]) -> str:
    return ".".join("[]" if isinstance(key, int) else str(key) for key in path)


def changed(event: Event, path: tuple[Any, ...], value: Any) -> Event | None:
    """``event`` with ``path`` set to ``value``, as the relay would take it from a peer; None if refused."""
    out = copy.deepcopy(event)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    out = fit(out)
    try:
        validate_event(out)
    except ProtocolError:
        return None
    return out


def steered() -> list[Event]:
    """A held call, the person's controls applied and refused, the session's end: kinds no transcript has."""
    e = Events("steered")
    return [*held_session(e, "Clean the build"),
            e.ev("control.applied", {"control": "deny", "call_id": "toolu_rm", "reason": "no", "message": "stop",
                                     "by": "me"}),
            e.ev("control.rejected", {"control": "pause", "reason": "not now"}),
            e.ev("state", {"state": "paused", "reason": "person"}),
            e.ev("agent.finished", {"agent_id": "sub", "status": "completed"}),
            e.ev("session.ended", {"reason": "done"})]


def sessions() -> Iterator[list[Event]]:
    yield Events().whole_session()
    yield steered()
    for path in claude_transcripts() + codex_rollouts():
        yield list(convert_file(path))


def cases() -> Iterator[tuple[list[Event], str]]:
    """(events, what changed) for the first event of each kind that carries each field."""
    seen: set[tuple[str, str]] = set()
    for events in sessions():
        for seq, event in enumerate(events):
            event["seq"] = seq
        for i, event in enumerate(events):
            envelope = {"data": event.get("data"), "ts": event.get("ts"), "agent": event.get("agent")}
            for where in fields(envelope):
                key = (str(event.get("kind")), path_keys(where))
                if key in seen:
                    continue
                seen.add(key)
                for value in ODD_VALUES:
                    odd = changed(event, where, value)
                    if odd is not None:
                        yield [events[0], *events[max(1, i - CONTEXT):i], odd], f"{key} = {value!r}"


def read_everything(events: list[Event]) -> None:
    console = Console(width=100, file=io.StringIO(), color_system="truecolor")
    summary = Summary(str(events[0]["session"]), "test")
    for event in events:
        summary.fold(event)
    row = session_columns.cells(summary.info, NOW)
    for key in session_columns.layout([row], 120):
        session_columns.fitted(row, key, 20)
    for held in summary.state.held.values():
        held.describe()
        inbox.countdown(held, NOW)
    store = TimelineStore()
    store.add(events)
    store.rebuild()
    for head in list(store.heads):
        store.row(head, now=NOW)
        call, shown = store.call_of(head), store.row_events(head)
        console.print(render_detail(shown, call, now=NOW))
        first = store.head_event(head)
        row_text.readable(first, call)
        row_text.json_lines(shown)
        row_text.parts(first, call, shown)
    conversation = Conversation(store)
    conversation.set_width(80)
    conversation.sync(store)
    for i in range(len(conversation.blocks)):
        if conversation.expandable(i):
            conversation.toggle(i)
        conversation.lines(i, now=NOW)


def test_every_odd_value_a_peer_may_send_is_read_without_an_error() -> None:
    tried = 0
    for events, what in cases():
        tried += 1
        try:
            read_everything(events)
        except Exception as e:
            pytest.fail(f"{what}: {type(e).__name__}: {e}")
    assert tried > 1000
