"""Texts in Codex records: message content, harness scaffolding, and the mirrors that repeat them.

Codex writes most conversation twice: the model-facing ``response_item`` and a
UI-facing copy (``event_msg/user_message``, ``agent_message``,
``agent_reasoning`` in older versions; ``event_msg/item_completed`` items in
0.171). Which copies exist depends on the version, so :class:`Mirrors` emits
whichever copy comes first and recognises the others by their text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

#: How harness-written "user" messages begin: context the CLI injects, not what the person typed.
SCAFFOLDING_PREFIXES = (
    "<environment_context",
    "<permissions instructions",
    "<user_instructions",
    "<developer_instructions",
    "<instructions>",
    "<skills",
    "<skill",
    "<user_shell_command",
    "<turn_aborted",
    "<subagent",
    "<collaboration_mode",
    "# agents.md instructions",
    "<agents_md",
)


def content_text(content: Any, hidden: str = "") -> str:
    """Join the text parts of a message ``content`` (a list of typed parts, or a plain string); an
    ``encrypted_content`` part (unreadable by design) is written as ``hidden``."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if isinstance(part, dict):
            text = part.get("text")
            if isinstance(text, str):
                parts.append(text)
            elif hidden and part.get("type") == "encrypted_content":
                parts.append(hidden)
        elif isinstance(part, str):
            parts.append(part)
    return "".join(parts)


def is_scaffolding(text: str, payload: dict[str, Any]) -> bool:
    """A ``response_item`` user message written by the harness, not typed by the person."""
    meta = payload.get("internal_chat_message_metadata_passthrough")
    if isinstance(meta, dict):
        items = meta.get("content_item_metadata")
        if isinstance(items, list):
            kinds = {
                i["provenance"].get("type")
                for i in items
                if isinstance(i, dict) and isinstance(i.get("provenance"), dict)
                and isinstance(i["provenance"].get("type"), str)
            }
            if "harness" in kinds:
                return True
            if kinds == {"user"}:
                return False
    head = text.lstrip()[:40].lower()
    return not head or head.startswith(SCAFFOLDING_PREFIXES)


def reasoning_texts(payload: dict[str, Any]) -> list[str]:
    """The readable parts of a ``response_item/reasoning``: summaries, then raw content."""
    texts = []
    for key in ("summary", "content"):
        parts = payload.get(key)
        if isinstance(parts, list):
            for p in parts:
                text = p.get("text") if isinstance(p, dict) else p if isinstance(p, str) else None
                if isinstance(text, str) and text.strip():
                    texts.append(text)
    return texts


def title_of(text: str, limit: int = 200) -> str:
    """A one-line title: whitespace collapsed, cut at ``limit`` characters."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


class Mirrors:
    """Which copy of a text is new.

    Counts each text per source: a copy is new only when its source has seen
    that text more often than any copy was emitted, so [A: x, B: x, A: x, B: x]
    emits x twice, whichever source writes first. With ``groups`` (source ->
    "ui" or "model"), a text from the other group on the very next line is
    taken as the copy of the one just emitted even if worded differently (a
    redacted or reformatted UI copy).
    """

    #: Mirrors sit next to each other; forgetting old texts keeps memory flat on long sessions.
    LIMIT = 2000

    def __init__(self, groups: dict[str, str] | None = None) -> None:
        self.groups = groups or {}
        self.emitted: Counter[str] = Counter()
        self.seen: dict[str, Counter[str]] = {}
        self._last: tuple[str, int] | None = None  # (group, line) of the last new text, until its copy

    def first(self, source: str, text: str, line: int = -1) -> bool:
        key = text.strip()
        seen = self.seen.setdefault(source, Counter())
        seen[key] += 1
        if seen[key] <= self.emitted[key]:
            self._last = None
            return False
        group, last = self.groups.get(source), self._last
        if group and last and last[0] != group and last[1] == line - 1:
            self._last = None
            return False
        if len(self.emitted) >= self.LIMIT:
            self.clear()
            self.seen[source] = Counter({key: 1})
        self.emitted[key] += 1
        self._last = (group, line) if group else None
        return True

    def clear(self) -> None:
        self.emitted.clear()
        self.seen.clear()
