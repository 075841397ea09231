"""The controls table: each control's key, label, help and what it needs, written down once.

The viewer's keys, footer, controls area, palette and status bar, ``watchkeeper
ctl`` and the sources that honour controls all read this table, so a new
control (or a new key for one) is added here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .kinds import ControlKind

#: What the agent reads when the person denies a call without a reason of their own.
DEFAULT_DENY_REASON = "Denied by the user in watchkeeper"


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
)
#: The names alone, in the table's order.
CONTROL_NAMES: tuple[str, ...] = tuple(c.kind.value for c in CONTROLS)
#: Controls that act on a held call.
ON_A_CALL = frozenset(c.kind.value for c in CONTROLS if c.on_call)
#: With a call held, the controls that decide it come first.
HELD_ORDER: tuple[str, ...] = ("approve", "deny", "step", "resume", "inject", "cancel", "pause")


def honoured(caps: Mapping[str, Any]) -> list[str]:
    """The controls a source's capabilities say it honours, in ``ControlKind`` order."""
    return [kind.value for kind in ControlKind if caps.get(kind.value)]


def released(data: Mapping[str, Any]) -> list[str]:
    """The held calls a ``control.applied`` event lets go (approve, deny, step, resume, a hold's timeout).

    Its ``call_id``, then any further ``call_ids`` (one control can release
    several calls), each once.
    """
    ids: Iterable[Any] = (data.get("call_id"), *(data.get("call_ids") or ()))
    return list(dict.fromkeys(c for c in ids if isinstance(c, str)))
