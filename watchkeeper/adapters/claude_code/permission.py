"""Claude Code's permission prompts (the ``PermissionRequest`` hook), answered from watchkeeper.

The hook fires when the CLI would ask the person (after PreToolUse, the
rules and the mode), without a ``tool_use_id``: the prompt is matched to
its call through the PreToolUse that came before it — same session, tool
and input. Two calls alike (parallel identical calls) cannot be told apart,
so such a prompt is shown unattached rather than guessed.

Seen on 2.1.332 (interactive, tmux): the CLI's own dialog shows while the
hook is pending, and whichever answers first wins — the person at the
agent's terminal or the hook. Under ``-p`` there is no dialog: the hook's
answer decides, and no decision is a denial by the CLI's rules.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ...protocol import Event, Kind, make_event
from ...protocol.envelope import iso
from ...protocol.kinds import HoldWhy, OnExpiry
from ...protocol.payloads import NoticeData, ToolWaitingData

EVENT = "PermissionRequest"
#: Claude Code takes the rules an "always allow" adds (``updatedPermissions``).
adds_rules = True
#: Calls remembered per session for matching (a PreToolUse not yet followed by its PostToolUse).
RECENT_KEPT = 256
#: Said where a prompt is not answered here.
ELSEWHERE = "needs permission — answer in the agent's terminal"


def input_key(tool: Any, tool_input: Any) -> bytes | None:
    """The call's tool and input, canonical: key order and spacing never matter.

    None for an input too deep (or odd) to encode: such a call is never matched, so its prompt shows
    unattached rather than guessed.
    """
    try:
        return orjson.dumps([tool, tool_input], option=orjson.OPT_SORT_KEYS)
    except (TypeError, RecursionError):
        return None


class Recent:
    """The calls of one session that a permission prompt may belong to."""

    def __init__(self) -> None:
        self._calls: OrderedDict[str, bytes] = OrderedDict()

    def started(self, call_id: str, key: bytes | None) -> None:
        """A PreToolUse for ``call_id``, keyed by :func:`call_key` (None: never matched)."""
        if key is None:
            return
        self._calls[call_id] = key
        self._calls.move_to_end(call_id)
        while len(self._calls) > RECENT_KEPT:
            self._calls.popitem(last=False)

    def finished(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def match(self, key: bytes | None) -> str | None:
        """The one call a prompt with this key is about; None when none or more than one fits."""
        if key is None:
            return None
        found = [cid for cid, k in self._calls.items() if k == key]
        return found[0] if len(found) == 1 else None


def call_key(payload: dict[str, Any]) -> bytes | None:
    """What a PreToolUse and the PermissionRequest for the same call have in common: tool and input."""
    return input_key(payload.get("tool_name"), payload.get("tool_input"))


def allow(rules: list[Any] | None = None) -> dict[str, Any]:
    """Allow: once (no ``updatedPermissions``, no rule added), or with the rules the person chose to add."""
    decision: dict[str, Any] = {"behavior": "allow"}
    if rules:
        decision["updatedPermissions"] = rules
    return {"hookSpecificOutput": {"hookEventName": EVENT, "decision": decision}}


def suggestions(payload: dict[str, Any]) -> list[Any]:
    """The rules the CLI offers to add ("always allow"), as it sent them."""
    found = payload.get("permission_suggestions")
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


def rule_text(rules: list[Any]) -> str | None:
    """The rules verbatim, for the person to read before choosing them."""
    if not rules:
        return None
    try:
        return orjson.dumps(rules).decode()
    except (TypeError, RecursionError):
        return None  # a rule too deep to show is not offered: it could not be read before choosing


def deny(reason: str, interrupt: bool = False) -> dict[str, Any]:
    """The CLI refuses the call; the model reads ``reason`` as the tool result."""
    decision: dict[str, Any] = {"behavior": "deny", "message": reason}
    if interrupt:
        decision["interrupt"] = True
    return {"hookSpecificOutput": {"hookEventName": EVENT, "decision": decision}}


def elsewhere(session: str, agent: str, key: str, payload: dict[str, Any], why: str) -> Event:
    """The prompt is left to the agent's terminal: said in the session, with the call."""
    tool = payload.get("tool_name")
    data: NoticeData = {"level": "warning", "text": f"{tool or 'a tool'} {ELSEWHERE} ({why})",
                        "code": "permission-elsewhere"}
    return make_event(f"hook:{session}:{key}:permission", session, Kind.NOTICE, data, agent=agent)


def waiting(session: str, agent: str, call_id: str, payload: dict[str, Any], timeout: float,
            attached: bool = True, always_rule: str | None = None) -> Event:
    """``tool.waiting`` (why: permission) for a held prompt; at its expiry the CLI's own prompt decides.

    ``attached``: matched to its call; else ``call_id`` names the prompt alone. ``always_rule``: the rules
    "always allow" would add, as shown to the person (None: no such choice)."""
    now = datetime.now(UTC)
    data: ToolWaitingData = {"call_id": call_id, "reason": "permission", "why": HoldWhy.PERMISSION, "rule": None,
                             "name": payload.get("tool_name"), "input": payload.get("tool_input"),
                             "since": iso(now), "expires_at": iso(now + timedelta(seconds=timeout)),
                             "on_expiry": OnExpiry.CONTINUE, "always_rule": always_rule,
                             "attached": attached}
    return make_event(f"tool:{call_id}:permission", session, Kind.TOOL_WAITING, data, ts=data["since"],
                      agent=agent)
