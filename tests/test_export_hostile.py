"""``watchkeeper export`` against an endpoint that answers with terminal escapes in its HTTP reason phrase.

The OpenTelemetry exporter logs the reason it was given; that log reaches the
person's terminal, so it must arrive with its escapes made visible, not acted on
(a clipboard write, a cleared screen, "all spans accepted" painted green).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import CC_FIXTURES

EXE = Path(sys.executable).with_name("watchkeeper")
SHOP = CC_FIXTURES / "-workspace-shop" / "55550000-0000-4000-8000-000000000173.jsonl"
#: OSC 52 (set the clipboard), clear the screen, colour, and an 8-bit CSI: all latin-1, as a status line is.
REASON = "\x1b]52;c;ZWNobyBwd25lZAo=\x07\x1b[2J\x1b[32mall spans accepted\x9b0m"
#: ESC and the C1 controls: what a terminal acts on.
CONTROLS = re.compile("[\x1b\x80-\x9f]")


@pytest.fixture
def refusing() -> Iterator[str]:
    """A real OTLP/HTTP endpoint on loopback that answers every export 400 with the hostile reason."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(400, REASON)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(120)
def test_an_endpoints_reason_phrase_reaches_stderr_with_its_escapes_made_visible(
        tmp_path: Path, refusing: str) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "WATCHKEEPER_HOME": str(tmp_path / "wk")}
    out = subprocess.run([str(EXE), "export", "--otlp", refusing, str(SHOP)], capture_output=True, timeout=90,
                         env=env, stdin=subprocess.DEVNULL, check=False)
    stderr = out.stderr.decode("utf-8", "replace")
    assert out.returncode == 1, stderr
    assert "spans NOT accepted" in stderr, "the refusal is told"
    assert "all spans accepted" in stderr, "the endpoint's words are shown, made harmless"
    assert not CONTROLS.findall(stderr), stderr


@pytest.mark.timeout(120)
def test_a_password_in_the_otlp_url_is_sent_as_the_credential_it_is_and_never_shown(tmp_path: Path) -> None:
    """The URL's ``user:password@`` reached the collector as Basic auth, and was also printed whole (and, from
    ``serve``, written into the sessions' recordings as part of a notice)."""
    from watchkeeper.export.otlp import shown_url

    got: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.headers.get("Authorization"))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://bob:PASSW0RD@127.0.0.1:{server.server_address[1]}"
        env = {**os.environ, "HOME": str(tmp_path), "WATCHKEEPER_HOME": str(tmp_path / "wk")}
        out = subprocess.run([str(EXE), "export", "--otlp", url, str(SHOP)], capture_output=True, timeout=90,
                             env=env, stdin=subprocess.DEVNULL, check=False)
    finally:
        server.shutdown()
        server.server_close()
    said = (out.stdout + out.stderr).decode()
    assert out.returncode == 0, said
    assert got and all(a is not None and a.startswith("Basic ") for a in got), got
    assert "PASSW0RD" not in said and "spans sent to http://…@127.0.0.1:" in said, said
    assert shown_url("https://u:p@h:1/v1/traces?x=1") == "https://…@h:1/v1/traces?x=1"
    assert shown_url("http://h:1/v1/traces") == "http://h:1/v1/traces"
