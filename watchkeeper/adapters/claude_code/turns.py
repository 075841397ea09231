"""The conversation: user and assistant records, tool calls and their results, subagent links.

A base of :class:`~.converter.ClaudeCodeConverter`, kept apart so each file
has one job; the state and event helpers are in ``state.py``.

- An API message split over several lines (one per block, same ``message.id``)
  gives one event per block, all with that ``message_id``, and one usage.
- A tool call is one call however often its id appears: ``tool.started`` and
  ``tool.finished`` are emitted once each, in whatever order use and result come.
- Subagents are linked to the parent's Task/Agent call by, in order: the
  sidecar's ``toolUseId``, ``toolUseResult.agentId`` (or the ``agentId:`` line
  of the result text), ``agent_progress``, a task notification, and for
  in-file sidechains the prompt or the order of calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...protocol import MAIN_AGENT, Event, Kind
from ...protocol.codec import as_text
from ...protocol.payloads import (
    AgentFinishedData,
    AgentStartedData,
    MessageAssistantData,
    MessageUserData,
    RawData,
    ThinkingData,
    ToolFinishedData,
    ToolStartedData,
)
from . import records as R
from .state import Call, FileState
from .subagents import TaskCall
from .usage import usage_data

_USER = Kind.MESSAGE_USER.value
_ASSISTANT = Kind.MESSAGE_ASSISTANT.value
_THINKING = Kind.THINKING.value
_TOOL_STARTED = Kind.TOOL_STARTED.value
_TOOL_FINISHED = Kind.TOOL_FINISHED.value
_USAGE = Kind.USAGE.value
_STATE = Kind.STATE.value
_RAW = Kind.RAW.value
_AGENT_STARTED = Kind.AGENT_STARTED.value
_AGENT_FINISHED = Kind.AGENT_FINISHED.value
_RUNNING_ORIGINS = frozenset({"prompt", "task-notification", "hook-feedback", "shell"})
_AGENT_DONE = frozenset({"completed", "failed", "error", "killed", "stopped", "cancelled"})
_AGENT_RUNNING = frozenset({"async_launched", "running", "queued", "pending"})


def _ms_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except (TypeError, ValueError):
        return None
    ms = delta.total_seconds() * 1000
    return ms if ms >= 0 else None


class Turns(FileState):
    # --- which agent a record belongs to ------------------------------------------

    def _agent_for(self, rec: dict[str, Any], ts: str | None, out: list[Event]) -> str:
        """The agent of a user/assistant record; the first record of an in-file sidechain starts one."""
        if self._sub is not None:
            return self._home
        if rec.get("isSidechain") is not True:
            return MAIN_AGENT
        uuid, parent = rec.get("uuid"), rec.get("parentUuid")
        agent = rec.get("agentId")
        explicit = type(agent) is str and bool(agent)
        if not explicit:
            agent = self._sidechains.get(parent) if type(parent) is str else None
        if agent is None:
            seed = uuid if type(uuid) is str and uuid else str(ts)
            agent = "sidechain-" + seed.replace("-", "")[:12]
        if type(uuid) is str:
            self._sidechains[uuid] = agent
        if agent not in self._agents:
            self._agents.add(agent)
            self._sidechain_started(agent, rec, explicit, ts, out)
        return str(agent)

    def _sidechain_started(self, agent: str, rec: dict[str, Any], explicit: bool, ts: str | None,
                           out: list[Event]) -> None:
        msg = rec.get("message")
        prompt = None
        if rec.get("type") == "user" and type(msg) is dict:
            prompt = R.text_of(msg.get("content"))[0] or None
        call = None if explicit else self._links.match_sidechain(agent, prompt, ts)
        data: AgentStartedData = {
            "agent_id": agent,
            "parent_call_id": call.call_id if call else None,
            "agent_type": call.agent_type if call else None,
            "description": call.description if call else None,
            "prompt": prompt,
            "sidechain": True,
        }
        out.append(self._ev(f"cc:agent:{agent}:started", _AGENT_STARTED, data, ts, agent))
        if call is not None and call.finished is not None:
            self._agent_finished(agent, call.finished, call.finished_ts, out)

    # --- user records ----------------------------------------------------------------

    def _user(self, rec: dict[str, Any], ts: str | None, line: bytes, out: list[Event]) -> None:
        msg = rec.get("message")
        content = msg.get("content") if type(msg) is dict else None
        agent = (MAIN_AGENT if self._sub is None and rec.get("isSidechain") is not True
                 else self._agent_for(rec, ts, out))
        text, images, results, odd = R.text_of(content)
        if results:
            structured = rec.get("toolUseResult") if results == 1 else None
            hint = rec.get("agentId") if agent == MAIN_AGENT else None
            for block in content:  # type: ignore[union-attr]
                if type(block) is dict and block.get("type") == "tool_result":
                    self._finish_call(block, structured, ts, agent, out, hint)
        if text or images:
            self._user_text(rec, text, images, results > 0, self._base(rec, line), ts, agent, out)
        elif not (type(content) is list or type(content) is str):
            out.append(self._raw(line, rec, "user record without message content", ts, agent))
        if odd:
            base = self._base(rec, line)
            for i, block in enumerate(odd):
                kind = block.get("type") if type(block) is dict else None
                why = ("a content block not an object" if type(block) is not dict
                       else "a text block whose text is not a string" if kind == "text"
                       else f"unknown content block {kind!r}")
                self._odd_block(block, why, f"{base}:odd:{i}", ts, agent, out)

    def _user_text(self, rec: dict[str, Any], text: str, images: int, with_results: bool, base: str,
                   ts: str | None, agent: str, out: list[Event]) -> None:
        origin = R.user_origin(rec, text)
        if origin == "prompt" and with_results:
            origin = "tool-context"
        if origin == "interrupt":
            out.append(self._notice(f"{base}:0", "warning", "interrupted", text.strip(), ts, agent))
            if agent == MAIN_AGENT:
                out.append(self._ev(f"{base}:state", _STATE, {"state": "idle", "reason": "interrupted"}, ts))
            return
        if origin == "command":
            shown = R.command_text(text)
        elif origin == "command-output":
            shown = R.command_output(text)
        else:
            shown = text
        data: MessageUserData = {"text": shown, "origin": origin}
        if images:
            data["images"] = images
        home = agent == self._home
        if origin == "prompt" and home and self._delivering:
            data["queue_id"] = self._delivering.pop(0)
        if origin == "prompt" and home:
            if self._title is None and text.strip():
                self._title = text.strip()[:300]
            self._ready = True
            uuid = rec.get("uuid")
            if type(uuid) is str and self._sub is None:
                self._mark_rewind(uuid, base, ts, out)
        if origin == "task-notification":
            note = R.task_notification(text)
            if note is not None:
                self._task_notification(note, ts, out)
        out.append(self._ev(f"{base}:0", _USER, data, ts, agent))
        if agent == MAIN_AGENT and origin in _RUNNING_ORIGINS:
            out.append(self._ev(f"{base}:state", _STATE, {"state": "running", "reason": origin}, ts))

    def _mark_rewind(self, uuid: str, base: str, ts: str | None, out: list[Event]) -> None:
        tree = self._tree
        fork, abandoned = tree.rewound(uuid)
        if not abandoned:
            return
        gone = set(abandoned)
        calls = [cid for cid, call in self._calls.items() if call.record in gone]
        text = f"Rewound: {len(abandoned)} earlier records are on an abandoned branch"
        out.append(self._notice(f"{base}:rewind", "info", "rewind", text, ts, MAIN_AGENT, fork=fork,
                                abandoned=[tree.uuid(r) for r in abandoned], abandoned_calls=calls))

    def _odd_block(self, block: Any, why: str, eid: str, ts: str | None, agent: str, out: list[Event]) -> None:
        """A content block the converter cannot read, shown as it is, with why."""
        raw: RawData = {"record": block, "error": why, "source": self.source}
        out.append(self._ev(eid, _RAW, raw, ts, agent))

    # --- assistant records -----------------------------------------------------------

    def _assistant(self, rec: dict[str, Any], ts: str | None, line: bytes, out: list[Event]) -> None:
        msg = rec.get("message")
        if type(msg) is not dict:
            out.append(self._raw(line, rec, "assistant record without a message", ts))
            return
        # The main agent's records (nearly all) need no sidechain lookup.
        agent = (MAIN_AGENT if self._sub is None and rec.get("isSidechain") is not True
                 else self._agent_for(rec, ts, out))
        uuid = rec.get("uuid")
        base = f"cc:{uuid}" if type(uuid) is str and uuid else self._digest_id(line)
        mid = as_text(msg.get("id"))
        model = as_text(msg.get("model"))
        if self._model is None and type(model) is str and model != "<synthetic>":
            self._model = model
        content = msg.get("content")
        ev = self._ev
        if rec.get("isApiErrorMessage"):
            error = R.text_of(content)[0] or "API error"
            out.append(self._notice(f"{base}:0", "error", "api-error", error, ts, agent))
        elif type(content) is list:
            for i, block in enumerate(content):
                kind = block.get("type") if type(block) is dict else None
                if kind == "text":
                    said = block.get("text")
                    if type(said) is str:
                        if said:
                            message: MessageAssistantData = {"text": said, "message_id": mid, "model": model}
                            out.append(ev(f"{base}:{i}", _ASSISTANT, message, ts, agent))
                    elif said is not None:
                        self._odd_block(block, "a text block whose text is not a string", f"{base}:{i}", ts, agent, out)
                elif kind == "tool_use" or kind == "server_tool_use" or kind == "mcp_tool_use":
                    self._start_call(block, kind != "tool_use", mid, uuid, base, i, ts, agent, out)
                elif kind == "thinking" or kind == "redacted_thinking":
                    thought = block.get("thinking")
                    if thought is None or type(thought) is str:
                        thinking: ThinkingData = {"text": thought or "", "hidden": not thought}
                        out.append(ev(f"{base}:{i}", _THINKING, thinking, ts, agent))
                    else:
                        self._odd_block(block, "a thinking block whose text is not a string", f"{base}:{i}", ts, agent,
                                        out)
                elif type(kind) is str and kind.endswith("_tool_result"):
                    self._finish_call(block, None, ts, agent, out)
                else:
                    why = f"unknown content block {kind!r}" if type(block) is dict else "a content block not an object"
                    self._odd_block(block, why, f"{base}:{i}", ts, agent, out)
        elif type(content) is str:
            if content:
                whole: MessageAssistantData = {"text": content, "message_id": mid, "model": model}
                out.append(ev(f"{base}:0", _ASSISTANT, whole, ts, agent))
        else:
            out.append(self._raw(line, rec, "assistant message without content", ts, agent))
        usage = msg.get("usage")
        if type(usage) is dict:
            rid = rec.get("requestId")
            key = (f"{mid}:{rid}" if rid else str(mid)) if mid else base
            counted = self._ledger.add(key, usage)
            if counted is not None:
                revision, counts = counted
                spent = usage_data(counts, model, mid, rid)
                if revision:
                    spent["revision"] = revision
                out.append(ev(f"cc:usage:{key}:{revision}", _USAGE, spent, ts, agent))
        if msg.get("stop_reason") == "end_turn" and agent == MAIN_AGENT and mid not in self._idle_messages:
            self._idle_messages.add(mid)
            out.append(ev(f"{base}:state", _STATE, {"state": "idle", "reason": "end_turn"}, ts))
        if agent == self._home:
            self._ready = True

    # --- tool calls --------------------------------------------------------------------

    def _start_call(self, block: dict[str, Any], server: bool, mid: Any, uuid: Any, base: str, i: int,
                    ts: str | None, agent: str, out: list[Event]) -> None:
        cid = block.get("id")
        if type(cid) is not str or not cid:
            raw: RawData = {"record": block, "error": "tool_use without an id", "source": self.source}
            out.append(self._ev(f"{base}:{i}", _RAW, raw, ts, agent))
            return
        call = self._calls.get(cid)
        if call is not None and call.started:
            return
        record = self._tree.last if type(uuid) is str else None  # the record being read: added to the tree
        if call is None:
            self._calls[cid] = Call(agent, ts, record, True, False)
        else:
            call.started, call.ts, call.record = True, ts, record
        name = as_text(block.get("name"))
        args = block.get("input")
        if type(args) is str:
            args = R.tool_input(args)
        data: ToolStartedData = {"call_id": cid, "name": name, "input": args, "message_id": mid}
        if server:
            data["server"] = True
        out.append(self._ev(f"tool:{cid}:started", _TOOL_STARTED, data, ts, agent))
        if name in R.TASK_TOOLS and not server:
            spec = args if type(args) is dict else {}
            task = TaskCall(cid, _str(spec.get("prompt")), _str(spec.get("subagent_type")),
                            _str(spec.get("description")), ts)
            adopted = self._links.add_call(task)
            if adopted is not None:
                self._link(adopted, cid, ts, out)

    def _finish_call(self, block: dict[str, Any], structured: Any, ts: str | None, agent: str,
                     out: list[Event], agent_hint: Any = None) -> None:
        cid = block.get("tool_use_id")
        if type(cid) is not str or not cid:
            raw: RawData = {"record": block, "error": "tool_result without a tool_use_id", "source": self.source}
            out.append(self._ev(self._digest_id(repr(block).encode(), "cc:raw"), _RAW, raw, ts, agent))
            return
        call = self._calls.get(cid)
        if call is not None and call.finished:
            return
        output, truncated = R.result_output(block.get("content"))
        status, is_error = R.result_status(block.get("is_error"), structured, output)
        duration = R.result_duration(structured)
        if call is None:
            call = self._calls[cid] = Call(agent, None, None, False, True)
        else:
            call.finished = True
            if duration is None:
                duration = _ms_between(call.ts, ts)
            call.ts = None  # read only for this duration: a long session's finished calls keep no timestamp
        data: ToolFinishedData = {"call_id": cid, "status": status, "is_error": is_error, "output": output,
                                  "duration_ms": duration}
        if truncated:
            data["truncated"] = truncated
        result = R.structured_result(structured)
        if result:
            data["result"] = result
        out.append(self._ev(f"tool:{cid}:finished", _TOOL_FINISHED, data, ts, call.agent))
        task = self._links.calls.get(cid)
        if task is not None:
            self._task_finished(task, structured, output, status, ts, out, agent_hint)

    # --- subagents ----------------------------------------------------------------------

    def _task_finished(self, task: TaskCall, structured: Any, output: str, status: str, ts: str | None,
                       out: list[Event], agent_hint: Any = None) -> None:
        """A Task/Agent call's result: link its subagent (``toolUseResult.agentId``, the record's own
        ``agentId`` in 2.0.x, or the result text's ``agentId:`` line) and finish it unless it runs on."""
        info = structured if type(structured) is dict else {}
        agent = info.get("agentId") or agent_hint
        if not (type(agent) is str and agent):
            agent = R.agent_id_in_text(output) if "agentId: " in output else None
        if agent:
            self._link(agent, task.call_id, ts, out)
        agent = agent or task.agent_id
        state = as_text(info.get("status"))
        if state in _AGENT_RUNNING:
            return
        final = state if type(state) is str else ("completed" if status == "ok" else status)
        task.finished, task.finished_ts = final, ts
        if agent:
            self._agent_finished(agent, final, ts, out)

    def _link(self, agent: str, call_id: str, ts: str | None, out: list[Event]) -> None:
        """An explicit subagent -> parent call link, emitted once per pair."""
        if not self._links.bind(agent, call_id):
            return
        if self._sub is not None and self._sub.parent_call_id == call_id and agent == self._home:
            return
        task = self._links.calls.get(call_id)
        data: AgentStartedData = {
            "agent_id": agent,
            "parent_call_id": call_id,
            "agent_type": task.agent_type if task else None,
            "description": task.description if task else None,
        }
        out.append(self._ev(f"cc:agent:{agent}:link:{call_id}", _AGENT_STARTED, data, ts, agent))

    def _agent_finished(self, agent: str, status: str, ts: str | None, out: list[Event]) -> None:
        if agent in self._agents_done:
            return
        self._agents_done.add(agent)
        data: AgentFinishedData = {"agent_id": agent, "status": status}
        out.append(self._ev(f"cc:agent:{agent}:finished", _AGENT_FINISHED, data, ts, agent))

    def _task_notification(self, note: dict[str, str | None], ts: str | None, out: list[Event]) -> None:
        agent, call_id, status = note.get("agent_id"), note.get("call_id"), note.get("status")
        if not agent:
            return
        if call_id:
            self._link(agent, call_id, ts, out)
        if status in _AGENT_DONE:
            self._agent_finished(agent, status, ts, out)


def _str(value: Any) -> str | None:
    return value if type(value) is str else None
