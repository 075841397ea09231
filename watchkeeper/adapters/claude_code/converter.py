"""Claude Code JSONL -> protocol events: the per-file state machine.

One converter reads one file, line by line (``feed``), and never raises: a
line it cannot use becomes a ``raw`` event. Records switch on ``type``; the
conversation (user, assistant, tool calls, subagents) is in ``turns.py``, the
rest (system, attachments, queue, progress, bookkeeping) here. Once the session
is out, a record that shows nothing (most of a real transcript's bytes: request
shapes, restated context) is only skimmed (``_skimmed``); anything the skim is
unsure of is read whole.

Event ids come from the records, so a file read twice yields the same ids:
``cc:{uuid}:{n}`` (n = content block) and ``cc:{uuid}:{what}`` for records with
a uuid; ``tool:{call_id}:started|finished`` for tool calls (what a hook source
uses too); ``cc:{digest}:{k}`` for records without any id (k counts identical
lines, so repeats stay distinct) and ``cc:raw:{digest}:{k}`` for raw events;
``cc:usage:{message}:{request}:{k}`` (k > 0: a later line raised the count);
``cc:agent:{agent}:started|link:{call}|finished``; ``cc:session:{session}``.
A record whose uuid was already seen in the file is a copy and yields nothing,
so no id repeats within one file.

Subagents: ``agent.started`` may come more than once per agent (from its own
file, and a ``link`` from the parent's file once the parent names it); a
consumer merges them by ``agent_id``, taking the first non-null
``parent_call_id``.

Events are held back until the session id is known (a record names it) and,
in a session's own file, until the first prompt or answer, so that
``session.started`` comes first and carries the title; at most
``HOLD_LINES`` lines are held.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import orjson

from ...protocol import MAIN_AGENT, Event, Kind, now_iso
from ...protocol.codec import as_text, reparse
from ...protocol.payloads import MessageUserData
from . import records as R
from .subagents import identify
from .turns import Turns
from .usage import cost_state_data

HOLD_LINES = 64

#: ``OBSERVE_ONLY.model_dump()``, written out: building the pydantic model would cost every
#: conversion ~55 ms of start-up (a test holds the two equal).
_CAPABILITIES = {
    "pause": False, "resume": False, "approve": False, "deny": False, "inject": False, "cancel": False,
    "step": False, "permission": False, "end": False, "why": "observe-only: a transcript can be watched, not steered",
}
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError
_META_TYPES = frozenset({
    "summary", "custom-title", "ai-title", "agent-name", "permission-mode", "pr-link", "rewind-pointer",
    "permission-denial", "tag",
})


class _Typed(msgspec.Struct):
    """An attachment or a progress record's ``data``: only its own type is read."""

    type: Any = None


class _Head(msgspec.Struct):
    """What a record that shows nothing needs read: the bulk of it (a request's shape, a file
    attached in full) is skipped by the decoder instead of built into objects and dropped.

    The decoder checks what it keeps, not what it skips: a byte that is not UTF-8, or a number past
    a float's range (orjson refuses both), inside a skipped value leaves the record what its type
    says (one that shows nothing), where a full read would show the line as ``raw``. Checking the
    UTF-8 here (``bytes.decode``) cost a fifth of the indexing time and, through the big strings it
    made, 40 MB of peak memory per 200 MB read."""

    type: Any = None
    timestamp: Any = None
    version: Any = None
    uuid: Any = None
    parentUuid: Any = None
    attachment: _Typed | None = None
    data: _Typed | None = None


_skim = msgspec.json.Decoder(_Head).decode
#: Which lines are worth a skim, guessed from their first bytes, where the CLI writes the type of the
#: records that show nothing (requests and bookkeeping first, an attachment's in its object, progress
#: after two fields). A wrong guess costs only time: the skim decides on the type it reads.
_SILENT_FIRST = tuple(b'{"type":"%s"' % kind.encode() for kind in sorted(R.SILENT_TYPES))
_ATTACHMENT = b'"attachment":{'
_PROGRESS = b'"type":"progress"'
_PROBE = 256


class ClaudeCodeConverter(Turns):
    agent_kind = "claude-code"

    def __init__(self, path: Path | str | None = None) -> None:
        super().__init__(path)
        # The class's functions, not bound methods: those would make a cycle, and a converter in a cycle
        # outlives its last reference once ``retention`` froze it (a backing cursor's, ~50 MB a GB, for good).
        cls = type(self)
        self._handlers = {
            "user": cls._user,
            "assistant": cls._assistant,
            "system": cls._system,
            "attachment": cls._attachment,
            "queue-operation": cls._queue,
            "progress": cls._progress,
            "cost-state": cls._cost_state,
            "api-request": cls._api_request,
        }

    # --- the Converter protocol ----------------------------------------------

    def feed(self, line: bytes, offset: int = 0) -> list[Event]:
        if self._started and (line.startswith(_SILENT_FIRST) or line.find(_ATTACHMENT, 0, _PROBE) > 0
                              or line.find(_PROGRESS, 0, _PROBE) > 0):
            try:
                out = self._skimmed(_skim(line))
            except Exception:  # not JSON, too deep, odd: the full read says what it is
                out = None
            if out is not None:
                return out
        rec: Any = None
        try:
            try:
                rec = _loads(line)
            except _JSONDecodeError as e:
                if not line.strip():
                    return []
                try:
                    rec = reparse(line, e)
                except _JSONDecodeError:
                    return self._release([self._raw(line, None, f"not JSON: {e}")])
            if type(rec) is not dict:
                return self._release([self._raw(line, rec, "not a JSON object")])
            out = self._record(rec, line)
            return out if self._started else self._release(out)
        except Exception as e:  # a converter never raises: keep the line, say why
            event = self._raw(line, rec, f"converter error: {type(e).__name__}: {e}")
            try:
                return self._release([event])
            except Exception:
                return [event]

    def finish(self) -> list[Event]:
        """The file ended: release anything held back (a file too short to say its session)."""
        if self._started or self._held_lines == 0:
            return []
        return self._start()

    @property
    def session(self) -> str:
        """The session id: from the records once one names it, until then the path's best guess."""
        return self._session or self._fallback_session

    # --- per line ----------------------------------------------------------------

    def _record(self, rec: dict[str, Any], line: bytes) -> list[Event]:
        kind = rec.get("type")
        ts = rec.get("timestamp")
        if type(ts) is str:
            self._ts = ts
        else:
            ts = self._ts
        if self._session is None:
            sid = rec.get("sessionId")
            if type(sid) is str and sid:
                self._session = sid
        out: list[Event] = []
        version = rec.get("version")
        if version is not None and version != self._version:
            self._saw_version(version, ts, out)
        uuid = rec.get("uuid")
        if type(uuid) is str:
            parent = rec.get("parentUuid")
            if not self._tree.add(uuid, parent if type(parent) is str else None, kind == "user" or kind == "assistant"):
                return out  # a copy of a record already read
        if not self._started:
            self._capture(rec)
        if type(kind) is not str:
            out.append(self._raw(line, rec, f"a record whose type is not a string: {as_text(kind)}", ts,
                                 self._agent_of(rec)))
            return out
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(self, rec, ts, line, out)
        elif kind in _META_TYPES:
            text = R.meta_notice(rec, str(kind))
            agent = self._agent_of(rec)
            out.append(self._notice(self._base(rec, line) + ":0", "info", str(kind), text, ts, agent))
        elif kind not in R.SILENT_TYPES:
            out.append(self._raw(line, rec, f"unknown record type {kind!r}", ts, self._agent_of(rec)))
        return out

    def _skimmed(self, head: _Head) -> list[Event] | None:
        """The events of a record read only in part, or None if it needs reading whole."""
        kind = head.type
        if type(kind) is not str:
            return None
        if kind == "progress":
            data = head.data
            if data is not None and data.type == "agent_progress":
                return None
        elif kind == "attachment":
            att = head.attachment
            what = att.type if att is not None else None
            if type(what) is not str or what not in R.SILENT_ATTACHMENTS:
                return None
        elif kind not in R.SILENT_TYPES:
            return None
        ts = head.timestamp
        if type(ts) is str:
            self._ts = ts
        out: list[Event] = []
        version = head.version
        if version is not None and version != self._version:
            self._saw_version(version, self._ts, out)
        uuid = head.uuid
        if type(uuid) is str:
            parent = head.parentUuid
            self._tree.add(uuid, parent if type(parent) is str else None, False)
        return out

    def _release(self, out: list[Event]) -> list[Event]:
        if self._started:
            return out
        self._held.extend(out)
        self._held_lines += 1
        if self._held_lines < HOLD_LINES and (self._session is None or not self._ready):
            return []
        return self._start()

    def _start(self) -> list[Event]:
        """The first events of the file: session.started (or, for a subagent file, agent.started),
        then everything held back, with the session id and timestamps filled in."""
        self._started = True
        session = self._session = self._session or self._fallback_session
        held, self._held = self._held, []
        first_ts = next((e["ts"] for e in held if e["ts"]), None) or self._ts or now_iso()
        events = [self._first_event(first_ts), *held]
        for event in events:
            event["session"] = session
            if not event["ts"]:
                event["ts"] = first_ts
        return events

    def _first_event(self, ts: str) -> Event:
        if self._sub is not None:
            if not self._sub.meta and self.path is not None:
                self._sub = identify(self.path) or self._sub  # the sidecar may land after the first line
            meta = self._sub.meta
            data = {
                "agent_id": self._home,
                "parent_call_id": self._sub.parent_call_id,
                "agent_type": meta.get("agentType"),
                "description": meta.get("description"),
                "prompt": self._title,
                "source": self.source,
            }
            return self._ev(f"cc:agent:{self._home}:started", Kind.AGENT_STARTED.value, data, ts, self._home)
        p = self._profile
        mode = p.get("permission_mode")
        caps = dict(_CAPABILITIES)
        data = {
            "agent_kind": self.agent_kind,
            "title": self._title,
            "cwd": p.get("cwd"),
            "model": self._model,
            "version": p.get("version"),
            "source": self.source,
            "capabilities": caps,
            "profile": {
                "interaction": "prompt",
                "autonomy": "run-to-done" if mode in ("bypassPermissions", "dontAsk") else "pauses",
                "coordination": "orchestrated" if self._has_subagents else "single",
                "observability": caps,
                "isolation": {"cwd": p.get("cwd"), "permission_mode": mode, "sandbox": None},
            },
            "git_branch": p.get("git_branch"),
            "entrypoint": p.get("entrypoint"),
        }
        return self._ev(f"cc:session:{self._session}", Kind.SESSION_STARTED.value, data, ts)

    def _capture(self, rec: dict[str, Any]) -> None:
        """Profile facts, read only until session.started is out."""
        p = self._profile
        for src, dst in (("cwd", "cwd"), ("version", "version"), ("gitBranch", "git_branch"),
                         ("entrypoint", "entrypoint"), ("permissionMode", "permission_mode")):
            if dst not in p:
                value = rec.get(src)
                if type(value) is str and value:
                    p[dst] = value

    def _saw_version(self, version: Any, ts: str | None, out: list[Event]) -> None:
        self._version = version
        if not self._newer_noticed and R.is_newer_than_known(version):
            self._newer_noticed = True
            text = (f"Written by Claude Code {version}, newer than the newest version watchkeeper knows "
                    f"({R.NEWEST_KNOWN}): records it does not understand are shown raw.")
            out.append(self._notice(f"cc:newer-version:{version}", "warning", "newer-version", text, ts,
                                    self._home, version=version, known=R.NEWEST_KNOWN))

    # --- records other than the conversation ------------------------------------------

    def _system(self, rec: dict[str, Any], ts: str | None, line: bytes, out: list[Event]) -> None:
        level, code, text, extra = R.system_notice(rec)
        agent = self._agent_of(rec)
        base = self._base(rec, line)
        out.append(self._notice(f"{base}:0", level, code, text, ts, agent, **extra))
        if code == "turn-duration" and agent == MAIN_AGENT:
            data = {"state": "idle", "reason": "turn finished"}
            out.append(self._ev(f"{base}:state", Kind.STATE.value, data, ts))

    def _attachment(self, rec: dict[str, Any], ts: str | None, line: bytes, out: list[Event]) -> None:
        att = rec.get("attachment")
        if type(att) is not dict:
            out.append(self._raw(line, rec, "attachment without an attachment object", ts))
            return
        if att.get("type") == "model" and self._model is None:
            identity = att.get("identity")
            model = identity.get("modelId") if type(identity) is dict else None
            if type(model) is str:
                self._model = model
        shown = R.attachment_notice(att)
        if shown is not None:
            code, text = shown
            agent = self._agent_of(rec)
            out.append(self._notice(self._base(rec, line) + ":0", "info", code, text, ts, agent))

    def _queue(self, rec: dict[str, Any], ts: str | None, line: bytes, out: list[Event]) -> None:
        """A typed prompt queued is a ``message.user`` with origin ``queued`` and a ``queue_id``; the prompt
        that delivers it after its ``dequeue`` (2.1.197 queues even the first prompt) carries the same id,
        and a ``remove`` of it says ``queue-removed``: one prompt, not a notice and then a message."""
        op = rec.get("operation")
        content = rec.get("content")
        if op == "dequeue":
            if self._queued:
                qid = self._queued.pop(0)[0]
                if qid is not None:
                    self._delivering.append(qid)
            return
        if op not in ("enqueue", "remove") or not isinstance(content, str):
            if type(op) is not str or (content is not None and op in ("enqueue", "remove")):
                out.append(self._raw(line, rec, "a queue operation not understood", ts, self._home))
            return
        base = self._digest_id(line)
        note = R.task_notification(content)
        if note is None and op == "enqueue":
            self._queued.append((base, content))
            data: MessageUserData = {"text": content, "origin": "queued", "queue_id": base}
            out.append(self._ev(f"{base}:0", Kind.MESSAGE_USER.value, data, ts, self._home))
            return
        taken = next((i for i, (qid, text) in enumerate(self._queued) if qid and text == content), None)
        if note is None and taken is not None:
            qid = self._queued.pop(taken)[0]
            data = {"text": content, "origin": "queue-removed", "queue_id": str(qid)}
            out.append(self._ev(f"{base}:0", Kind.MESSAGE_USER.value, data, ts, self._home))
            return
        if op == "enqueue":
            self._queued.append((None, content))
        code = "queued" if op == "enqueue" else "queue-removed"
        out.append(self._notice(f"{base}:0", "info", code, content, ts, self._home, operation=op))
        if note is not None:
            self._task_notification(note, ts, out)

    def _progress(self, rec: dict[str, Any], ts: str | None, line: bytes, out: list[Event]) -> None:
        data = rec.get("data")
        if type(data) is dict and data.get("type") == "agent_progress":
            agent_id, call_id = data.get("agentId"), rec.get("parentToolUseID")
            if type(agent_id) is str and agent_id and type(call_id) is str and call_id:
                self._link(agent_id, call_id, ts, out)

    def _cost_state(self, rec: dict[str, Any], ts: str | None, line: bytes, out: list[Event]) -> None:
        data = cost_state_data(rec)
        if data is None:
            out.append(self._raw(line, rec, "cost-state without totals", ts))
            return
        out.append(self._ev(self._digest_id(line), Kind.USAGE.value, data, ts, self._home))

    def _api_request(self, rec: dict[str, Any], ts: str | None, line: bytes, out: list[Event]) -> None:
        if self._model is None:
            params = rec.get("params")
            model = params.get("model") if type(params) is dict else None
            if type(model) is str:
                self._model = model
