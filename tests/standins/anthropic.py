"""A scripted stand-in for the Anthropic Messages API, so tests can run the real Claude Code CLI offline.

The model's side of a conversation is a script: a list of turns, each a list of content blocks. Which turn
to answer is read from the request itself (the number of assistant messages it already holds), so retries
and side requests never shift the script. Every request is recorded, so a test can assert what the model
was sent (a tool result, a deny reason, an injected text).

Routing, found by logging what the CLI sends (2.1.197 and 2.1.332):
- a subagent's conversation is recognised by its key (a text from the Agent call's prompt) appearing in
  the request's first user message; it follows its own sub-script. Subagent requests also carry an
  ``x-claude-code-agent-id`` header (and ``cc_is_subagent=true`` in the system prompt's billing line); one
  whose key is not scripted gets a short text reply (route "subagent");
- the main conversation is any other request that offers ``tools`` (both versions offer ~12-25);
- anything else that posts to /v1/messages (no tools: titles, summaries, quota checks, haiku calls) is a side
  request and gets a short text reply.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Block = dict[str, Any]
Turn = Sequence[Block]

SUBAGENT_TOOL_NAMES = ("Agent", "Task")
SIDE_REPLY = "OK."
EXHAUSTED_REPLY = "Done."
CHUNK = 24
HOLD_LIMIT = 60.0


def text(value: str) -> Block:
    return {"type": "text", "text": value}


def thinking(value: str) -> Block:
    return {"type": "thinking", "thinking": value}


def tool_use(name: str, input: Mapping[str, Any], *, id: str | None = None) -> Block:
    """A tool call; without ``id`` the stand-in numbers it (toolu_01, toolu_02, ... in script order).

    ``name`` "Agent" or "Task" is sent as whichever of the two the request's ``tools`` offers.
    """
    block: Block = {"type": "tool_use", "name": name, "input": dict(input)}
    if id is not None:
        block["id"] = id
    return block


@dataclass(frozen=True)
class Request:
    """One request as the stand-in saw it; ``route`` is main, side, subagent:<key>, subagent (unscripted),
    count_tokens or other; ``agent_id`` is the CLI's subagent id for subagent requests."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    route: str
    turn: int | None = None
    agent_id: str | None = None

    def strings(self) -> Iterator[str]:
        yield from _strings(self.body)

    def contains(self, needle: str) -> bool:
        return any(needle in s for s in self.strings())

    def tool_results(self) -> list[Block]:
        messages = self.body.get("messages", []) if isinstance(self.body, dict) else []
        return [
            block
            for message in messages
            if isinstance(message.get("content"), list)
            for block in message["content"]
            if isinstance(block, dict) and block.get("type") == "tool_result"
        ]


@dataclass
class _Conversation:
    name: str
    turns: list[list[Block]] = field(default_factory=list)


class ScriptedAnthropic:
    """An HTTP server on 127.0.0.1 answering ``POST /v1/messages`` from a script.

    Use as a context manager; ``url`` is the base URL for ANTHROPIC_BASE_URL. ``pace`` (seconds) is slept
    between streamed events, for tests that want to watch a response arrive.
    """

    def __init__(
        self,
        script: Sequence[Turn],
        *,
        subagents: Mapping[str, Sequence[Turn]] | None = None,
        side_reply: str = SIDE_REPLY,
        pace: float = 0.0,
    ) -> None:
        counter = iter(range(1, 10_000))
        self.main = _Conversation("main", _numbered(script, counter))
        self.subagents = {
            key: _Conversation(f"subagent:{key}", _numbered(turns, counter))
            for key, turns in (subagents or {}).items()
        }
        self.side_reply = side_reply
        self.pace = pace
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._holds: dict[tuple[str, int], threading.Event] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> ScriptedAnthropic:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        for release in self._holds.values():
            release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("ScriptedAnthropic is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # what tests read

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, route: str) -> list[Request]:
        return [r for r in self.requests if r.route == route]

    def requests_containing(self, needle: str, route: str | None = None) -> list[Request]:
        """Requests whose body holds ``needle`` in any string (a prompt, a tool result, a system reminder)."""
        return [r for r in self.requests if (route is None or r.route == route) and r.contains(needle)]

    def tool_result(self, tool_use_id: str) -> Block | None:
        """The tool_result block the model was sent for ``tool_use_id``, from the first request holding it."""
        for request in self.requests:
            for block in request.tool_results():
                if block.get("tool_use_id") == tool_use_id:
                    return block
        return None

    def tool_use_ids(self, conversation: str = "main") -> list[str]:
        """The scripted tool_use ids of one conversation ("main" or a subagent key), in order."""
        conv = self.main if conversation == "main" else self.subagents[conversation]
        return [b["id"] for turn in conv.turns for b in turn if b["type"] == "tool_use"]

    # answering

    def hold(self, turn: int, route: str = "main") -> threading.Event:
        """Keep the answer to (route, turn) back until the returned event is set (at most HOLD_LIMIT s).

        The request is recorded on arrival, so `wait_for_request` sees it while it is held: the CLI is then
        mid-run, blocked on the model, and a test can read its transcript or act on it.
        """
        release = threading.Event()
        self._holds[(route, turn)] = release
        return release

    def wait_for_request(
        self, route: str = "main", turn: int | None = None, timeout: float = 30.0
    ) -> Request:
        """Block until a request for (route, turn) has arrived; TimeoutError after ``timeout`` seconds."""

        def found() -> Request | None:
            return next((r for r in self._requests if r.route == route and turn in (None, r.turn)), None)

        with self._arrived:
            if not self._arrived.wait_for(lambda: found() is not None, timeout=timeout):
                raise TimeoutError(f"no {route} request for turn {turn} within {timeout} s")
            request = found()
        assert request is not None
        return request

    def _record(self, request: Request) -> None:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
        if request.turn is not None and (release := self._holds.get((request.route, request.turn))):
            release.wait(HOLD_LIMIT)

    def _route(self, body: dict[str, Any], agent_id: str | None) -> tuple[_Conversation | None, str]:
        first = _first_user_text(body.get("messages") or [])
        for key, conv in self.subagents.items():
            if key in first:
                return conv, conv.name
        if agent_id:
            return None, "subagent"
        if body.get("tools"):
            return self.main, "main"
        return None, "side"

    def answer(
        self, body: dict[str, Any], agent_id: str | None = None
    ) -> tuple[str, dict[str, Any], int | None]:
        """Route one Messages request: (route, the full message to send, turn index or None)."""
        conv, route = self._route(body, agent_id)
        model = str(body.get("model") or "claude-sonnet-4-5")
        if conv is None:
            blocks: list[Block] = [text(self.side_reply)]
            return route, _message(f"side:{len(self.requests)}", model, blocks, 0, 0), None
        turn = sum(1 for m in body.get("messages") or [] if m.get("role") == "assistant")
        blocks = conv.turns[turn] if turn < len(conv.turns) else [text(EXHAUSTED_REPLY)]
        blocks = [_resolve_tool_name(b, body) for b in blocks]
        n_messages = len(body.get("messages") or [])
        return route, _message(f"{conv.name}:{turn}", model, blocks, turn, n_messages), turn


def _numbered(turns: Sequence[Turn], counter: Iterator[int]) -> list[list[Block]]:
    out = []
    for turn in turns:
        blocks = []
        for block in turn:
            block = dict(block)
            if block["type"] == "tool_use" and "id" not in block:
                block["id"] = f"toolu_{next(counter):02d}"
            blocks.append(block)
        out.append(blocks)
    return out


def _resolve_tool_name(block: Block, body: dict[str, Any]) -> Block:
    if block["type"] != "tool_use" or block["name"] not in SUBAGENT_TOOL_NAMES:
        return block
    offered = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    name = next((n for n in SUBAGENT_TOOL_NAMES if n in offered), block["name"])
    return {**block, "name": name}


def _first_user_text(messages: list[Any]) -> str:
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            return "\n".join(_strings(message.get("content")))
    return ""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _fake_id(prefix: str, seed: str) -> str:
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode().rstrip("=")
    return f"{prefix}_01{digest[:22]}"


def _message(seed: str, model: str, blocks: list[Block], turn: int, n_messages: int) -> dict[str, Any]:
    """A complete Messages API response with usage that looks like a cached Claude Code session."""
    output = sum(len(json.dumps(b)) for b in blocks) // 4 + 12
    if seed.startswith("side:"):
        usage = {"input_tokens": 180, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    elif turn == 0:
        usage = {"input_tokens": 6, "cache_creation_input_tokens": 14_210, "cache_read_input_tokens": 0}
    else:
        usage = {
            "input_tokens": 1 + n_messages,
            "cache_creation_input_tokens": 240 + 35 * turn,
            "cache_read_input_tokens": 14_210 + 260 * (turn - 1),
        }
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": _fake_id("msg", seed),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_complete(b, seed, i) for i, b in enumerate(blocks)],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            **usage,
            "cache_creation": {
                "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": output,
            "service_tier": "standard",
        },
    }


def _complete(block: Block, seed: str, index: int) -> Block:
    if block["type"] == "thinking":
        return {**block, "signature": _fake_id("sig", f"{seed}:{index}") * 3}
    return block


def sse_events(message: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The stream of (event, data) the real API sends for ``message``."""
    usage = message["usage"]
    start_usage = {**usage, "output_tokens": 1}
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {**message, "content": [], "stop_reason": None, "usage": start_usage},
        },
    )
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            start: Block = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": c} for c in _chunks(block["text"])]
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": c} for c in _chunks(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": c} for c in _chunks(json.dumps(block["input"]))
            ]
        else:
            raise ValueError(f"unsupported scripted block type {kind!r}")
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
        for delta in deltas:
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _chunks(value: str) -> list[str]:
    return [value[i : i + CHUNK] for i in range(0, len(value), CHUNK)] or [""]


def _handler_for(api: ScriptedAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = api

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    owner: ScriptedAnthropic

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._reply_json(200, {}, record=Request("HEAD", self.path, dict(self.headers), None, "other"))

    def do_GET(self) -> None:
        self._not_found(None)

    def do_CONNECT(self) -> None:
        self.owner._record(Request("CONNECT", self.path, dict(self.headers), None, "other"))
        self.send_response(403)
        self.send_header("content-length", "0")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_POST(self) -> None:
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = self.path.split("?", 1)[0]
        headers = dict(self.headers)
        if path == "/v1/messages/count_tokens" and isinstance(body, dict):
            tokens = max(1, len(raw) // 4)
            self._reply_json(
                200, {"input_tokens": tokens}, Request("POST", self.path, headers, body, "count_tokens")
            )
        elif path == "/v1/messages" and isinstance(body, dict):
            agent_id = self.headers.get("x-claude-code-agent-id")
            route, message, turn = self.owner.answer(body, agent_id)
            self.owner._record(Request("POST", self.path, headers, body, route, turn, agent_id))
            if body.get("stream"):
                self._reply_sse(message)
            else:
                self._reply_json(200, message)
        else:
            self._not_found(body)

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _not_found(self, body: Any) -> None:
        error = {
            "type": "error",
            "error": {"type": "not_found_error", "message": f"no route for {self.path}"},
        }
        self._reply_json(404, error, Request(self.command, self.path, dict(self.headers), body, "other"))

    def _reply_json(self, status: int, payload: Any, record: Request | None = None) -> None:
        if record is not None:
            self.owner._record(record)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", _fake_id("req", json.dumps(payload)[:200]))
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _reply_sse(self, message: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", _fake_id("req", message["id"]))
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event, data in sse_events(message):
            chunk = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            if self.owner.pace:
                threading.Event().wait(self.owner.pace)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
