"""Claude Code hooks, both ways: a hook payload in, protocol events out; a decision in, the JSON reply out.

Pure: no I/O, no state. The shapes are Claude Code's hook contract (the JSON on
the hook's stdin, ``hookSpecificOutput`` in the reply), exercised against the real CLI by the live tests.
A hooked call uses the transcript adapter's ids (``tool:{tool_use_id}:started``
and ``:finished``), so the hook and the transcript report one call, and the
relay keeps whichever arrives first. Hook requests carry no id of their own:
the caller numbers them (``key``), which keeps each request's events distinct.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ...protocol import Capabilities, Event, Kind, Profile, json_text, make_event
from ...protocol.codec import finite
from ...protocol.envelope import iso
from ...protocol.kinds import WHY_OF_REASON, OnExpiry
from ...protocol.models import Isolation
from ...protocol.payloads import NoticeData, ToolFinishedData, ToolStartedData, ToolWaitingData
from .records import OUTPUT_LIMIT, cut, structured_result

SOURCE = "claude-code hooks"

#: What a hooked session can do: every control, through the hook replies.
STEERABLE = Capabilities(pause=True, resume=True, approve=True, deny=True, inject=True, cancel=True,
                         step=True, why="steerable through Claude Code hooks").model_dump()

#: Events whose reply may carry ``additionalContext`` for the next model call.
CONTEXT_EVENTS = frozenset({"PreToolUse", "PostToolUse", "UserPromptSubmit", "SessionStart"})


def session_of(payload: dict[str, Any]) -> str:
    sid = payload.get("session_id")
    return sid if isinstance(sid, str) and sid else "unknown"


def agent_of(payload: dict[str, Any]) -> str:
    agent = payload.get("agent_id")
    return agent if isinstance(agent, str) and agent else "main"


def call_id_of(payload: dict[str, Any]) -> str | None:
    cid = payload.get("tool_use_id")
    return cid if isinstance(cid, str) and cid else None


# --- payload -> events ------------------------------------------------------------


def announce(payload: dict[str, Any], prompts_here: bool = False) -> Event:
    """``session.started`` for a session first heard through its hooks: it says the session can be steered,
    and whether its permission prompts are answered here."""
    cwd = payload.get("cwd") if isinstance(payload.get("cwd"), str) else None
    mode = payload.get("permission_mode") if isinstance(payload.get("permission_mode"), str) else None
    caps = {**STEERABLE, "permission": prompts_here}
    profile = Profile(autonomy="pauses", observability=Capabilities(**caps),
                      isolation=Isolation(cwd=cwd, permission_mode=mode))
    session = session_of(payload)
    data = {"agent_kind": "claude-code", "title": None, "cwd": cwd, "model": None, "source": SOURCE,
            "capabilities": caps, "profile": profile.model_dump()}
    return make_event(f"hook:{session}:session", session, Kind.SESSION_STARTED, data)


def payload_events(payload: Any, key: str) -> list[Event]:
    """The events one hook request reports; ``key`` names the request (unique per relay run)."""
    if not isinstance(payload, dict):
        return [_raw("unknown", key, payload, "a hook payload must be a JSON object")]
    session = session_of(payload)
    agent = agent_of(payload)
    name = payload.get("hook_event_name")
    base = f"hook:{session}:{key}"
    if name in ("PreToolUse", "PostToolUse", "PostToolUseFailure"):
        cid = call_id_of(payload)
        if cid is None:
            return [_raw(session, key, payload, f"{name} without a tool_use_id")]
        if name == "PreToolUse":
            started: ToolStartedData = {"call_id": cid, "name": payload.get("tool_name"),
                                        "input": payload.get("tool_input")}
            return [make_event(f"tool:{cid}:started", session, Kind.TOOL_STARTED, started, agent=agent)]
        return [make_event(f"tool:{cid}:finished", session, Kind.TOOL_FINISHED, _finished(payload, cid),
                           agent=agent)]
    if name == "UserPromptSubmit":
        return [_state(base, session, agent, "running", "prompt submitted")]
    if name in ("Stop", "SubagentStop"):
        return [_state(base, session, agent, "idle", "stop hook: the agent would finish")]
    if name == "SessionStart":
        return [_state(base, session, agent, "idle", f"session {payload.get('source') or 'start'}")]
    if name == "SessionEnd":
        return [make_event(f"{base}:ended", session, Kind.SESSION_ENDED,
                           {"reason": payload.get("reason")}, agent=agent)]
    if name == "Notification":
        notice: NoticeData = {"level": "info", "text": str(payload.get("message") or ""),
                              "code": payload.get("notification_type") or "notification"}
        return [make_event(f"{base}:notice", session, Kind.NOTICE, notice, agent=agent)]
    if name == "PermissionRequest":
        return []  # steering reports it: held (tool.waiting) or left to the agent's terminal (a notice)
    return [_raw(session, key, payload, f"hook event {name!r} not understood")]


def waiting_event(payload: dict[str, Any], reason: str, rule: str | None = None,
                  timeout: float | None = None, fail_closed: bool = False, cid: str | None = None) -> Event:
    """``tool.waiting`` for a PreToolUse whose reply is held ``timeout`` seconds at most (as ``cid``, when
    the payload has no id of its own)."""
    cid = cid or call_id_of(payload) or "unknown"
    now = datetime.now(UTC)
    data: ToolWaitingData = {"call_id": cid, "reason": reason, "why": WHY_OF_REASON.get(reason, reason),
                             "rule": rule, "name": payload.get("tool_name"), "input": payload.get("tool_input"),
                             "since": iso(now), "expires_at": None, "on_expiry": None}
    if timeout is not None:
        data["expires_at"] = iso(now + timedelta(seconds=timeout))
        data["on_expiry"] = OnExpiry.DENY if fail_closed else OnExpiry.CONTINUE
    return make_event(f"tool:{cid}:waiting", session_of(payload), Kind.TOOL_WAITING, data,
                      ts=data["since"], agent=agent_of(payload))


def denied_event(session: str, agent: str, call_id: str, reason: str) -> Event:
    """A call the hook denied: the CLI will not run it (deny wins over every rule)."""
    data: ToolFinishedData = {"call_id": call_id, "status": "denied", "is_error": True, "output": reason,
                              "duration_ms": None}
    return make_event(f"tool:{call_id}:finished", session, Kind.TOOL_FINISHED, data, agent=agent)


def response_text(response: Any) -> str:
    """A PostToolUse ``tool_response`` as text: a shell's output, a string as is, anything else as JSON."""
    if isinstance(response, str):
        return response
    if isinstance(response, dict) and ("stdout" in response or "stderr" in response):
        out = str(response.get("stdout") or "")
        err = str(response.get("stderr") or "")
        return f"{out}\n{err}" if out and err else out or err
    if response is None:
        return ""
    return json_text(response, OUTPUT_LIMIT)


def _finished(payload: dict[str, Any], cid: str) -> ToolFinishedData:
    failed = payload.get("hook_event_name") == "PostToolUseFailure"
    if failed:
        output, truncated = cut(str(payload.get("error") or ""))
        status = "interrupted" if payload.get("is_interrupt") else "error"
    else:
        output, truncated = cut(response_text(payload.get("tool_response")))
        status = "ok"
    duration = payload.get("duration_ms")
    data: ToolFinishedData = {
        "call_id": cid, "status": status, "is_error": failed, "output": output,
        "duration_ms": finite(duration),
    }
    if truncated:
        data["truncated"] = truncated
    result = structured_result(payload.get("tool_response"))
    if result:
        data["result"] = result
    return data


def _state(base: str, session: str, agent: str, state: str, reason: str) -> Event:
    return make_event(f"{base}:state", session, Kind.STATE, {"state": state, "reason": reason}, agent=agent)


def _raw(session: str, key: str, payload: Any, error: str) -> Event:
    return make_event(f"hook:{session}:{key}:raw", session, Kind.RAW,
                      {"record": payload, "error": error, "source": SOURCE})


# --- decisions -> replies -------------------------------------------------------


def no_decision(event: str = "PreToolUse", context: str | None = None) -> dict[str, Any]:
    """``{}``: Claude Code's own permission rules decide, as if no hook were there."""
    if context and event in CONTEXT_EVENTS:
        return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": context}}
    return {}


def allow(context: str | None = None) -> dict[str, Any]:
    """Skips the CLI's permission prompt: only for an explicit approve or a step."""
    out: dict[str, Any] = {"hookEventName": "PreToolUse", "permissionDecision": "allow"}
    if context:
        out["additionalContext"] = context
    return {"hookSpecificOutput": out}


def deny(reason: str, context: str | None = None) -> dict[str, Any]:
    """The tool is not run; the model is told ``reason``."""
    out: dict[str, Any] = {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                           "permissionDecisionReason": reason}
    if context:
        out["additionalContext"] = context
    return {"hookSpecificOutput": out}


def stop_block(reason: str) -> dict[str, Any]:
    """A Stop reply that keeps the agent going with ``reason`` as its next input."""
    return {"decision": "block", "reason": reason}


def cancel(reason: str, event: str = "PreToolUse") -> dict[str, Any]:
    """End the turn: on PreToolUse the call is denied too (``continue:false`` alone still runs it)."""
    out = deny(reason) if event == "PreToolUse" else {}
    out.update({"continue": False, "stopReason": reason})
    return out


# --- settings: the hooks watchkeeper installs ------------------------------------

#: Seconds Claude Code waits for the short hooks (never held: answered at once).
QUICK_TIMEOUT = 10


def steering_hooks(url: str, token_var: str, hold_timeout: float, fail_closed: bool) -> dict[str, Any]:
    """The ``hooks`` settings that make a session steerable: only the events steering needs.

    Each hook costs the CLI ~40 ms per call, so no other event is installed.

    The token goes in as ``$VAR`` (read from the session's environment), never
    as its value. PreToolUse waits longer than the relay's hold timeout, so the
    relay's policy ends a hold, not the CLI; fail-closed blocks only the tool
    gate, so a stopped relay cannot lock the person out of their prompt.
    """

    def hook(timeout: float, block: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": "http", "url": url, "timeout": int(timeout),
                                 "headers": {"Authorization": f"Bearer ${token_var}"},
                                 "allowedEnvVars": [token_var]}
        if block:
            entry["onFailure"] = "block"
        return entry

    quick = hook(QUICK_TIMEOUT, False)
    return {
        "PreToolUse": [{"matcher": "*", "hooks": [hook(hold_timeout + 30, fail_closed)]}],
        # Never fail-closed: without an answer the CLI's own prompt (or, under -p, its rules) decides.
        "PermissionRequest": [{"matcher": "*", "hooks": [hook(hold_timeout + 30, False)]}],
        "PostToolUse": [{"matcher": "*", "hooks": [quick]}],
        "Stop": [{"hooks": [dict(quick)]}],
        "UserPromptSubmit": [{"hooks": [dict(quick)]}],
    }
