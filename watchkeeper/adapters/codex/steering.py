"""Steering hooked Codex sessions: Claude Code's state machine with Codex's replies.

Everything :class:`~watchkeeper.adapters.claude_code.steering.Steering` does
holds here (pause, step, breakpoints, deny, inject, fail-open/closed, first
decision wins, permission prompts held where they are answered here), with
the differences Codex 0.171.0 imposes:

- approve cannot allow a call at PreToolUse (Codex honours only deny there):
  it answers no decision, so the call goes on under Codex's own approval and
  sandbox policy; the permission prompt Codex may then send for that call is
  allowed without asking again;
- cancel denies the held call, but cannot end the turn (a reply carrying
  ``continue: false`` makes Codex drop it whole and run the call);
- a PermissionRequest adds a ``description`` to the call's input, and is
  matched to the PreToolUse of the same turn, tool and input;
- no "always allow": Codex refuses a reply that adds rules, and offers none.
"""

from __future__ import annotations

from typing import Any

from ...protocol import ControlModel
from ..claude_code.holds import SteeredSession
from ..claude_code.steering import Steering, _Handled
from . import hooks as X


class CodexPrompts:
    """Codex's PermissionRequest: its key and its answers (no rules, no interrupt)."""

    #: Codex refuses an answer that adds rules, so "always allow" is never offered.
    adds_rules = False

    @staticmethod
    def call_key(payload: dict[str, Any]) -> bytes | None:
        """Turn, tool and input; None for an input too deep to encode (never matched: shown unattached)."""
        try:
            return repr((payload.get("turn_id"), payload.get("tool_name"), X.input_key(payload))).encode()
        except (TypeError, ValueError, RecursionError):
            return None

    @staticmethod
    def allow(rules: list[Any] | None = None) -> dict[str, Any]:
        return X.permission(True)

    @staticmethod
    def deny(reason: str, interrupt: bool = False) -> dict[str, Any]:
        return X.permission(False, reason)


class CodexSteering(Steering):
    """Every steered Codex session of one hook endpoint."""

    replies: Any = X
    prompts: Any = CodexPrompts
    ends_turn = False

    def _approve(self, s: SteeredSession, c: ControlModel) -> _Handled:
        hold = s.holds.get(c.call_id) if c.call_id else next(iter(s.holds.values()), None)
        if hold is not None and hold.prompt:
            return self._release(s, c, "allow", "approved: the agent's permission prompt is answered yes")
        return self._release(s, c, "allow", "approved: the call goes on under Codex's own sandbox and approval "
                                            "policy, and if Codex asks to run it (outside its sandbox, say), "
                                            "that prompt is answered yes")
