"""A scripted stand-in for the Gemini API, so tests can run the real Gemini CLI offline.

Gemini CLI talks to ``GOOGLE_GEMINI_BASE_URL`` (the @google/genai SDK's base URL; with it set the CLI picks
its "gateway" auth, so no login is asked) and posts ``/v1beta/models/{model}:streamGenerateContent?alt=sse``
for the conversation. The model's side is a script of turns, each a list of parts (:func:`text`,
:func:`call`); which turn to answer is the number of ``model`` contents the request already holds, so
retries never shift the script. A request that offers ``functionDeclarations`` is the main conversation;
anything else (the CLI's routing and next-speaker checks, ``countTokens``) is a side request and gets a
short reply. Every request is recorded, so a test can assert what the model was sent (a deny reason).
Where the history's shape depends on timing (a cancelled turn may or may not be kept), ``replies`` answers by
what the last user content says instead of by turn.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Part = dict[str, Any]
Turn = Sequence[Part]

MODEL = "gemini-2.5-flash"
EXHAUSTED_REPLY = "Done."
#: Side requests ask for JSON (routing, next speaker): one object that answers each of them plainly.
SIDE_JSON = {"reasoning": "stand-in", "next_speaker": "user", "model_choice": "flash", "complexity_score": 1}


#: No usage statistics, no update checks: the only traffic is to the stand-in.
SETTINGS = {"privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False},
            "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False}}


def gemini_env(api: ScriptedGemini, home: Path) -> dict[str, str]:
    """A minimal environment with HOME a temp dir holding the settings; any other host goes to the stand-in
    as a proxy, which refuses it (and records it)."""
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(SETTINGS))
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "SHELL": shutil.which("bash") or "/bin/bash",
        "GEMINI_API_KEY": "dummy",
        "GOOGLE_GEMINI_BASE_URL": api.url,
        "HTTP_PROXY": api.url,
        "HTTPS_PROXY": api.url,
        "NO_PROXY": "127.0.0.1,localhost,::1",
    }


def text(value: str) -> Part:
    return {"text": value}


def call(name: str, args: Mapping[str, Any]) -> Part:
    """A function call; the CLI gives it its own call id."""
    return {"functionCall": {"name": name, "args": dict(args)}}


@dataclass(frozen=True)
class Request:
    """One request as the stand-in saw it; ``route`` is main, side, count_tokens or other."""

    method: str
    path: str
    body: Any
    route: str
    turn: int | None = None
    #: the candidatesTokenCount the stand-in reported in its answer.
    output_tokens: int = 0

    def strings(self) -> Iterator[str]:
        yield from _strings(self.body)

    def contains(self, needle: str) -> bool:
        return any(needle in s for s in self.strings())

    def function_responses(self) -> list[dict[str, Any]]:
        contents = self.body.get("contents", []) if isinstance(self.body, dict) else []
        return [part["functionResponse"] for content in contents for part in content.get("parts") or []
                if isinstance(part, dict) and "functionResponse" in part]


class ScriptedGemini:
    """An HTTP server on 127.0.0.1 answering the Gemini API from a script; ``url`` is for GOOGLE_GEMINI_BASE_URL."""

    def __init__(self, script: Sequence[Turn], replies: Mapping[str, Turn] | None = None) -> None:
        self.script = [list(turn) for turn in script]
        self.replies = {needle: list(turn) for needle, turn in (replies or {}).items()}
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ScriptedGemini:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("ScriptedGemini is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def requests_containing(self, needle: str, route: str | None = None) -> list[Request]:
        return [r for r in self.requests if (route is None or r.route == route) and r.contains(needle)]

    def function_responses(self) -> list[dict[str, Any]]:
        """Every functionResponse the model was sent in the main conversation, in order, without repeats."""
        seen: list[dict[str, Any]] = []
        for request in self.requests:
            if request.route == "main":
                seen.extend(r for r in request.function_responses() if r not in seen)
        return seen

    def _record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def answer(self, body: dict[str, Any]) -> tuple[str, dict[str, Any], int | None]:
        """Route one generateContent request: (route, the response, turn index or None)."""
        if not _offers_functions(body):
            wants_json = (body.get("generationConfig") or {}).get("responseMimeType") == "application/json"
            reply = json.dumps(SIDE_JSON) if wants_json else "OK."
            return "side", _response([text(reply)], 0), None
        turn = sum(1 for c in body.get("contents") or [] if c.get("role") == "model")
        parts = self.script[turn] if turn < len(self.script) else [text(EXHAUSTED_REPLY)]
        users = [c for c in body.get("contents") or [] if c.get("role") == "user"]
        last = list(_strings(users[-1])) if users else []
        parts = next((reply for needle, reply in self.replies.items() if any(needle in s for s in last)), parts)
        return "main", _response(parts, len(body.get("contents") or [])), turn


def _offers_functions(body: dict[str, Any]) -> bool:
    tools = body.get("tools") or (body.get("config") or {}).get("tools") or []
    return any(isinstance(t, dict) and t.get("functionDeclarations") for t in tools)


def _response(parts: list[Part], n_contents: int) -> dict[str, Any]:
    prompt = 900 + 40 * n_contents
    output = sum(len(json.dumps(p)) for p in parts) // 4 + 3
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": output,
                          "totalTokenCount": prompt + output},
        "modelVersion": MODEL,
        "responseId": f"standin-{n_contents}",
    }


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _handler_for(api: ScriptedGemini) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = api

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    owner: ScriptedGemini

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._reply_json(404, {"error": {"code": 404, "message": f"no route for {self.path}"}},
                         Request("GET", self.path, None, "other"))

    def do_CONNECT(self) -> None:
        self.owner._record(Request("CONNECT", self.path, None, "other"))
        self.send_response(403)
        self.send_header("content-length", "0")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = self.path.split("?", 1)[0]
        if not isinstance(body, dict):
            self.do_GET()
        elif path.endswith(":countTokens"):
            self._reply_json(200, {"totalTokens": max(1, len(raw) // 4)},
                             Request("POST", self.path, body, "count_tokens"))
        elif path.endswith(":streamGenerateContent") or path.endswith(":generateContent"):
            route, response, turn = self.owner.answer(body)
            output = response["usageMetadata"]["candidatesTokenCount"]
            self.owner._record(Request("POST", self.path, body, route, turn, output))
            if path.endswith(":streamGenerateContent"):
                self._reply_sse(response)
            else:
                self._reply_json(200, response)
        else:
            self._reply_json(404, {"error": {"code": 404, "message": f"no route for {self.path}"}},
                             Request("POST", self.path, body, "other"))

    def _reply_json(self, status: int, payload: Any, record: Request | None = None) -> None:
        if record is not None:
            self.owner._record(record)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reply_sse(self, response: dict[str, Any]) -> None:
        """One chunk per part, the last one carrying the finish reason and usage, as the API streams."""
        parts = response["candidates"][0]["content"]["parts"]
        chunks = []
        for i, part in enumerate(parts):
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
            chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": MODEL,
                                     "responseId": response["responseId"]}
            if i == len(parts) - 1:
                candidate["finishReason"] = "STOP"
                chunk["usageMetadata"] = response["usageMetadata"]
            chunks.append(chunk)
        data = b"".join(f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
