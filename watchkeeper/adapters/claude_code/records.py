"""Reading one Claude Code record, or one content block, into plain values.

No state and no I/O: the converter decides ids and order; these functions only
know the shapes, which drift between CLI versions (``tests/canary.py`` reports
new ones against the real CLIs), so every field may be missing or null.
"""

from __future__ import annotations

from typing import Any

from ...protocol.codec import as_text, finite, json_object_text

#: The newest CLI version whose format was checked; newer ones get a notice.
NEWEST_KNOWN = "2.1.332"

#: tool.finished output beyond this many bytes is cut (``truncated`` says how much).
OUTPUT_LIMIT = 256 * 1024

#: The tool that starts a subagent: ``Task`` in 2.1.197, ``Agent`` elsewhere.
TASK_TOOLS = frozenset({"Task", "Agent"})

#: Records that are understood and deliberately produce no event: bookkeeping
#: of the CLI (2.1.33x request log, file backups, hook progress), not conversation.
SILENT_TYPES = frozenset({
    "api-request-shape", "api-request-blob", "api-request", "atis-latch", "tools-used",
    "file-history-snapshot", "last-prompt",
})

#: Attachments that only restate context the CLI gives the model on every turn.
SILENT_ATTACHMENTS = frozenset({
    "prompt_snapshot", "skill_listing", "agent_listing_delta", "deferred_tools_delta", "environment",
    "session_context", "date", "remote_session_change", "auto_mode", "model", "mcp_instructions_delta",
    "nested_memory", "critical_system_reminder", "plan_mode", "todo_reminder",
})

#: Keys of a structured ``toolUseResult`` worth keeping beside the text output
#: (diff hunks for the viewer, subagent links); the rest repeats the output.
RESULT_KEYS = frozenset({
    "type", "filePath", "structuredPatch", "userModified", "replaceAll", "interrupted", "stderr",
    "returnCodeInterpretation", "exitCode", "agentId", "agentType", "status", "isAsync",
    "totalTokens", "totalToolUseCount", "totalDurationMs", "numFiles", "durationMs",
})

_DENIAL_MARKERS = (
    "hook error", "doesn't want to proceed", "haven't granted", "was rejected", "permission denied",
    "Permission to use",
)
_ERROR_PREFIXES = ("Error", "<tool_use_error>", "Cancelled:")
_COMMAND_OUTPUT = ("<local-command-stdout>", "<local-command-stderr>", "<bash-stdout>", "<bash-stderr>")


def version_tuple(version: Any) -> tuple[int, ...] | None:
    """``"2.1.332"`` -> ``(2, 1, 332)``; None for anything that is not a dotted version."""
    if not isinstance(version, str) or not version:
        return None
    out = []
    for part in version.split(".")[:4]:
        digits = ""
        for ch in part:
            if not "0" <= ch <= "9":  # not ``isdigit``: "¹" is a digit there, and int() refuses it
                break
            digits += ch
        if not digits or len(digits) > 18:  # past 4,300 digits int() refuses; no version has 19
            return None
        out.append(int(digits))
    return tuple(out)


_NEWEST = version_tuple(NEWEST_KNOWN)


def is_newer_than_known(version: Any) -> bool:
    v = version_tuple(version)
    return v is not None and _NEWEST is not None and v > _NEWEST


#: No blocks (shared: never appended to).
_NONE: list[Any] = []


def text_of(content: Any) -> tuple[str, int, int, list[Any]]:
    """The text of a user message from a string or a block list: (text, images, tool_results, and the
    blocks it could not read, for the caller to show raw)."""
    if isinstance(content, str):
        return content, 0, 0, _NONE
    if not isinstance(content, list):
        return "", 0, 0, _NONE
    parts: list[str] = []
    images = results = 0
    odd = _NONE
    for block in content:
        kind = block.get("type") if type(block) is dict else None
        if kind == "text":
            text = block.get("text")
            if type(text) is str:
                parts.append(text)
                continue
        elif kind == "tool_result":
            results += 1
            continue
        elif kind == "image" or kind == "document":
            images += 1
            continue
        elif type(block) is str:
            parts.append(block)
            continue
        if odd is _NONE:
            odd = []
        odd.append(block)
    return "\n".join(parts), images, results, odd


def user_origin(rec: dict[str, Any], text: str) -> str:
    """Why this user text is in the transcript: a typed prompt, or something the CLI wrote."""
    if rec.get("isCompactSummary"):
        return "compact-summary"
    if rec.get("isMeta"):
        return "meta"
    head = text[:300].lstrip()
    if head.startswith("[Request interrupted by user"):
        return "interrupt"
    if "<command-name>" in head or head.startswith("<command-message>"):
        return "command"
    if head.startswith(_COMMAND_OUTPUT):
        return "command-output"
    if head.startswith("<bash-input>"):
        return "shell"
    if head.startswith("<task-notification>"):
        return "task-notification"
    if head.startswith("Stop hook feedback:"):
        return "hook-feedback"
    if rec.get("isSynthetic"):
        return "synthetic"
    return "prompt"


def tag(text: str, name: str) -> str | None:
    """The text inside the first ``<name>…</name>``, if any."""
    start = text.find(f"<{name}>")
    if start < 0:
        return None
    start += len(name) + 2
    end = text.find(f"</{name}>", start)
    return text[start:end].strip() if end >= 0 else None


def command_text(text: str) -> str:
    """``<command-name>/x</command-name>…<command-args>a</command-args>`` -> ``/x a``."""
    name = tag(text, "command-name") or tag(text, "command-message") or ""
    args = tag(text, "command-args") or ""
    return f"{name} {args}".strip() or text


def command_output(text: str) -> str:
    """The output of a local command or ``!`` shell line, without its wrapper tags."""
    parts = [tag(text, name) for name in ("local-command-stdout", "local-command-stderr", "bash-stdout", "bash-stderr")]
    shown = "\n".join(p for p in parts if p)
    return shown or text


def task_notification(text: str) -> dict[str, str | None] | None:
    """The fields of a background subagent's ``<task-notification>``."""
    if "<task-notification>" not in text:
        return None
    return {
        "agent_id": tag(text, "task-id"),
        "call_id": tag(text, "tool-use-id"),
        "status": tag(text, "status"),
        "summary": tag(text, "summary"),
    }


def agent_id_in_text(text: str) -> str | None:
    """A Task result's trailer ``agentId: a42934b12dd9d9ea8 (use SendMessage …)``."""
    at = text.find("agentId: ")
    if at < 0:
        return None
    at += 9
    end = at
    while end < len(text) and (text[end].isalnum() or text[end] in "-_"):
        end += 1
    return text[at:end] or None


#: Tool input as an object; CLIs before 2.1.92 stored it as a JSON string.
tool_input = json_object_text


def cut(text: str) -> tuple[str, int]:
    """Text cut to OUTPUT_LIMIT bytes, and how many bytes were cut."""
    if len(text) * 4 <= OUTPUT_LIMIT:
        return text, 0
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= OUTPUT_LIMIT:
        return text, 0
    return raw[:OUTPUT_LIMIT].decode("utf-8", "ignore"), len(raw) - OUTPUT_LIMIT


def result_output(content: Any) -> tuple[str, int]:
    """A tool_result's content as the text the model saw, and the bytes cut from it."""
    if isinstance(content, str):
        return cut(content)
    if content is None:
        return "", 0
    if not isinstance(content, list):
        return cut(as_text(content) or "")
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            parts.append(block if isinstance(block, str) else as_text(block) or "")
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text") or ""))
        elif kind == "image":
            source = block.get("source")
            media = source.get("media_type") if isinstance(source, dict) else None
            parts.append(f"[image {media or ''}]".replace(" ]", "]"))
        elif kind == "tool_reference":
            parts.append(f"[tool {block.get('tool_name') or block.get('name') or ''}]")
        else:
            parts.append(f"[{kind}]")
    return cut("\n".join(parts))


def result_status(flag: Any, structured: Any, output: str) -> tuple[str, bool]:
    """(status, is_error) of a tool_result. ``is_error`` may be true, false, absent or null;
    absent/null means success unless the result is one of the CLI's error strings."""
    if flag is True:
        is_error = True
    elif flag is None:
        is_error = output.startswith("<tool_use_error>") or (
            isinstance(structured, str) and structured.startswith(_ERROR_PREFIXES)
        )
    else:
        is_error = False
    if not is_error:
        if type(structured) is dict and structured.get("interrupted") is True:
            return "interrupted", False
        return "ok", False
    head = output[:400]
    if "[Request interrupted by user" in head or "Cancelled: parallel tool call" in head or (
        type(structured) is dict and structured.get("interrupted") is True
    ):
        return "interrupted", True
    if any(marker in head for marker in _DENIAL_MARKERS):
        return "denied", True
    return "error", True


def structured_result(structured: Any) -> dict[str, Any] | None:
    """The parts of ``toolUseResult`` the text output does not already carry."""
    if not isinstance(structured, dict):
        return None
    kept = {k: v for k, v in structured.items() if k in RESULT_KEYS and v is not None}
    stderr = kept.get("stderr")
    if isinstance(stderr, str) and len(stderr) > 4096:
        kept["stderr"] = stderr[:4096]
    return kept or None


def result_duration(structured: Any) -> float | None:
    if isinstance(structured, dict):
        for key in ("durationMs", "totalDurationMs", "duration_ms"):
            value = finite(structured.get(key))
            if value is not None:
                return value
    return None


_LEVELS = {"error": "error", "warning": "warning", "warn": "warning"}


def system_notice(rec: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """(level, code, text, extra) of a ``system`` record."""
    sub = rec.get("subtype") or "system"
    level = _LEVELS.get(str(rec.get("level")), "info")
    extra: dict[str, Any] = {}
    if sub == "compact_boundary":
        meta = _dict(rec.get("compactMetadata"))
        trigger, pre = meta.get("trigger"), meta.get("preTokens")
        extra = {"trigger": trigger, "pre_tokens": pre}
        text = f"Conversation compacted ({trigger or 'unknown'} trigger, {pre or '?'} tokens before)"
        return "info", "compaction", text, extra
    if sub == "microcompact_boundary":
        return "info", "microcompaction", "Old tool results cleared from the context", extra
    if sub == "api_error":
        error = _dict(rec.get("error"))
        status, said = error.get("status"), error.get("message") or _dict(error.get("error")).get("message")
        attempt, most = rec.get("retryAttempt"), rec.get("maxRetries")
        extra = {"status": status, "retry_attempt": attempt, "max_retries": most}
        text = "API error" + (f" {status}" if status is not None else "") + (f": {said}" if said else "")
        if attempt is not None:
            text += f", retry {attempt}" + (f"/{most}" if most is not None else "")
        return "error", "api-error", text, extra
    if sub == "stop_hook_summary":
        count = rec.get("hookCount")
        prevented = bool(rec.get("preventedContinuation"))
        errors = rec.get("hookErrors") or []
        extra = {"hook_count": count, "prevented_continuation": prevented, "errors": errors}
        text = f"{count} stop hook(s) ran" + (" and kept the agent going" if prevented else "")
        return ("warning" if errors else "info"), "stop-hooks", text, extra
    if sub == "turn_duration":
        extra = {"duration_ms": rec.get("durationMs")}
        return "info", "turn-duration", f"Turn took {rec.get('durationMs')} ms", extra
    content = rec.get("content")
    text = content if isinstance(content, str) else ""
    if sub == "local_command":
        text = tag(text, "local-command-stdout") or tag(text, "local-command-stderr") or text
        return level, "local-command", text, extra
    return level, str(sub), text or str(sub), extra


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def attachment_notice(att: dict[str, Any]) -> tuple[str, str] | None:
    """(code, text) for an attachment worth showing; None for restated context."""
    kind = as_text(att.get("type"))
    if kind in SILENT_ATTACHMENTS:
        return None
    kind = str(kind or "unknown")
    if kind in ("hook_success", "hook_non_blocking_error", "hook_blocking_error"):
        return f"attachment.{kind}", hook_outcome(kind, att)
    for key in ("content", "text", "prompt", "stdout", "hookName", "filename", "displayPath", "path"):
        value = att.get(key)
        if isinstance(value, str) and value:
            return f"attachment.{kind}", value[:500]
    return f"attachment.{kind}", kind.replace("_", " ")


def hook_outcome(kind: str, att: dict[str, Any]) -> str:
    """``PreToolUse:Bash hook ok`` — plus what it said, unless that was nothing (``{}`` from an http hook)."""
    name = att.get("hookName") or att.get("hookEvent") or "hook"
    said = next((v.strip() for v in (att.get("content"), att.get("stderr"), att.get("stdout"))
                 if isinstance(v, str) and v.strip() not in ("", "{}")), "")
    verdict = "ok" if kind == "hook_success" else kind.removeprefix("hook_").replace("_", " ")
    return f"{name} hook {verdict}" + (f": {said[:400]}" if said else "")


def meta_notice(rec: dict[str, Any], kind: str) -> str:
    """One line for the small metadata records (titles, modes, PR links, …)."""
    for key in ("customTitle", "aiTitle", "title", "agentName", "permissionMode", "mode", "prUrl", "url",
                "summary", "reason", "content"):
        value = rec.get(key)
        if isinstance(value, str) and value:
            return value[:500]
    return kind
