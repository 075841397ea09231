"""The controls area above the status bar: the session's steering state and what the person can do.

A held call is named with why it waits (paused, step, the breakpoint rule
that fired); each control the session can take now is shown with its key,
and clicking it runs it. When the session cannot be steered at all, the
area says why instead (observe-only, not hooked, no control rights).
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.widgets import Static

from ...protocol.controls import CONTROL_NAMES, CONTROLS, HELD_ORDER
from ...protocol.display import visible
from ...protocol.session import Held, SessionState
from ..model.inbox import countdown
from ..model.rows import one_line, salient_input

#: control -> what the area shows for it: its key and label.
SHOWN = {c.kind.value: f"{c.key} {c.label}" for c in CONTROLS}


def controls_content(state: SessionState, why_not: Mapping[str, str | None], whole: str | None,
                     now: float | None = None, target: Held | None = None) -> Content:
    """The area's text: ``whole`` says why nothing can be steered; else the state and the usable controls.

    With ``now``, a held call that ends by itself says what happens then, counting down.
    """
    if whole is not None:
        return Content.assemble(("⊘ ", "$text-muted"), (visible(whole), "$text-muted"))
    parts: list[str | tuple[str, str]] = []
    held = target or state.oldest  # the call the keys act on
    if held is not None:
        what = visible(one_line(f"{held.name or '?'}  {salient_input(held.name, held.input)}".strip(), 40))
        parts += [("⏸ waiting ", "bold $background on $text-warning"), (" ", ""), (what, "$text-accent bold"),
                  (visible(f" — {held.describe()}"), "$text-warning")]
        if now is not None and held.expires_at is not None:
            parts.append((f" · {countdown(held, now)}", "$text-warning bold"))
        if len(state.held) > 1:
            parts.append((f" (+{len(state.held) - 1} more)", "$text-warning"))
    elif state.paused:
        parts += [("⏸ paused ", "bold $background on $text-warning"), (" the next tool call waits", "$text-warning")]
    else:
        parts.append(("● steerable", "$text-success"))
    if state.step:
        parts.append(("  [step mode]", "$text-warning bold"))
    parts.append(("   ", ""))
    for action in HELD_ORDER if held is not None else CONTROL_NAMES:
        if why_not.get(action) is None:
            parts += [(SHOWN[action], f"bold @click=screen.steer_{action}"), ("  ", "")]
    return Content.assemble(*parts)


class Controls(Static):
    """One line between the timeline and the status bar; hidden on a session that can never be steered."""

    DEFAULT_CSS = """
    Controls {
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        background: $panel;
        color: $foreground;
        display: none;
        &.-shown { display: block; }
        &.-held { background: $warning-muted; }
    }
    """

    _shown: tuple[object, ...] | None = None

    def show(self, state: SessionState, why_not: Mapping[str, str | None], whole: str | None,
             visible: bool = True, now: float | None = None, target: Held | None = None) -> None:
        """Update only when the text changes (a countdown, once a second): an update re-lays out the screen.
        ``target`` is the call the keys act on (the selected held call), else the oldest held call is."""
        held = target or state.oldest
        ticking = countdown(held, now) if held is not None and now is not None else None
        key = (whole, visible, state.paused, state.step, tuple(state.held), tuple(sorted(why_not.items(), key=str)),
               ticking, held.call_id if held else None)
        if key == self._shown:
            return
        self._shown = key
        self.set_class(visible, "-shown")
        self.set_class(bool(state.held) and whole is None, "-held")
        self.update(controls_content(state, why_not, whole, now, target))
