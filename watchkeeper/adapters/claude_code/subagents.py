"""Subagents: which file is one, where a session's subagent files are, which call spawned which.

Claude Code has written subagents three ways:

1. up to 2.0.27, sidechain records inside the session file (``isSidechain``, no
   ``agentId``): linked to the Task call by the prompt, else by order;
2. 2.0.28–2.1.1, ``<project>/agent-<id>.jsonl`` beside the session file;
3. from 2.1.2, ``<project>/<session>/subagents/agent-<id>.jsonl`` with an
   ``agent-<id>.meta.json`` sidecar naming the parent's ``toolUseId``.

The path decides whether a converter reads a subagent; the small sidecar is
read once, when the converter is made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..files.tail import open_regular


@dataclass(frozen=True, slots=True)
class SubagentFile:
    agent_id: str
    #: The parent session's id when the layout says it (``<session>/subagents/``).
    session: str | None
    #: The ``.meta.json`` sidecar (agentType, description, toolUseId), or {}.
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def parent_call_id(self) -> str | None:
        value = self.meta.get("toolUseId")
        return value if isinstance(value, str) and value else None


def agent_id_of(path: Path) -> str | None:
    """``agent-a42934b12dd9d9ea8.jsonl`` -> ``a42934b12dd9d9ea8``."""
    name = path.name
    if name.startswith("agent-") and name.endswith(".jsonl") and len(name) > 12:
        return name[6:-6]
    return None


def identify(path: Path) -> SubagentFile | None:
    """The subagent a transcript path belongs to, or None for a session's own file."""
    agent_id = agent_id_of(path)
    if agent_id is None:
        return None
    parts = path.parts[:-1]
    session = None
    if "subagents" in parts:
        at = len(parts) - 1 - parts[::-1].index("subagents")
        session = parts[at - 1] if at > 0 else None
    return SubagentFile(agent_id, session, read_meta(path.with_name(f"agent-{agent_id}.meta.json")))


def read_meta(path: Path) -> dict[str, Any]:
    """The sidecar's object, or {} when it is missing, unreadable, not JSON or not a regular file."""
    try:
        with os.fdopen(open_regular(path), "rb") as f:
            meta = orjson.loads(f.read())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def subagent_files(path: Path | str, session_id: str | None = None) -> list[Path]:
    """The subagent transcripts of the session file ``path``, in both file layouts.

    ``session_id`` defaults to the file's stem (Claude Code names the file by it).
    Files beside the session (``agent-*.jsonl``) belong to it when their first
    record names it. In-file sidechains need no file; a subagent file has none.
    A name in the session's own ``subagents/`` is listed even when it is not a
    regular file (a FIFO): its reader says so instead of reading it.
    """
    path = Path(path)
    if agent_id_of(path) is not None:
        return []
    sid = session_id or path.stem
    found: list[Path] = []
    nested = path.parent / sid / "subagents"
    if nested.is_dir():
        found.extend(sorted(nested.rglob("agent-*.jsonl")))
    try:
        beside = sorted(path.parent.glob("agent-*.jsonl"))
    except OSError:
        beside = []
    found.extend(p for p in beside if _first_session(p) == sid)
    return found


def _first_session(path: Path) -> str | None:
    """The ``sessionId`` of the first record that has one (among the first few lines)."""
    try:
        with os.fdopen(open_regular(path), "rb") as f:
            for _ in range(8):
                line = f.readline(1 << 20)
                if not line:
                    break
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("sessionId"), str):
                    return str(rec["sessionId"])
    except OSError:
        pass
    return None


@dataclass(slots=True)
class TaskCall:
    call_id: str
    prompt: str | None
    agent_type: str | None
    description: str | None
    ts: str | None = None
    agent_id: str | None = None
    #: The tool_result's status and timestamp, once it arrived.
    finished: str | None = None
    finished_ts: str | None = None


class TaskLinks:
    """Task/Agent calls of one file and the subagents they spawned.

    Explicit links (sidecar ``toolUseId``, ``toolUseResult.agentId``,
    ``agent_progress``, a task notification) are simply recorded. In-file
    sidechains carry no id, so they are matched: the unlinked call with the
    same prompt, else the latest unlinked call, else the call that was running
    when the sidechain began; a sidechain seen before any call waits as an
    orphan for the next call.
    """

    def __init__(self) -> None:
        self.calls: dict[str, TaskCall] = {}
        self.orphans: list[tuple[str, str | None]] = []
        self.linked: set[tuple[str, str]] = set()

    def add_call(self, call: TaskCall) -> str | None:
        """Register a call; returns the orphan sidechain it adopts (same prompt, or one of the two
        prompts unknown), if any."""
        self.calls[call.call_id] = call
        pick = next((i for i, (_, p) in enumerate(self.orphans) if p and p == call.prompt), None)
        if pick is None:
            pick = next((i for i, (_, p) in enumerate(self.orphans) if not (p and call.prompt)), None)
        if pick is None:
            return None
        agent_id, _ = self.orphans.pop(pick)
        call.agent_id = agent_id
        return agent_id

    def match_sidechain(self, agent_id: str, prompt: str | None, ts: str | None) -> TaskCall | None:
        """The call that most likely spawned a new in-file sidechain (None: kept as an orphan)."""
        free = [c for c in self.calls.values() if c.agent_id is None]
        if free:
            call = next((c for c in free if prompt and c.prompt == prompt), free[-1])
            call.agent_id = agent_id
            return call
        if ts:
            running = [c for c in self.calls.values()
                       if c.ts and c.ts <= ts and (c.finished_ts is None or ts <= c.finished_ts)]
            if running:
                return running[-1]
        self.orphans.append((agent_id, prompt))
        return None

    def bind(self, agent_id: str, call_id: str) -> bool:
        """Record an explicit link; False if it was known already."""
        if (agent_id, call_id) in self.linked:
            return False
        self.linked.add((agent_id, call_id))
        call = self.calls.get(call_id)
        if call is not None and call.agent_id is None:
            call.agent_id = agent_id
        self.orphans = [o for o in self.orphans if o[0] != agent_id]
        return True
