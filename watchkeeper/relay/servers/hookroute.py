"""Which steering a control for a hooked session acts through: Claude Code's or Codex's.

A session's hooks come by one path, ``/hook`` or ``/hook/codex``. One whose hooks came by both (an
installed hooks' credential is bound to no session, so it can name any) cannot be steered as a whole:
which agent a pause or an injection would reach is not known, and saying it applied could be false. There
a held call named by its id is decided by the steering that holds it, and anything else is refused,
saying why.
"""

from __future__ import annotations

from ...adapters.claude_code.steering import Steering
from ...protocol import ControlModel, Event, Kind, make_event
from ...protocol.controls import ControlResult, outcome_event

BOTH_PATHS = ("hooks for this session came by both the Claude Code and the Codex hook path, so one of them is "
              "not its agent's: only a held call named by its id can be decided")


def steering_for(control: ControlModel, steering: Steering, codex: Steering | None) -> Steering | None:
    """The steering the control acts through; None if the session's hooks came by both paths and it names
    no call either holds."""
    claude, other = steering.knows(control.session), codex is not None and codex.knows(control.session)
    if not (claude and other):
        return codex if other else steering
    for candidate in (steering, codex):
        state = candidate.state(control.session) if candidate is not None else None
        if control.call_id and state is not None and control.call_id in state["held"]:
            return candidate
    return None


def route(control: ControlModel, steering: Steering, codex: Steering | None) -> ControlResult:
    chosen = steering_for(control, steering, codex)
    if chosen is not None:
        return chosen.control(control)
    outcome = outcome_event(control, False, BOTH_PATHS, control.call_id)
    return ControlResult(outcome, [outcome])


def both_paths(session: str) -> Event:
    """Said in the session when its hooks first come by the second path."""
    return make_event(f"hook:{session}:both-paths", session, Kind.NOTICE,
                      {"level": "warning", "text": BOTH_PATHS, "code": "hooks-both-paths"})
