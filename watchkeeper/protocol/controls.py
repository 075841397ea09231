"""The controls table: each control's key, label, help and what it needs, written down once.

The viewer's keys, footer, controls area, palette and status bar, ``watchkeeper
ctl`` and the sources that honour controls all read this table, so a new
control (or a new key for one) is added here and nowhere else.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .envelope import Event, make_event
from .kinds import ControlKind, Kind
from .models import ControlModel
from .payloads import ControlOutcomeData

#: What the agent reads when the person denies a call without a reason of their own.
DEFAULT_DENY_REASON = "Denied by the user in watchkeeper"
#: Why no control reaches an ended session, whatever its capabilities said while it ran.
ENDED_REASON = "the session ended: nothing is held, and no control can reach its agent"
#: Outcomes (and decisions) remembered per source for repeated controls; the oldest are forgotten first.
OUTCOMES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class ControlSpec:
    """One control, as the person meets it."""

    kind: ControlKind
    #: The key that sends it on a session screen.
    key: str
    #: Its label in the controls area ("…": it asks for something first).
    label: str
    #: What it does, for the command palette.
    help: str
    #: It acts on a held call (the oldest, or the one named).
    on_call: bool = False
    #: It carries the person's text (the message, or the reason the agent reads).
    takes_text: bool = False


#: Every control, in the order the controls area and the footer list them.
CONTROLS: tuple[ControlSpec, ...] = (
    ControlSpec(ControlKind.PAUSE, "p", "pause", "Hold the agent's next tool call until you resume"),
    ControlSpec(ControlKind.RESUME, "r", "resume",
                "Let held calls go on (under the agent's own permission rules) and stop pausing"),
    ControlSpec(ControlKind.APPROVE, "y", "approve", "Let the selected waiting call run", on_call=True),
    ControlSpec(ControlKind.DENY, "n", "deny…", "Refuse the selected waiting call, with the reason the agent reads",
                on_call=True, takes_text=True),
    ControlSpec(ControlKind.STEP, "s", "step",
                "Step mode: approve each tool call (steps the waiting call, the next one waits)"),
    ControlSpec(ControlKind.INJECT, "i", "inject…", "Send the agent a message at its next tool boundary",
                takes_text=True),
    ControlSpec(ControlKind.CANCEL, "C", "cancel", "End the agent's turn (a held call is denied)"),
    ControlSpec(ControlKind.END, "E", "end…",
                "End the session: stop the agent watchkeeper started (its pending requests answered cancelled)"),
)
#: The names alone, in the table's order.
CONTROL_NAMES: tuple[str, ...] = tuple(c.kind.value for c in CONTROLS)
#: Controls that act on a held call.
ON_A_CALL = frozenset(c.kind.value for c in CONTROLS if c.on_call)
#: With a call held, the controls that decide it come first.
HELD_ORDER: tuple[str, ...] = ("approve", "deny", "step", "resume", "inject", "cancel", "pause", "end")


def honoured(caps: Mapping[str, Any]) -> list[str]:
    """The controls a source's capabilities say it honours, in ``ControlKind`` order."""
    return [kind.value for kind in ControlKind if caps.get(kind.value)]


def released(data: ControlOutcomeData) -> list[str]:
    """The held calls a ``control.applied`` event lets go (approve, deny, step, resume, a hold's timeout).

    Its ``call_id``, then any further ``call_ids`` (one control can release
    several calls), each once.
    """
    ids: Iterable[Any] = (data.get("call_id"), *(data.get("call_ids") or ()))
    return list(dict.fromkeys(c for c in ids if isinstance(c, str)))


@dataclass(slots=True)
class ControlResult:
    """What a source that honours controls answers one with."""

    #: the control's one outcome (``control.applied`` or ``control.rejected``).
    outcome: Event
    #: what goes in the session's stream: the outcome first, then what it did; empty for a repeated control.
    events: list[Event]

    @property
    def applied(self) -> bool:
        return self.outcome["kind"] == Kind.CONTROL_APPLIED

    @property
    def repeated(self) -> bool:
        """The control id was seen before: it acted no more (a fresh outcome is always in ``events``)."""
        return not self.events


def outcome_event(c: ControlModel, applied: bool, reason: str, call_id: str | None,
                  call_ids: Sequence[str] = ()) -> Event:
    """A control's outcome event: what it was, who sent it, what it did or why not, the calls it acted on."""
    data: ControlOutcomeData = {"control_id": c.id, "control": str(c.control), "by": c.by, "reason": reason,
                                "call_id": call_id, "sent_ts": c.ts}
    if len(call_ids) > 1:
        data["call_ids"] = list(call_ids)
    if c.text is not None:
        data["text"] = c.text
    if c.control == ControlKind.DENY and c.reason:
        data["message"] = c.reason
    return make_event(f"control:{c.id}", c.session, Kind.CONTROL_APPLIED if applied else Kind.CONTROL_REJECTED, data)


def hold_ended(session: str, call_id: str, what: str, reason: str) -> Event:
    """A held call let go by its policy, not by a person (``what``: abandoned, timeout, unwatched, …)."""
    data: ControlOutcomeData = {"control_id": f"{what}:{call_id}", "control": what, "by": "watchkeeper",
                                "call_id": call_id, "reason": reason}
    return make_event(f"hold:{call_id}:{what}", session, Kind.CONTROL_APPLIED, data)


class Outcomes:
    """Each control id's first outcome, per session: a control re-sent with its id acts once."""

    def __init__(self, kept: int = OUTCOMES_KEPT) -> None:
        self._kept = kept
        self._seen: OrderedDict[tuple[str, str], Event] = OrderedDict()

    def seen(self, c: ControlModel) -> Event | None:
        return self._seen.get((c.session, c.id))

    def keep(self, c: ControlModel, outcome: Event) -> None:
        self._seen[(c.session, c.id)] = outcome
        while len(self._seen) > self._kept:
            self._seen.popitem(last=False)
