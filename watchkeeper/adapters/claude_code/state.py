"""What a converter remembers about one file, and how it builds events.

The base of :class:`~.converter.ClaudeCodeConverter` (through ``turns.Turns``):
the state every record handler shares, and the event helpers. Events are plain
dicts (see ``protocol/envelope.py``); ``session`` and ``ts`` may be blank while
events are held back, and are filled in when the file's first event goes out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...protocol import MAIN_AGENT, Event, Kind, content_id
from .subagents import TaskLinks, identify
from .tree import Tree
from .usage import UsageLedger

_NOTICE = Kind.NOTICE.value
_RAW = Kind.RAW.value
#: Bytes of transcript per record with a uuid, and per API message, about (2.7-3.5 KB and ~14 KB in
#: transcripts grown from the CLI's own): the tree and the usage ledger are sized from the file's size
#: when the converter starts, so that they need not grow (each growth places every key again, in Python).
BYTES_PER_RECORD = 3000
BYTES_PER_MESSAGE = 16384


def _file_size(path: Path | None) -> int:
    try:
        return os.stat(path).st_size if path is not None else 0
    except (OSError, ValueError):
        return 0


class Call:
    """One tool call as far as this file has told: who made it, when, and what was emitted
    (``record``: the number in ``Tree`` of the record that made it, or None)."""

    __slots__ = ("agent", "finished", "record", "started", "ts")

    def __init__(self, agent: str, ts: str | None, record: int | None, started: bool, finished: bool) -> None:
        self.agent = agent
        self.ts = ts
        self.record = record
        self.started = started
        self.finished = finished


class FileState:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.source = str(path) if path is not None else None
        #: Set when this file is a subagent's (by its name, ``agent-<id>.jsonl``).
        self._sub = identify(self.path) if self.path is not None else None
        #: The agent whose file this is: "main", or the subagent's id.
        self._home = self._sub.agent_id if self._sub else MAIN_AGENT
        if self._sub is not None:
            self._fallback_session = self._sub.session or "unknown"
        elif self.path is not None:
            self._fallback_session = self.path.stem
        else:
            self._fallback_session = "unknown"
        self._has_subagents = bool(
            self.path is not None and self._sub is None
            and (self.path.parent / self.path.stem / "subagents").is_dir()
        )
        self._session: str | None = None
        self._started = False
        self._ready = self._sub is not None
        self._held: list[Event] = []
        self._held_lines = 0
        self._ts: str | None = None
        self._version: Any = None
        self._newer_noticed = False
        self._profile: dict[str, Any] = {}
        self._title: str | None = None
        self._model: str | None = None
        self._digests: dict[str, int] = {}
        size = _file_size(self.path)
        self._tree = Tree(size // BYTES_PER_RECORD)
        self._ledger = UsageLedger(size // BYTES_PER_MESSAGE)
        self._links = TaskLinks()
        self._calls: dict[str, Call] = {}
        #: uuid -> agent id, for records of in-file sidechains.
        self._sidechains: dict[str, str] = {}
        self._agents: set[str] = set()
        self._agents_done: set[str] = set()
        self._idle_messages: set[Any] = set()
        #: Queued texts in order, with their queue id (None: not a typed prompt, a task notification).
        self._queued: list[tuple[str | None, str]] = []
        #: Queue ids dequeued, for the prompts that deliver them.
        self._delivering: list[str] = []

    # --- event helpers --------------------------------------------------------------

    def _ev(self, id: str, kind: str, data: Mapping[str, Any], ts: str | None, agent: str = MAIN_AGENT) -> Event:
        # A payload TypedDict is the plain dict the event carries; the annotation passes it on at no cost.
        payload: Any = data
        return {"v": 1, "id": id, "ts": ts or "", "session": self._session or "", "agent": agent,
                "kind": kind, "data": payload}

    def _notice(self, id: str, level: str, code: str, text: str, ts: str | None, agent: str = MAIN_AGENT,
                **extra: Any) -> Event:
        return self._ev(id, _NOTICE, {"level": level, "text": text, "code": code, **extra}, ts, agent)

    def _raw(self, line: bytes, rec: Any, error: str, ts: str | None = None,
             agent: str | None = None) -> Event:
        """Keep what was not understood whole: the parsed record, or the text of the line."""
        record = rec if rec is not None else line.decode("utf-8", "replace")
        data = {"record": record, "error": error, "source": self.source}
        return self._ev(self._digest_id(line, "cc:raw"), _RAW, data, ts or self._ts, agent or self._home)

    def _digest_id(self, line: bytes, prefix: str = "cc") -> str:
        """An id for a record without one: its digest, and how often that digest came before."""
        digest = content_id(line.strip())
        n = self._digests.get(digest, 0)
        self._digests[digest] = n + 1
        return f"{prefix}:{digest}:{n}"

    def _base(self, rec: dict[str, Any], line: bytes) -> str:
        """The id prefix of a record's events: its uuid, or a digest of the line."""
        uuid = rec.get("uuid")
        return f"cc:{uuid}" if type(uuid) is str and uuid else self._digest_id(line)

    def _agent_of(self, rec: dict[str, Any]) -> str:
        """The agent of a record that cannot start a sidechain (system, attachment, …)."""
        if self._sub is not None:
            return self._home
        if rec.get("isSidechain") is not True:
            return MAIN_AGENT
        agent = rec.get("agentId")
        if not (type(agent) is str and agent):
            parent = rec.get("parentUuid")
            agent = self._sidechains.get(parent) if type(parent) is str else None
            if agent is None:
                return MAIN_AGENT
        uuid = rec.get("uuid")
        if type(uuid) is str:
            self._sidechains[uuid] = agent
        return str(agent)
