"""JSON output read in a terminal: what a terminal may act on (C1 controls, bidi overrides) is escaped.

JSON escapes C0 controls itself but leaves U+009B (which xterm takes as CSI), bidi overrides and line
separators as they are. Written to a terminal they are ``\\uXXXX`` escapes; piped, the bytes are
unchanged: a ``jq`` gets the same values either way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from watchkeeper.protocol.display import terminal_json

pytestmark = pytest.mark.timeout(60)

HOSTILE = "pay \x9b31mnow\x9b0m \u202egnp.exe \u2028next \u2066iso\u2069 \x85nel é ☃ \u200e\u061c\ufeff"
EXE = str(Path(sys.executable).parent / "watchkeeper")


def transcript(tmp_path: Path) -> Path:
    sid = "11111111-2222-4333-8444-555555555555"
    rec = {"type": "user", "uuid": "u-1", "parentUuid": None, "sessionId": sid, "cwd": "/w",
           "timestamp": "2026-12-07T10:00:00.000Z", "message": {"role": "user", "content": HOSTILE}}
    path = tmp_path / f"{sid}.jsonl"
    path.write_bytes(orjson.dumps(rec) + b"\n")
    return path


def in_a_terminal(argv: list[str], env: dict[str, str] | None = None) -> bytes:
    """What ``argv`` writes to a terminal (a pseudo-terminal it has as stdout)."""
    leader, follower = os.openpty()
    try:
        done = subprocess.run(argv, stdout=follower, stderr=subprocess.PIPE, timeout=50,
                              env=env or {**os.environ, "WATCHKEEPER_HOME": os.devnull})
        os.close(follower)
        follower = -1
        assert done.returncode == 0, done.stderr
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's writer is gone: everything was read
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_the_escapes_leave_the_values_as_they_were() -> None:
    value = {"text": HOSTILE, "n": [1, "\x9b"]}
    out = terminal_json(orjson.dumps(value))
    assert json.loads(out) == value
    assert not any(c in out.decode() for c in "\x9b\x85\u202e\u2028\u2066\u2069\u200e\u061c\ufeff")
    assert "é ☃".encode() in out, "other text is left as it is"


def test_events_in_a_terminal_escapes_what_the_terminal_would_act_on_and_a_pipe_gets_it_as_written(
        tmp_path: Path) -> None:
    path = transcript(tmp_path)
    shown = in_a_terminal([EXE, "events", str(path)]).decode()
    assert not any(c in shown for c in "\x9b\x85\u202e\u2028\u2066"), repr(shown)
    assert "\\u009b31mnow" in shown and "\\u202egnp.exe" in shown
    piped = subprocess.run([EXE, "events", str(path)], capture_output=True, timeout=50, check=True).stdout
    texts = [json.loads(line)["data"].get("text") for line in piped.splitlines()]
    assert HOSTILE in texts


def test_sessions_json_in_a_terminal_escapes_a_hostile_title(tmp_path: Path) -> None:
    from test_client_hostile import LISTED, ROW, FakeApi

    api = FakeApi()
    try:
        api.sessions = {**LISTED, "listing": [dict(ROW, title=HOSTILE)]}
        home = tmp_path / "home"
        home.mkdir()
        (home / "token").write_text("person-token\n")
        argv = [EXE, "sessions", "--json", "--port", str(api.port)]
        env = {**os.environ, "WATCHKEEPER_HOME": str(home)}
        shown = in_a_terminal(argv, env).decode()
        assert not any(c in shown for c in "\x9b\x85\u202e\u2028\u2066"), repr(shown)
        assert "\\u009b31mnow" in shown
        piped = subprocess.run(argv, capture_output=True, timeout=50, env=env, check=True).stdout
        assert json.loads(piped)[0]["title"] == HOSTILE
    finally:
        api.stop()
