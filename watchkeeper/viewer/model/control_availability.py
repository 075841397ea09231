"""What the person can do to a session right now, and why not: pure, so it is tested without an app.

The steering state (paused, step mode, the calls held and why) is the
session's ``protocol.session.SessionState``, folded from the stream alone, so
every viewer of a session (and a replay of its record) agrees.
:func:`unavailable` says, per control, why it cannot be sent: the source
cannot honour it (the capabilities), this viewer may not send it, or there is
nothing to act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...protocol.controls import CONTROL_NAMES, ON_A_CALL
from ...protocol.session import SessionState

#: What to do to make a Claude Code session steerable.
HOW_TO_HOOK = "start it with `watchkeeper run -- claude`, or run `watchkeeper hooks install` and start a new one"
#: And a Codex session (whose hooks run only once the person trusted them).
HOW_TO_HOOK_CODEX = ("start it with `watchkeeper run -- codex` and trust its hook when asked, or run "
                     "`watchkeeper hooks install --codex` and start a new one")


@dataclass
class SteerSetup:
    """What this viewer steers through; the app holds one (``commands/watch.py`` builds it)."""

    #: The port of the hook endpoint running in this process, if it started.
    hooks_port: int | None = None
    #: Why it did not (the port was taken, ...): Claude Code sessions are then watched here, not steered.
    hooks_error: str | None = None
    #: The breakpoint rules the palette edits: a ``watchkeeper.breakpoints.Book``, or under ``attach`` a
    #: list of each remote relay's ``RemoteBook`` (or a callable returning it: a hub's edges come and go);
    #: None: no breakpoints here.
    breakpoints: Any = None
    #: Why no control may be sent from this viewer at all (a remote relay without control rights).
    blocked: str | None = None
    #: Said once when the app starts (a notice each).
    notices: list[str] = field(default_factory=list)

    @property
    def hooks_reason(self) -> str | None:
        if self.hooks_error:
            return f"this watchkeeper has no hook endpoint ({self.hooks_error})"
        return None


def source_reason(caps: Mapping[str, Any], agent_kind: str | None = None, hooks: str | None = None) -> str | None:
    """Why this session cannot be steered at all (None if some control is honoured).

    ``hooks`` says whether this viewer's hook endpoint runs: None when it
    does, else why not (a Claude Code session can then not be steered here).
    """
    if any(caps.get(name) for name in CONTROL_NAMES):
        return None
    why = str(caps.get("why") or "observe-only: this source cannot be steered")
    if agent_kind == "claude-code":
        if hooks is not None:
            return f"{why} — not hooked: {hooks}"
        return f"{why} — not hooked: {HOW_TO_HOOK}"
    if agent_kind == "codex":
        return f"{why} — not hooked: {hooks or HOW_TO_HOOK_CODEX}"
    return why


def unavailable(action: str, caps: Mapping[str, Any], state: SessionState, *, agent_kind: str | None = None,
                hooks: str | None = None, blocked: str | None = None) -> str | None:
    """None if ``action`` can be sent now; else why not, in the person's words.

    ``blocked`` refuses every control for this viewer (a remote relay that
    gave no control rights, a relay that takes no controls).
    """
    if blocked:
        return blocked
    whole = source_reason(caps, agent_kind, hooks)
    if whole is not None:
        return whole
    if not caps.get(action):
        extra = f" ({caps['why']})" if caps.get("why") else ""
        return f"this session's source cannot {action}{extra}"
    return state_reason(action, state)


def state_reason(action: str, state: SessionState) -> str | None:
    """Why ``action`` has nothing to act on now (the source could honour it)."""
    if action in ON_A_CALL and not state.held:
        return "no call is waiting"
    if action == "pause" and state.paused:
        return "already paused"
    if action == "resume" and not (state.paused or state.step or state.held):
        return "not paused"
    return None


def inject_note(agent_kind: str | None, sources: Iterable[str], state: SessionState) -> str:
    """Where and when an injected message reaches the agent, for the inject dialog."""
    held = state.oldest
    if agent_kind == "sdk":
        return "The agent gets it from its next `checkpoint()` call, as a message to act on."
    if agent_kind == "codex":
        now = (f"A call is held now ({held.name or 'a tool'}): the message goes out with the reply to it.\n"
               if held else "")
        return (f"{now}Codex gets it as additional context on its next hook reply (before or after its next "
                "tool call, or when you next prompt it); if it would stop first, its Stop hook keeps it going "
                "with your message.")
    if "claude-code hooks" in sources or agent_kind == "claude-code":
        now = (f"A call is held now ({held.name or 'a tool'}): the message goes out with the reply to it, "
               "when you approve, deny, step or resume.\n") if held else ""
        return (f"{now}Claude Code gets it as additional context on its next hook reply: at the next tool "
                "boundary, just before or after its next tool call. If it would stop first, the Stop hook "
                "keeps it going with your message as its next instruction.")
    return "The session's source delivers it at the agent's next opportunity."
