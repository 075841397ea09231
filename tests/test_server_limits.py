"""The servers under abuse, over real sockets on 127.0.0.1: slow clients, surplus connections, ambiguous headers.

A raw socket plays the attacker: it sends a request head (or body) a byte at a
time, opens more connections than allowed, or repeats a header. Each test
waits for the server's answer or its close, with a deadline, never for a
fixed time; the deadlines are far beyond the (shortened) limits under test.
Recordings are checked for their modes under a permissive and a strict umask.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from remote_support import TOKEN as WS_TOKEN
from remote_support import Served

from watchkeeper.adapters.claude_code.steering import Policy, Steering
from watchkeeper.protocol import Kind, make_event
from watchkeeper.relay.recorder import Recorder
from watchkeeper.relay.servers import wsserver
from watchkeeper.relay.servers.hookserver import bound_port, start_hook_server
from watchkeeper.relay.servers.httplimits import Limits

TOKEN = "test-token-limits"
SID = "sess-limits"
WAIT = 20.0
#: Short limits, so a cut-off comes soon; the deadlines below are many times longer.
LIMITS = Limits(head_timeout=2.0, body_timeout=1.0, max_connections=4, linger=0.5)


@dataclass
class HookServer:
    port: int
    steering: Steering

    def held(self) -> list[str]:
        state = self.steering.state(SID)
        return list(state.get("held") or []) if state else []

    def control(self, kind: str, **fields: str) -> None:
        body = json.dumps({"v": 1, "id": f"c-{kind}-{time.monotonic_ns()}", "session": SID, "control": kind,
                           "by": "test", **fields}).encode()
        with connect(self.port) as sock:
            sock.sendall(request("/control", body, extra=b"Connection: close\r\n"))
            answer = read_all(sock)
        assert status_of(answer) == 200 and b"control.applied" in answer, answer

    def hold(self, sock: socket.socket, call: str) -> None:
        """A PreToolUse on ``sock`` that the paused session holds."""
        sock.sendall(request("/hook", json.dumps(pre(call)).encode()))
        until(lambda: call in self.held(), f"{call} held")


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    steering = Steering(Policy(hold_timeout=WAIT), viewers=lambda s: 1)
    started = start_hook_server(steering, lambda events: None, TOKEN, limits=LIMITS)
    runner = asyncio.run_coroutine_threadsafe(started, loop).result(WAIT)
    server = HookServer(bound_port(runner), steering)
    with connect(server.port) as sock:
        sock.sendall(request("/hook", json.dumps(pre("t0")).encode(), extra=b"Connection: close\r\n"))
        assert status_of(read_all(sock)) == 200
    server.control("pause")
    yield server
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(WAIT)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT)
    loop.close()


def pre(call: str) -> dict[str, str]:
    return {"session_id": SID, "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": call}


def until(cond: Callable[[], object], what: str) -> None:
    end = time.monotonic() + WAIT
    while not cond():
        assert time.monotonic() < end, f"not reached within {WAIT}s: {what}"
        threading.Event().wait(0.01)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT)


def dribble(sock: socket.socket, data: bytes, deadline: float = WAIT) -> tuple[bytes, int]:
    """Send ``data`` a byte at a time, pausing on the socket between bytes, until the server hangs up.

    Returns what the server answered and how many bytes went out; fails if it
    is still listening at the deadline (or once every byte is sent).
    """
    got = b""
    sent = 0
    end = time.monotonic() + deadline
    sock.settimeout(0.1)
    while time.monotonic() < end:
        if sent < len(data):
            try:
                sock.sendall(data[sent:sent + 1])
            except OSError:
                return got, sent
            sent += 1
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return got, sent
        if not chunk:
            return got, sent
        got += chunk
    raise AssertionError(f"the server kept a slow connection open for {deadline}s ({sent} bytes sent)")


def read_all(sock: socket.socket, deadline: float = WAIT) -> bytes:
    """Everything the server sends until it closes (bounded)."""
    sock.settimeout(deadline)
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return got
        if not chunk:
            return got
        got += chunk


def status_of(answer: bytes) -> int:
    assert answer.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), answer[:80]
    return int(answer.split(b" ", 2)[1])


def request(path: str, body: bytes = b"", *, host: str = "127.0.0.1", extra: bytes = b"",
            token: str = TOKEN) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n").encode() + extra + b"\r\n" + body


def sessions_status(port: int) -> int:
    with connect(port) as sock:
        sock.sendall(f"GET /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                     "Connection: close\r\n\r\n".encode())
        return status_of(read_all(sock))


# --- the hook endpoint and control API ---------------------------------------------------


def test_a_slow_request_head_is_cut_off(hooks: HookServer) -> None:
    with connect(hooks.port) as sock:
        answer, sent = dribble(sock, request("/hook", b"{}", token="not-the-token") * 50)
    assert answer == b"" and sent < 50 * len(request("/hook", b"{}"))


def test_a_slow_body_is_answered_408_and_closed(hooks: HookServer) -> None:
    body = json.dumps({"session_id": SID, "hook_event_name": "Stop"}).encode() + b" " * 4000
    with connect(hooks.port) as sock:
        head = request("/hook", body)[: -len(body)]
        sock.sendall(head)
        answer, sent = dribble(sock, body)
    assert status_of(answer) == 408 and sent < len(body)


def test_an_unauthenticated_slow_body_is_refused_and_closed(hooks: HookServer) -> None:
    body = b"x" * 4000
    with connect(hooks.port) as sock:
        sock.sendall(request("/control", body, token="wrong")[: -len(body)])
        answer, sent = dribble(sock, body)
    assert status_of(answer) == 401 and sent < len(body)


def test_a_held_request_outlives_the_head_timeout(hooks: HookServer) -> None:
    """The head deadline ends a slow or idle connection, never one whose handler waits (a held hook)."""
    with connect(hooks.port) as busy:
        hooks.hold(busy, "t1")
        with connect(hooks.port) as idle:
            assert read_all(idle) == b""  # cut: the head timeout has passed for ``busy`` too
        hooks.control("approve", call_id="t1")
        busy.settimeout(WAIT)
        answer = busy.recv(65536)
    assert status_of(answer) == 200 and b'"permissionDecision":"allow"' in answer


def test_connections_past_the_cap_get_503_until_one_closes(hooks: HookServer) -> None:
    held: list[socket.socket] = []
    try:
        for i in range(LIMITS.max_connections):
            held.append(connect(hooks.port))
            hooks.hold(held[-1], f"t{i + 1}")
        with connect(hooks.port) as extra:
            extra.sendall(f"GET /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
                          .encode())
            answer = read_all(extra)
        assert status_of(answer) == 503 and b"too many connections" in answer
    finally:
        for sock in held:
            sock.close()
    end = time.monotonic() + WAIT
    while sessions_status(hooks.port) != 200:
        assert time.monotonic() < end, "the server did not take connections again"


@pytest.mark.parametrize("header", [b"Host: evil.example\r\n", b"Authorization: Bearer other\r\n",
                                    b"Origin: http://a.example\r\nOrigin: http://b.example\r\n",
                                    b"Content-Length: 2\r\n", b"Transfer-Encoding: chunked\r\n" * 2],
                         ids=["host", "authorization", "origin", "content-length", "transfer-encoding"])
def test_a_repeated_header_is_400_without_a_traceback(hooks: HookServer, header: bytes,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), connect(hooks.port) as sock:
        sock.sendall(f"GET /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                     "Content-Length: 0\r\n".encode() + header + b"\r\n")
        answer = read_all(sock)
    assert status_of(answer) == 400
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# --- the websocket server ---------------------------------------------------------------


@pytest.fixture
def ws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setattr(wsserver, "OPEN_TIMEOUT", 0.5)
    served = Served()
    yield served
    served.stop()


def handshake(port: int, *extra: str, token: str = WS_TOKEN) -> bytes:
    lines = ["GET / HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
             f"Authorization: Bearer {token}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("extra", [("Host: evil.example",), (f"Authorization: Bearer {WS_TOKEN}",),
                                   ("Origin: http://a.example", "Origin: http://b.example"),
                                   ("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==",), ("Sec-WebSocket-Version: 13",)],
                         ids=["host", "authorization", "origin", "key", "version"])
def test_a_repeated_handshake_header_is_400_without_a_traceback(
        ws: Served, extra: tuple[str, ...], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), connect(ws.port) as sock:
        sock.sendall(handshake(ws.port, *extra))
        answer = read_all(sock)
    assert status_of(answer) == 400 and b"may appear once" in answer
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_proper_handshake_still_opens(ws: Served) -> None:
    with connect(ws.port) as sock:
        sock.sendall(handshake(ws.port))
        sock.settimeout(WAIT)
        assert sock.recv(65536).startswith(b"HTTP/1.1 101 ")


def answer_head(sock: socket.socket) -> bytes:
    """The handshake's answer up to its blank line (a 101 leaves the socket open: no read to the close)."""
    sock.settimeout(WAIT)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            return answer
        answer += chunk
    return answer


def opened(port: int) -> socket.socket:
    """A websocket past its handshake (101), held open by a raw socket."""
    sock = connect(port)
    sock.sendall(handshake(port))
    assert status_of(answer_head(sock)) == 101
    return sock


def test_websockets_past_the_cap_get_503_until_one_closes() -> None:
    served = Served(max_connections=3)
    held: list[socket.socket] = []
    try:
        held = [opened(served.port) for _ in range(3)]
        with connect(served.port) as extra:
            extra.sendall(handshake(served.port))
            answer = read_all(extra)
        assert status_of(answer) == 503 and b"--max-connections" in answer
        held.pop().close()
        end = time.monotonic() + WAIT
        while True:
            with connect(served.port) as again:
                again.sendall(handshake(served.port))
                if status_of(answer_head(again)) == 101:
                    break
            assert time.monotonic() < end, "the server did not take connections again"
    finally:
        for sock in held:
            sock.close()
        served.stop()


def test_a_slow_handshake_is_cut_off(ws: Served) -> None:
    with connect(ws.port) as sock:
        answer, sent = dribble(sock, handshake(ws.port) * 20)
    assert b"101" not in answer and sent < 20 * len(handshake(ws.port))


# --- recordings ---------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_recordings_are_private_whatever_the_umask_or_existing_modes(tmp_path: Path, umask: int) -> None:
    config = tmp_path / "wk-config"
    old = os.umask(umask)
    try:
        config.mkdir(mode=0o755)
        config.chmod(0o755)
        existing = config / "recordings"
        existing.mkdir()
        existing.chmod(0o755)
        (existing / "old.jsonl").write_bytes(b"")
        (existing / "old.jsonl").chmod(0o644)
        fresh = tmp_path / "missing" / "parents" / "recordings"
        for directory in (existing, fresh):
            recorder = Recorder(directory)
            recorder([{**make_event(f"e{i}", sid, Kind.NOTICE, {"level": "info", "text": "t", "code": "c"}),
                       "seq": i} for i, sid in enumerate(["new", "old"])])
            recorder.close()
            assert recorder.errors == []
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700
            for name in ("new.jsonl", "old.jsonl"):
                assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name
                assert (directory / name).read_bytes().count(b"\n") == 1
        for parent in (tmp_path / "missing", tmp_path / "missing" / "parents"):
            assert stat.S_IMODE(parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)
