"""A scripted stand-in for the OpenAI Responses API, so the real Codex CLI runs offline.

Each `POST …/responses` is answered with the next turn of a script, streamed as
server-sent events in the shape the Codex CLI parses; every request is recorded so a
test can check what the CLI sent back (the outputs of the commands it ran, say).
Everything is deterministic: ids, call ids and token counts derive from the turn and
item index, never from the clock or the request.
"""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Text:
    """An assistant message."""

    text: str


@dataclass(frozen=True)
class Reasoning:
    """A reasoning item carrying one summary paragraph (what Codex shows as thinking)."""

    summary: str


@dataclass(frozen=True)
class Exec:
    """A function call of Codex's `exec_command` tool; the CLI runs `cmd` and sends its output back."""

    cmd: str
    call_id: str = ""
    #: Ask to run outside the sandbox with this justification (Codex then asks the person, or its hooks).
    escalate: str = ""

    def arguments(self) -> dict[str, str]:
        args = {"cmd": self.cmd}
        if self.escalate:
            args.update(sandbox_permissions="require_escalated", justification=self.escalate)
        return args


@dataclass(frozen=True)
class Patch:
    """A call of Codex's freeform ``apply_patch`` tool (a custom tool call whose input is the patch text)."""

    patch: str
    call_id: str = ""


@dataclass(frozen=True)
class McpCall:
    """A call of an MCP tool, which Codex 0.171.0 offers in a namespace (``mcp__<server>``)."""

    server: str
    tool: str
    arguments: str
    call_id: str = ""


@dataclass(frozen=True)
class Call:
    """A call of one of Codex's own namespaced tools (e.g. ``collaboration.spawn_agent`` under multi-agent v2)."""

    namespace: str
    name: str
    arguments: dict[str, Any]
    call_id: str = ""


Item = Text | Reasoning | Exec | Patch | McpCall | Call

#: The agent a request comes from when it does not say (Codex names its root thread's agent so).
ROOT_AGENT = "/root"


@dataclass(frozen=True)
class Turn:
    """One model response: its items, in order, and the usage it reports (0 = a default derived
    from the response number, so cached tokens grow as a real conversation's do)."""

    items: Sequence[Item]
    #: The agent this response answers (``agent_name`` in Codex's turn metadata): a sub-agent's
    #: requests race its parent's, so each agent is served its own turns in order.
    agent: str = ROOT_AGENT
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class Request:
    """One request the stand-in received; `body` is the parsed JSON or None."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


EXHAUSTED = "stand-in: the script has no more turns"


def call_id(turn: int, index: int, item: Exec | Patch | McpCall | Call) -> str:
    """The scripted call id, else one derived from the response number and item index."""
    return item.call_id or f"call_{turn}_{index}"


def _usage(turn: Turn, n: int) -> dict[str, Any]:
    inp = turn.input_tokens or 1200 + 400 * n
    cached = turn.cached_tokens or (1000 * n)
    out = turn.output_tokens or 40 + 10 * len(turn.items)
    reasoning = turn.reasoning_tokens or 16 * sum(isinstance(i, Reasoning) for i in turn.items)
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": min(cached, inp)},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": min(reasoning, out)},
        "total_tokens": inp + out,
    }


def _item_events(n: int, index: int, item: Item) -> Iterator[dict[str, Any]]:
    """The events that stream one output item: added, its deltas, done."""
    base = {"output_index": index}
    if isinstance(item, Text):
        item_id = f"msg_{n}_{index}"
        done = {
            "type": "message",
            "id": item_id,
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": item.text, "annotations": []}],
        }
        yield {
            **base,
            "type": "response.output_item.added",
            "item": {**done, "status": "in_progress", "content": []},
        }
        part = {"item_id": item_id, "output_index": index, "content_index": 0}
        yield {
            **part,
            "type": "response.content_part.added",
            "part": {"type": "output_text", "text": "", "annotations": []},
        }
        for chunk in _chunks(item.text):
            yield {**part, "type": "response.output_text.delta", "delta": chunk}
        yield {**part, "type": "response.output_text.done", "text": item.text}
        yield {**part, "type": "response.content_part.done", "part": done["content"][0]}
    elif isinstance(item, Reasoning):
        item_id = f"rs_{n}_{index}"
        done = {
            "type": "reasoning",
            "id": item_id,
            "summary": [{"type": "summary_text", "text": item.summary}],
        }
        yield {**base, "type": "response.output_item.added", "item": {**done, "summary": []}}
        part = {"item_id": item_id, "output_index": index, "summary_index": 0}
        yield {
            **part,
            "type": "response.reasoning_summary_part.added",
            "part": {"type": "summary_text", "text": ""},
        }
        for chunk in _chunks(item.summary):
            yield {**part, "type": "response.reasoning_summary_text.delta", "delta": chunk}
        yield {**part, "type": "response.reasoning_summary_text.done", "text": item.summary}
        yield {**part, "type": "response.reasoning_summary_part.done", "part": done["summary"][0]}
    elif isinstance(item, Patch):
        item_id = f"ctc_{n}_{index}"
        done = {"type": "custom_tool_call", "id": item_id, "status": "completed", "name": "apply_patch",
                "input": item.patch, "call_id": call_id(n, index, item)}
        yield {**base, "type": "response.output_item.added", "item": {**done, "status": "in_progress", "input": ""}}
        yield {**base, "item_id": item_id, "type": "response.custom_tool_call_input.delta", "delta": item.patch}
        yield {**base, "item_id": item_id, "type": "response.custom_tool_call_input.done", "input": item.patch}
    else:
        item_id = f"fc_{n}_{index}"
        if isinstance(item, McpCall):
            name, namespace, arguments = item.tool, f"mcp__{item.server}", item.arguments
        elif isinstance(item, Call):
            name, namespace, arguments = item.name, item.namespace, json.dumps(item.arguments)
        else:
            name, namespace, arguments = "exec_command", "", json.dumps(item.arguments())
        done = {
            "type": "function_call",
            "id": item_id,
            "status": "completed",
            "name": name,
            "arguments": arguments,
            "call_id": call_id(n, index, item),
        }
        if namespace:
            done["namespace"] = namespace
        yield {
            **base,
            "type": "response.output_item.added",
            "item": {**done, "status": "in_progress", "arguments": ""},
        }
        part = {"item_id": item_id, "output_index": index}
        yield {**part, "type": "response.function_call_arguments.delta", "delta": arguments}
        yield {**part, "type": "response.function_call_arguments.done", "arguments": arguments}
        yield {**base, "type": "response.output_item.done", "item": done}
        return
    yield {**base, "type": "response.output_item.done", "item": done}


def _chunks(text: str, size: int = 24) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def response_events(turn: Turn, n: int, model: str) -> list[dict[str, Any]]:
    """The whole SSE stream for response number `n` (1-based) of a script."""
    rid = f"resp_{n}"
    shell = {"id": rid, "object": "response", "created_at": 1_800_000_000 + n, "model": model}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**shell, "status": "in_progress", "output": []}},
        {"type": "response.in_progress", "response": {**shell, "status": "in_progress", "output": []}},
    ]
    outputs = []
    for index, item in enumerate(turn.items):
        item_events = list(_item_events(n, index, item))
        events += item_events
        outputs.append(item_events[-1]["item"])
    events.append(
        {
            "type": "response.completed",
            "response": {**shell, "status": "completed", "output": outputs, "usage": _usage(turn, n)},
        }
    )
    for seq, event in enumerate(events):
        event["sequence_number"] = seq
    return events


class ScriptedResponses:
    """The stand-in server; use as a context manager, point the CLI at `.url`."""

    def __init__(self, script: Sequence[Turn | Sequence[Item]], *, model: str = "gpt-standin"):
        self.script = [t if isinstance(t, Turn) else Turn(list(t)) for t in script]
        self.model = model
        self.requests: list[Request] = []
        self.errors: list[str] = []
        self._served = 0
        self._answered: set[int] = set()
        self._lock = threading.Lock()
        #: response index (0-based) -> released when the test lets that response go out.
        self._gates: dict[int, threading.Event] = {}
        self._asked = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stand-in first (use it as a context manager)"
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> ScriptedResponses:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="scripted-responses",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def hold(self, turn: int) -> threading.Event:
        """Hold response ``turn`` (0-based, the script's) back until the returned event is set."""
        gate = self._gates[turn] = threading.Event()
        return gate

    def wait_for_request(self, turn: int, timeout: float) -> None:
        """Until the CLI has asked for response ``turn`` (0-based, the script's); TimeoutError past ``timeout``."""
        with self._asked:
            if not self._asked.wait_for(lambda: turn in self._answered, timeout):
                raise TimeoutError(f"the CLI did not ask for response {turn} within {timeout} s")

    def next_turn(self, agent: str = ROOT_AGENT) -> tuple[Turn, int]:
        """The next response: in script order, or, when the script names sub-agents, the next of ``agent``'s."""
        routed = any(t.agent != ROOT_AGENT for t in self.script)
        with self._asked:
            self._served += 1
            n = self._served
            if routed:
                index = next((i for i, t in enumerate(self.script)
                              if i not in self._answered and t.agent == agent), len(self.script))
            else:
                index = n - 1
            self._answered.add(index)
            self._asked.notify_all()
        gate = self._gates.get(index)
        if gate is not None and not gate.wait(120):
            self.errors.append(f"response {index} was held and never released")
        if index >= len(self.script):
            self.errors.append(f"request {n} (agent {agent}) beyond the {len(self.script)}-turn script")
            return Turn([Text(EXHAUSTED)]), n
        return self.script[index], n

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def response_bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the `POST …/responses` requests, in arrival order."""
        return [
            r.body
            for r in self.requests
            if r.method == "POST" and r.path.split("?")[0].endswith("/responses") and isinstance(r.body, dict)
        ]

    def scripted_call_ids(self) -> list[str]:
        """Every call id the script hands out, in order."""
        return [
            call_id(n, index, item)
            for n, turn in enumerate(self.script, start=1)
            for index, item in enumerate(turn.items)
            if isinstance(item, Exec | Patch | McpCall | Call)
        ]

    def function_outputs(self, request: int | None = None) -> dict[str, str]:
        """call_id -> output of the function results the CLI sent back (in one request, or any)."""
        bodies = self.response_bodies()
        chosen = bodies if request is None else [bodies[request]]
        return {
            item["call_id"]: item.get("output", "")
            for body in chosen
            for item in body.get("input") or []
            if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output")
        }


def _handler_for(api: ScriptedResponses) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 30
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            encoding = (self.headers.get("Content-Encoding") or "").lower()
            try:
                if encoding == "gzip":
                    raw = gzip.decompress(raw)
                elif encoding == "deflate":
                    raw = zlib.decompress(raw)
                return json.loads(raw) if raw else None
            except (ValueError, OSError, zlib.error) as exc:
                api.errors.append(
                    f"{self.command} {self.path}: undecodable body ({encoding or 'plain'}): {exc}"
                )
                return {"_undecoded": raw[:2000].decode("latin-1")}

        def _record(self, body: Any) -> None:
            api.record(Request(self.command, self.path, dict(self.headers.items()), body))

        def do_GET(self) -> None:
            self._record(None)
            if self.path.split("?", 1)[0].endswith("/models"):
                model = {"id": api.model, "object": "model", "created": 1_800_000_000, "owned_by": "standin"}
                self._json(200, {"object": "list", "data": [model]})
            else:
                self._not_found()

        def _not_found(self) -> None:
            api.errors.append(f"unexpected {self.command} {self.path}")
            self._json(404, {"error": {"message": f"no such path {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:
            body = self._body()
            self._record(body)
            path = self.path.split("?", 1)[0]
            if path.endswith("/responses"):
                self._stream(body)
            else:
                self._not_found()

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, body: Any) -> None:
            try:
                agent = json.loads(self.headers.get("x-codex-turn-metadata") or "{}").get("agent_name")
            except (ValueError, AttributeError):
                agent = None
            turn, n = api.next_turn(agent if isinstance(agent, str) and agent else ROOT_AGENT)
            model = body.get("model", api.model) if isinstance(body, dict) else api.model
            payload = "".join(
                f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in response_events(turn, n, model)
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
