"""``serve``'s defences, each with its clear outcome: 401, 403, 1009, an error message, a rejection.

Raw websockets clients (and one raw HTTP request) on 127.0.0.1 against the
real server; the connection stays open after every recoverable mistake.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from remote_support import TOKEN, Attached, Served
from test_loopback import HOST_ALLOWED, HOST_REFUSED
from waiting import until_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from watchkeeper.adapters.remote import RemoteError, probe

ROOT = Path(__file__).resolve().parent.parent
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    yield s
    s.stop()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def viewer(served: Served) -> AsyncIterator[ClientConnection]:
    async with connect(served.url, additional_headers=auth(), proxy=None, max_size=2**26) as ws:
        assert orjson.loads(await ws.recv())["t"] == "hello"
        await ws.send(orjson.dumps({"t": "hello", "role": "viewer", "name": "test"}).decode())
        yield ws


async def answer(ws: ClientConnection, **msg: Any) -> dict[str, Any]:
    """Send ``msg`` and return the reply that carries its id."""
    await ws.send(orjson.dumps(msg).decode())
    while True:
        reply: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if reply.get("id") == msg.get("id"):
            return reply


@pytest.mark.parametrize("headers", [auth("wrong-token"), {}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
async def test_a_wrong_or_missing_token_gets_401(served: Served, headers: dict[str, str]) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(served.url, additional_headers=headers, proxy=None):
            pass
    assert info.value.response.status_code == 401
    assert info.value.response.headers["WWW-Authenticate"] == "Bearer"
    assert b"bearer token" in info.value.response.body
    with pytest.raises(RemoteError, match="401"):
        await probe(served.url, headers.get("Authorization", "")[7:] or None)


async def test_a_browser_origin_gets_403_even_with_the_token(served: Served) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(served.url, additional_headers=auth(), origin="http://evil.example",  # type: ignore[arg-type]
                           proxy=None):
            pass
    assert info.value.response.status_code == 403 and b"browser" in info.value.response.body


async def handshake_status(port: int, host: str) -> bytes:
    """The status line a websocket handshake with this ``Host`` header gets."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return status


async def test_a_non_loopback_host_gets_403(served: Served) -> None:
    assert (await handshake_status(served.port, "attacker.example:80")).startswith(b"HTTP/1.1 403")
    for host in HOST_REFUSED:
        assert (await handshake_status(served.port, host.format(port=served.port))).startswith(b"HTTP/1.1 403"), host
    for host in HOST_ALLOWED:
        assert (await handshake_status(served.port, host.format(port=served.port))).startswith(b"HTTP/1.1 101"), host


async def test_an_oversize_message_closes_with_1009(served: Served) -> None:
    ws = await connect(served.url, additional_headers=auth(), proxy=None)
    await ws.recv()
    await ws.send("x" * (8 * 2**20 + 1))
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    assert "exceeds limit" in info.value.rcvd.reason


@pytest.mark.parametrize(("frame", "code"), [
    ("{not json", "malformed"),
    ('["a list"]', "malformed"),
    ('{"t": "launch", "id": 7}', "unknown-type"),
    ('{"t": "range", "id": 8, "session": "s", "start": -1, "stop": 5}', "bad-range"),
    ('{"t": "control", "id": 9, "control": {"id": "c", "session": "s", "control": "explode"}}', "bad-control"),
    ('{"t": "subscribe", "from": [1]}', "bad-subscribe"),
])
async def test_malformed_and_unknown_messages_get_an_error_and_the_connection_stays(
        viewer: ClientConnection, frame: str, code: str) -> None:
    await viewer.send(frame)
    reply = orjson.loads(await asyncio.wait_for(viewer.recv(), 10))
    assert reply["t"] == "error" and reply["code"] == code and reply["message"]
    still = await answer(viewer, t="sessions", id="after")
    assert still["t"] == "sessions", "the connection is kept"


async def test_a_control_for_a_session_the_relay_does_not_have_is_rejected(viewer: ClientConnection) -> None:
    reply = await answer(viewer, t="control", id="q1",
                         control={"id": "c-unknown", "session": "no-such-session", "control": "pause"})
    outcome = reply["outcome"]
    assert reply["t"] == "outcome" and outcome["kind"] == "control.rejected"
    assert "no session no-such-session" in outcome["data"]["reason"] and outcome["id"] == "control:c-unknown"


async def test_the_first_message_must_be_a_hello(served: Served) -> None:
    async with connect(served.url, additional_headers=auth(), proxy=None) as ws:
        await ws.recv()
        await ws.send('{"t": "sessions", "id": 1}')
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        assert reply["code"] == "expected-hello"
        await ws.send('{"t": "hello"}')
        assert (await answer(ws, t="sessions", id=2))["t"] == "sessions"


async def test_the_token_never_reaches_a_log(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await probe(served.url, TOKEN)
    with pytest.raises(RemoteError):
        await probe(served.url, "wrong-token-value")
    # The server logs "connection closed" last, for each of the two handshakes.
    await until_async(lambda: caplog.text.count("connection closed") >= 2, what="both connections' last log line")
    text = caplog.text
    assert "Authorization: [redacted]" in text, "the handshake was logged at DEBUG, headers included"
    assert TOKEN not in text and "wrong-token-value" not in text


def test_serve_refuses_a_non_loopback_bind_without_a_token(tmp_path: Path) -> None:
    out = subprocess.run([*WATCHKEEPER, "serve", "--bind", "0.0.0.0:0", "--no-token"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "WATCHKEEPER_HOME": str(tmp_path)})
    assert out.returncode == 2 and "without a token" in out.stderr


def test_serve_off_loopback_refuses_a_short_token_or_one_others_can_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off loopback any token was taken: ``a`` from a world-readable file served on 0.0.0.0. Nothing is bound
    here: the refusal comes before the server starts, and a good token is checked through the same options."""
    from watchkeeper.cli import build_parser
    from watchkeeper.commands.serve import server_options

    env = {"PATH": "/usr/bin:/bin", "WATCHKEEPER_HOME": str(tmp_path / "wk")}
    monkeypatch.setenv("WATCHKEEPER_HOME", env["WATCHKEEPER_HOME"])
    short, shared, good = tmp_path / "short", tmp_path / "shared", tmp_path / "good"
    for path, text, mode in ((short, "alice=a\n", 0o600), (shared, "x" * 40 + "\n", 0o644),
                             (good, "bob=" + "y" * 40 + "\n", 0o600)):
        path.write_text(text)
        path.chmod(mode)
    for path, says in ((short, "the token of alice has 1 characters"), (shared, "can be read by others")):
        for bind in ("0.0.0.0:0", "[::]:0"):
            out = subprocess.run([*WATCHKEEPER, "serve", "--bind", bind, "--token-file", str(path)],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
            assert out.returncode == 2 and says in out.stderr, (bind, out.stderr)
    args = build_parser().parse_args(["serve", "--bind", "0.0.0.0:0", "--token-file", str(good)])
    assert server_options(args)["host"] == "0.0.0.0"
    args = build_parser().parse_args(["serve", "--bind", "127.0.0.1:0", "--token-file", str(short)])
    assert server_options(args)["host"] == "127.0.0.1", "on loopback a short token is the person's own choice"


def test_serve_off_loopback_takes_a_base64_token_whole_and_never_prints_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``X==`` was read as the person ``X`` with the token ``=``: refused as 1 character, naming ``X``, the secret."""
    from watchkeeper.cli import build_parser
    from watchkeeper.commands.serve import server_options

    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path / "wk"))
    good, short = tmp_path / "good", tmp_path / "short"
    for path, secret in ((good, "q7Zk3+9fPaLmN0xYvW2RtA=="), (short, "Zk3+9fPaLmN0==")):
        path.write_text(secret + "\n")
        path.chmod(0o600)
    args = build_parser().parse_args(["serve", "--bind", "0.0.0.0:0", "--token-file", str(good)])
    assert server_options(args)["token"].people == [(None, b"q7Zk3+9fPaLmN0xYvW2RtA==")]
    args = build_parser().parse_args(["serve", "--bind", "0.0.0.0:0", "--token-file", str(short)])
    with pytest.raises(ValueError, match="a token has 14 characters") as refused:
        server_options(args)
    assert "Zk3" not in str(refused.value)


async def test_a_relay_that_sends_garbage_is_reconnected_to_not_fatal() -> None:
    async def garbage(ws: ServerConnection) -> None:
        await ws.send('{"t": "hello", "v": 1, "epoch": "r-bad", "server": "bad"}')
        await ws.recv()
        await ws.send("{this is not json")
        await ws.wait_closed()

    async with serve(garbage, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        attached = Attached(f"ws://127.0.0.1:{port}")
        try:
            await until_async(lambda: attached.source.connections >= 2, what="it reconnects after the bad frame")
            assert not any("failed" in e for e in attached.relay.errors), "the source is still running"
        finally:
            attached.stop()
