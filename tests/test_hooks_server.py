"""The hook and control endpoint over real loopback sockets: auth, refusals, holds, controls.

The server runs on its own loop thread (as on the relay's); requests are made
with http.client so Host and Origin can be set the way a browser or a DNS
rebinding page would.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from test_loopback import HOST_ALLOWED, HOST_REFUSED
from waiting import until

from watchkeeper.adapters.claude_code.steering import Policy, Steering
from watchkeeper.protocol import Event
from watchkeeper.relay.servers.hookserver import bound_port, start_hook_server

TOKEN = "test-token-abc"
SID = "sess-1"
WAIT = 20.0


@dataclass
class Server:
    port: int
    steering: Steering
    loop: asyncio.AbstractEventLoop
    viewers: dict[str, int]
    events: list[Event] = field(default_factory=list)

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = TOKEN,
                headers: dict[str, str] | None = None, raw: bytes | None = None,
                timeout: float = WAIT) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        all_headers = {"Content-Type": "application/json"}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        try:
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(payload) if payload else None
        except ValueError:
            return response.status, payload.decode("utf-8", "replace")

    def kinds(self) -> list[str]:
        return [e["kind"] for e in list(self.events)]


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    hold_timeout = getattr(request, "param", 30.0)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    viewers: dict[str, int] = {SID: 1}
    steering = Steering(Policy(hold_timeout=hold_timeout), viewers=lambda s: viewers.get(s, 0))
    events: list[Event] = []

    def emit(batch: list[Event]) -> None:
        events.extend(batch)

    runner = asyncio.run_coroutine_threadsafe(start_hook_server(steering, emit, TOKEN), loop).result(WAIT)
    srv = Server(bound_port(runner), steering, loop, viewers, events)
    yield srv
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(WAIT)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT)
    loop.close()


def pre(call: str) -> dict[str, Any]:
    return {"session_id": SID, "cwd": "/w", "hook_event_name": "PreToolUse", "tool_name": "Bash",
            "tool_input": {"command": "ls"}, "tool_use_id": call}


def control(id: str, kind: str, **kw: Any) -> dict[str, Any]:
    return {"v": 1, "id": id, "session": SID, "control": kind, "by": "test", **kw}


def in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    thread.start()
    return thread, box


# --- security -------------------------------------------------------------------------


@pytest.mark.parametrize("path,method", [("/hook", "POST"), ("/control", "POST"), ("/sessions", "GET")])
def test_missing_or_wrong_token_is_401(server: Server, path: str, method: str) -> None:
    body = pre("t1") if path == "/hook" else control("c1", "pause")
    for token in (None, "wrong", TOKEN + "x", ""):
        status, answer = server.request(method, path, body if method == "POST" else None, token=token)
        assert status == 401, token
        assert "token" in answer["error"]
    assert server.events == []


def test_origin_header_is_403_even_with_the_token(server: Server) -> None:
    for origin in ("http://evil.example", "null", "http://127.0.0.1:8000"):
        status, answer = server.request("POST", "/hook", pre("t1"), headers={"Origin": origin})
        assert status == 403 and "Origin" in answer["error"]
    assert server.events == []


def test_non_loopback_host_is_403(server: Server) -> None:
    for host in HOST_REFUSED:
        status, _ = server.request("POST", "/control", control("c1", "pause"),
                                   headers={"Host": host.format(port=server.port)})
        assert status == 403, host
    for host in HOST_ALLOWED:
        status, _ = server.request("GET", "/sessions", headers={"Host": host.format(port=server.port)})
        assert status == 200, host


def test_malformed_bodies_are_400_with_a_reason(server: Server) -> None:
    status, answer = server.request("POST", "/hook", raw=b'{"session_id": ')
    assert status == 400 and "malformed JSON" in answer["error"]
    status, answer = server.request("POST", "/hook", [1, 2])
    assert status == 400 and "object" in answer["error"]
    status, answer = server.request("POST", "/control", {"id": "c1", "session": SID, "control": "explode"})
    assert status == 400 and "control" in answer["error"]


def test_a_number_too_big_for_a_float_is_no_duration_and_the_session_is_still_announced(server: Server) -> None:
    """A lone surrogate makes the body parse with ``json``, which keeps a 401-digit integer: ``float()`` of it
    raised, the reply was 500, and the session was marked announced with its ``session.started`` lost."""
    for n, duration in enumerate(("1" + "0" * 400, "1e400", "-1e400", "NaN")):
        body = (f'{{"session_id": "{SID}-{n}", "hook_event_name": "PostToolUse", "tool_name": "Bash", '
                f'"tool_use_id": "t{n}", "tool_input": {{}}, "tool_response": "\\ud800 cut", '
                f'"duration_ms": {duration}}}').encode()
        status, answer = server.request("POST", "/hook", raw=body)
        assert (status, answer) == (200, {}), duration
        mine = [e for e in server.events if e["session"] == f"{SID}-{n}"]
        assert [e["kind"] for e in mine] == ["session.started", "tool.finished"], duration
        assert mine[1]["data"]["duration_ms"] is None


def test_oversized_control_is_refused(server: Server) -> None:
    status, _ = server.request("POST", "/control", control("c1", "inject", text="x" * (2 * 1024 * 1024)))
    assert status == 413


def test_the_server_will_not_listen_off_loopback() -> None:
    steering = Steering()
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(start_hook_server(steering, lambda b: None, TOKEN, host="0.0.0.0"))


# --- behaviour ------------------------------------------------------------------------


def test_nothing_held_answers_empty_and_reports_the_call(server: Server) -> None:
    status, answer = server.request("POST", "/hook", pre("t1"))
    assert (status, answer) == (200, {})
    assert server.kinds() == ["session.started", "tool.started"]
    status, answer = server.request("POST", "/hook", pre("t2"))
    assert server.kinds() == ["session.started", "tool.started", "tool.started"]


def test_a_held_call_waits_for_the_control_api(server: Server) -> None:
    server.request("POST", "/hook", pre("t0"))
    status, answer = server.request("POST", "/control", control("c1", "pause"))
    assert status == 200 and answer["outcome"]["kind"] == "control.applied"
    thread, box = in_thread(lambda: server.request("POST", "/hook", pre("t1")))
    until(lambda: "tool.waiting" in server.kinds())
    assert not box
    status, answer = server.request("POST", "/control", control("c2", "approve", call_id="t1"))
    assert answer["outcome"]["kind"] == "control.applied"
    thread.join(WAIT)
    assert box[0] == (200, {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}})
    again = server.request("POST", "/control", control("c2", "approve", call_id="t1"))
    assert again[1]["outcome"] == answer["outcome"]
    outcomes = [e for e in server.events if e["kind"].startswith("control.")]
    assert [e["data"]["control_id"] for e in outcomes] == ["c1", "c2"]
    status, sessions = server.request("GET", "/sessions")
    assert status == 200 and sessions == {"sessions": []}


@pytest.mark.parametrize("server", [0.3], indirect=True)
def test_hold_timeout_fails_open_or_closed_per_hook_url(server: Server) -> None:
    server.request("POST", "/hook", pre("t0"))
    server.request("POST", "/control", control("c1", "pause"))
    assert server.request("POST", "/hook", pre("t1")) == (200, {})
    status, closed = server.request("POST", "/hook?fail=closed", pre("t2"))
    assert status == 200
    assert closed["hookSpecificOutput"]["permissionDecision"] == "deny"
    timeouts = [e for e in server.events if e["kind"] == "control.applied" and e["data"]["control"] == "timeout"]
    assert [e["data"]["call_id"] for e in timeouts] == ["t1", "t2"]


def test_an_agent_that_stops_waiting_ends_its_hold(server: Server) -> None:
    server.request("POST", "/hook", pre("t0"))
    server.request("POST", "/control", control("c1", "pause"))
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    body = json.dumps(pre("t1")).encode()
    sock.sendall(b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()
                 + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                 + b"\r\n\r\n" + body)
    until(lambda: "tool.waiting" in server.kinds())
    sock.close()
    until(lambda: any(e["data"].get("control") == "abandoned" for e in list(server.events)))
    status, answer = server.request("POST", "/control", control("c2", "approve", call_id="t1"))
    assert status == 200 and answer["outcome"]["kind"] == "control.rejected"


def test_a_call_asked_twice_is_one_hold_that_only_the_person_ends(server: Server) -> None:
    """The agent replays its own held call's PreToolUse with its credential, then hangs up: the real request
    is not answered by either (it would run the call without the person), and the person's deny reaches it."""
    server.request("POST", "/hook", pre("t0"))
    server.request("POST", "/control", control("c1", "pause"))
    real, answered = in_thread(lambda: server.request("POST", "/hook?fail=closed", pre("t1")))
    until(lambda: "tool.waiting" in server.kinds())
    replay = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    body = json.dumps(pre("t1")).encode()
    replay.sendall(b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()
                   + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                   + b"\r\n\r\n" + body)
    hold = next(iter(server.steering._sessions[SID].holds.values()))
    until(lambda: hold.waiting == 2, what="the replay waits on the same hold")
    replay.close()
    until(lambda: hold.waiting == 1, what="the replay gone")
    assert not answered and server.steering.state(SID)["held"] == ["t1"], "still held, for the person"
    assert not any(e["data"].get("control") == "abandoned" for e in list(server.events))
    _, answer = server.request("POST", "/control", control("c2", "deny", call_id="t1", reason="no"))
    assert answer["outcome"]["kind"] == "control.applied"
    real.join(WAIT)
    assert answered[0][1]["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_a_session_whose_hooks_come_by_both_paths_is_steered_only_by_named_held_calls(server: Server) -> None:
    """An installed hooks' credential can name any session, by either path: hooks for one session by both
    (the second is not its agent's) leave it unclear which agent a pause would reach, so a session-level
    control is refused, never said applied, while a held call named by its id is still decided."""
    stop = {"session_id": SID, "cwd": "/w", "hook_event_name": "Stop"}
    assert server.request("POST", "/hook", pre("t0"))[0] == 200
    server.request("POST", "/control", control("c1", "pause"))
    real, answered = in_thread(lambda: server.request("POST", "/hook", pre("t1")))
    until(lambda: "tool.waiting" in server.kinds(), what="the next call held, as the pause said")
    assert server.request("POST", "/hook/codex", stop)[0] == 200
    assert [e["data"]["code"] for e in server.events if e["kind"] == "notice"] == ["hooks-both-paths"]
    for n, kind in enumerate(("resume", "pause", "inject", "approve")):
        _, answer = server.request("POST", "/control", control(f"x{n}", kind, text="hi"))
        assert answer["outcome"]["kind"] == "control.rejected", (kind, answer)
        assert "both the Claude Code and the Codex hook path" in answer["outcome"]["data"]["reason"]
    assert not answered, "nothing decided the held call"
    _, answer = server.request("POST", "/control", control("d1", "deny", call_id="t1", reason="no"))
    assert answer["outcome"]["kind"] == "control.applied"
    real.join(WAIT)
    assert answered[0][1]["hookSpecificOutput"]["permissionDecision"] == "deny"
