"""``ctl`` and ``sessions`` against a peer that answers oddly: a message and exit 2 (or a sane listing), no traceback.

Everything is real: the CLI as a process with its own ``WATCHKEEPER_HOME``, and
a stand-in for the loopback API (an HTTP server, or a raw socket that is not
HTTP) or for ``serve`` (a websocket server) on 127.0.0.1 port 0.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_remote_cli import ROOT, WATCHKEEPER
from websockets.asyncio.server import ServerConnection, serve

ROW = {"id": "sess-1", "agent": "claude-code", "title": "a title", "cwd": "/x", "state": "waiting", "live": True,
       "last_activity": None, "steerable": True, "reason": None, "held": []}
APPLIED = {"outcome": {"kind": "control.applied", "data": {"reason": "ok"}}}
LISTED = {"listing": [ROW], "sessions": [{"session": "sess-1"}]}


class FakeApi:
    """The loopback API as a hostile peer would answer it: ``sessions`` and ``control`` are the JSON sent back,
    ``raw`` (if set) the whole HTTP response, bytes as they are."""

    def __init__(self) -> None:
        self.sessions: Any = LISTED
        self.control: Any = APPLIED
        self.raw: bytes | None = None
        #: the Authorization header and the path of every request, in order.
        self.tokens: list[str | None] = []
        self.paths: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                api.tokens.append(self.headers.get("Authorization"))
                api.paths.append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if api.raw is not None:
                    self.wfile.write(api.raw)
                    self.close_connection = True
                    return
                body = api.sessions if self.path.startswith("/sessions") else api.control
                data = body if isinstance(body, bytes) else orjson.dumps(body)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    yield fake
    fake.stop()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("person-token\n")
    (home / "token").chmod(0o600)
    return home


def wk(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "WATCHKEEPER_HOME": str(home), "HOME": str(home), "COLUMNS": "80"}
    return subprocess.run([*WATCHKEEPER, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def refused(out: subprocess.CompletedProcess[str], says: str) -> None:
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 2 and says in out.stderr, out


def listed(out: subprocess.CompletedProcess[str], says: str) -> None:
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 0 and says in out.stdout, out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sessions", [{"sessions": [1, "x"], "listing": [ROW]}, {"sessions": 5, "listing": [ROW]}])
def test_ctl_skips_session_rows_that_are_not_objects(api: FakeApi, home: Path, sessions: Any) -> None:
    api.sessions = sessions
    listed(wk(home, "ctl", "pause", "sess-1", "--port", str(api.port)), "applied: ok")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("held", [["x", 7], 5, "abc"])
def test_odd_held_calls_are_skipped_by_sessions_and_ctl(api: FakeApi, home: Path, held: Any) -> None:
    api.sessions = {"listing": [dict(ROW, held=held)], "sessions": [{"session": "sess-1"}]}
    listed(wk(home, "sessions", "--port", str(api.port)), "a title")
    # No held call it can read: an unnamed approve would take whichever call came next, so it is not sent.
    unnamed = wk(home, "ctl", "approve", "sess-1", "--port", str(api.port))
    assert "Traceback" not in unnamed.stderr and unnamed.returncode == 1, unnamed
    assert "holds no call: nothing to approve" in unnamed.stderr and "/control" not in api.paths, unnamed
    listed(wk(home, "ctl", "approve", "sess-1", "call-1", "--port", str(api.port)), "applied: ok")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("answer", [{"outcome": {"kind": "control.applied", "data": "x"}},
                                    {"outcome": {"kind": "control.applied", "data": [1]}}])
def test_ctl_says_an_outcome_it_cannot_read_is_unexpected(api: FakeApi, home: Path, answer: Any) -> None:
    api.control = answer
    refused(wk(home, "ctl", "pause", "sess-1", "--port", str(api.port)), "unexpected answer")


@pytest.mark.timeout(60)
def test_an_answer_that_is_not_json_is_said_to_be_one(api: FakeApi, home: Path) -> None:
    api.sessions = api.control = b"<html>hello</html>"
    refused(wk(home, "ctl", "pause", "sess-1", "--port", str(api.port)), "did not answer with JSON")
    refused(wk(home, "sessions", "--port", str(api.port)), "did not answer with JSON")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("raw", "says"), [
    (b"SSH-2.0-OpenSSH_9.6\r\n", "BadStatusLine"),
    (b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"listing":', "IncompleteRead"),
])
def test_an_answer_that_is_not_whole_http_is_said_to_be_broken(api: FakeApi, home: Path, raw: bytes,
                                                              says: str) -> None:
    api.raw = raw
    refused(wk(home, "sessions", "--port", str(api.port)), says)
    refused(wk(home, "ctl", "pause", "sess-1", "--port", str(api.port)), says)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("broken", ["not-utf8", "directory"])
def test_a_token_file_that_cannot_be_read_is_said_so(tmp_path: Path, broken: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    token = home / "token"
    if broken == "directory":
        token.mkdir()
    else:
        token.write_bytes(b"\xff\xfe\n")
        token.chmod(0o600)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        refused(wk(home, "ctl", "pause", "s", "--port", str(port)), "cannot read the token")
        refused(wk(home, "sessions", "--port", str(port)), "cannot read the token")


class FakeRelay:
    """``serve`` as a hostile peer would answer a viewer: ``sessions`` and ``outcome`` are what it sends back;
    ``silent``: it says hello and then nothing."""

    def __init__(self, sessions: Any = None, outcome: Any = None, silent: bool = False) -> None:
        self.sessions = sessions if sessions is not None else [{"session": "sess-1"}]
        self.listing = [dict(ROW, session="sess-1")]
        self.outcome = outcome if outcome is not None else APPLIED["outcome"]
        self.silent = silent

    async def __call__(self, ws: ServerConnection) -> None:
        await ws.send(orjson.dumps({"t": "hello", "v": 1, "epoch": "r-odd", "server": "odd"}).decode())
        async for raw in ws:
            msg = orjson.loads(raw)
            if self.silent:
                continue
            if msg.get("t") == "sessions":
                await ws.send(orjson.dumps({"t": "sessions", "id": msg.get("id"), "sessions": self.sessions,
                                            "listing": self.listing}).decode())
            elif msg.get("t") == "control":
                await ws.send(orjson.dumps({"t": "outcome", "id": msg.get("id"), "outcome": self.outcome}).decode())


async def over(relay: FakeRelay, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    async with serve(relay, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        return await asyncio.to_thread(wk, home, *args, "--relay", f"ws://127.0.0.1:{port}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("outcome", ["x", {"kind": "control.applied", "data": [1]}])
async def test_ctl_over_a_relay_says_an_outcome_it_cannot_read_is_unexpected(home: Path, outcome: Any) -> None:
    refused(await over(FakeRelay(outcome=outcome), home, "ctl", "pause", "sess-1"), "unexpected answer")


@pytest.mark.timeout(60)
async def test_odd_rows_from_a_relay_are_skipped(home: Path) -> None:
    relay = FakeRelay(sessions=[1, "x"])
    listed(await over(relay, home, "ctl", "pause", "sess"), "applied: ok")
    relay.listing = [dict(ROW, session="sess-1", held=["x"])]
    listed(await over(relay, home, "sessions"), "a title")


@pytest.mark.timeout(60)
async def test_a_relay_that_never_answers_is_named_with_why_after_the_timeout(home: Path) -> None:
    """A timeout's own text is empty: the message must still say what happened."""
    sessions, ctl = await asyncio.gather(over(FakeRelay(silent=True), home, "sessions"),
                                         over(FakeRelay(silent=True), home, "ctl", "pause", "sess-1"))
    refused(sessions, "TimeoutError")
    refused(ctl, "TimeoutError")


@pytest.mark.timeout(60)
def test_the_token_goes_only_where_the_running_watchkeeper_says_it_listens(
        api: FakeApi, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no watchkeeper running, ``sessions`` and ``ctl`` sent the person's token to whatever listened on the
    default port: on a shared machine, another user who bound it first collected the token that steers
    every session. Here the stand-in listens on the (patched) default port."""
    from watchkeeper import client, config

    monkeypatch.setenv(config.ENV_HOME, str(home))
    monkeypatch.delenv(config.ENV_PORT, raising=False)
    monkeypatch.setattr(config, "DEFAULT_PORT", api.port)
    with pytest.raises(client.ApiError, match="no watchkeeper is running here"):
        client.api_request("GET", "/sessions")
    assert api.tokens == [], "nothing was sent to a port nobody said is watchkeeper's"
    config.write_runtime(api.port, "epoch-1")
    assert client.api_request("GET", "/sessions") == LISTED
    assert api.tokens == ["Bearer person-token"]


def test_ctl_waits_longer_for_an_outcome_than_the_relay_waits_for_a_far_sides() -> None:
    """Else a control passed on would end as "no watchkeeper answers" just as its real outcome came."""
    from watchkeeper.client import OUTCOME_WAIT
    from watchkeeper.relay.controls import FORWARD_TIMEOUT

    assert OUTCOME_WAIT >= FORWARD_TIMEOUT + 10
