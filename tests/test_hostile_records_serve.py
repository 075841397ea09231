"""``watchkeeper serve`` under hostile input, as a real process: its viewers, recorder and hook endpoint go on.

A hook payload nested deeper than orjson writes, POSTed to the real hook endpoint, used to kill the
websocket writer of every viewer (and of every later one) and to unsubscribe the recorder without a
word; a transcript record over the websocket frame limit left viewers reconnecting forever at the
same seq. Here viewers are what ``attach`` runs (a local relay fed by a ``RemoteSource``), on
127.0.0.1, one of them through a proxy whose connections the test cuts to force a resume.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hostile_support import deep_json, deep_value
from remote_support import TOKEN, Attached, Proxy, Served
from test_remote_cli import Lines, free_port
from test_viewer_support import ClaudeTranscript
from waiting import until_async

from watchkeeper import sdk
from watchkeeper.protocol import MAX_EVENT_BYTES, Event, wire
from watchkeeper.reconnect import dial

ROOT = Path(__file__).resolve().parent.parent
HOOKED = "44444444-2222-4333-8444-555555555555"
TAILED = "55555555-2222-4333-8444-555555555555"
WAIT = 60.0


@dataclass
class Serve:
    port: int
    hook_port: int
    token: str
    home: Path
    sessions: Path
    out: Lines

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def recording(self, session: str) -> list[dict[str, Any]]:
        path = self.home / "recordings" / f"{session}.jsonl"
        return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    home, sessions = tmp_path / "home", tmp_path / "sessions"
    sessions.mkdir()
    hook_port, port = free_port(), free_port()
    env = {"PATH": "/usr/bin:/bin", "WATCHKEEPER_HOME": str(home), "WATCHKEEPER_PORT": str(hook_port),
           "HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-c", "from watchkeeper.cli import main; main()", "serve",
                             "--bind", f"127.0.0.1:{port}", "--no-default-roots", "--root", str(sessions)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = Lines(proc.stdout)
    try:
        assert f"hooks on port {hook_port}" in out.until("watchkeeper serve: relay")
        out.until("attach:")
        yield Serve(port, hook_port, (home / "token").read_text().strip(), home, sessions, out)
    finally:
        proc.terminate()
        proc.wait(20)
    assert "Traceback" not in "".join(out.seen)


def post_hook(serve: Serve, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{serve.hook_port}/hook", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {serve.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status == 200
        reply: dict[str, Any] = orjson.loads(response.read())
        return reply


def hook(name: str, **fields: Any) -> dict[str, Any]:
    return {"session_id": HOOKED, "hook_event_name": name, "cwd": "/tmp/project", "transcript_path": "/dev/null",
            **fields}


def deep_hook(name: str, **fields: Any) -> bytes:
    """A hook payload with ``"@DEEP@"`` in ``fields`` replaced by nesting 1,000 levels deep."""
    return orjson.dumps(hook(name, **fields)).replace(b'"@DEEP@"', deep_json().encode())


def ids(events: list[Event]) -> list[str]:
    return [e["id"] for e in events]


async def test_viewers_and_the_recorder_go_on_after_a_deep_hook_payload(serve: Serve) -> None:
    first = Attached(serve.url, token=serve.token)
    try:
        await asyncio.to_thread(post_hook, serve, orjson.dumps(hook("UserPromptSubmit", prompt="go")))
        await until_async(lambda: len(first.events(HOOKED)) >= 2, "the first hooks reach the viewer", timeout=WAIT)

        pre = deep_hook("PreToolUse", tool_use_id="toolu_deep", tool_name="Bash",
                        tool_input={"command": "echo deep", "x": "@DEEP@"})
        post = deep_hook("PostToolUse", tool_use_id="toolu_deep", tool_name="Bash",
                         tool_input={"command": "echo deep"}, tool_response="@DEEP@")
        pair = json.dumps(hook("PreToolUse", tool_use_id="toolu_pair", tool_name="Bash",
                               tool_input={"command": "echo \ud83d"})).encode()  # a lone surrogate escape
        assert await asyncio.to_thread(post_hook, serve, pre) == {}
        assert await asyncio.to_thread(post_hook, serve, post) == {}
        assert await asyncio.to_thread(post_hook, serve, pair) == {}
        broken = b'{"session_id": "' + HOOKED.encode() + b'", "hook_event_name": "PreToolUse", "x": "\xff\xfe"}'
        with pytest.raises(urllib.error.HTTPError) as refused:
            await asyncio.to_thread(post_hook, serve, broken)
        assert refused.value.code == 400  # not JSON: the agent is told, and the body is still kept
        await asyncio.to_thread(post_hook, serve, orjson.dumps(hook(
            "PreToolUse", tool_use_id="toolu_after", tool_name="Bash", tool_input={"command": "echo after"})))

        after = "tool:toolu_after:started"
        await until_async(lambda: after in ids(first.events(HOOKED)), "a good event after the deep ones", timeout=WAIT)
        seen = {e["id"]: e for e in first.events(HOOKED)}
        started = seen["tool:toolu_deep:started"]["data"]
        assert started["input"]["command"] == "echo deep" and "nested deeper" in started["truncated_reason"]
        assert seen["tool:toolu_deep:finished"]["data"]["output"].startswith("[[[[")
        assert seen["tool:toolu_pair:started"]["data"]["input"] == {"command": "echo \\ud83d"}
        kept = next(e["data"] for e in seen.values() if e["kind"] == "raw")
        assert kept["error"] == "a hook request whose body is not JSON" and kept["record"]["x"] == "\ufffd\ufffd"

        later = Attached(serve.url, token=serve.token)
        try:
            await until_async(lambda: after in ids(later.events(HOOKED)), "a later viewer gets everything",
                              timeout=WAIT)
            assert ids(later.events(HOOKED)) == ids(first.events(HOOKED))
        finally:
            later.stop()

        await until_async(lambda: after in ids(serve.recording(HOOKED)), "the recorder writes on", timeout=WAIT)
        recorded = serve.recording(HOOKED)
        assert "tool:toolu_deep:started" in ids(recorded)
        assert [e["seq"] for e in recorded] == list(range(len(recorded)))
    finally:
        first.stop()


async def test_an_event_over_the_frame_limit_is_cut_and_viewers_and_resumes_go_on(serve: Serve) -> None:
    transcript = ClaudeTranscript(serve.sessions / f"{TAILED}.jsonl", session=TAILED)
    transcript.write(transcript.prompt("before the big one"))
    proxy = await Proxy(serve.port).start()
    viewer = Attached(proxy.url, token=serve.token)
    try:
        await until_async(lambda: len(viewer.events(TAILED)) >= 2, "the session reaches the viewer", timeout=WAIT)
        big = "Z" * (wire.MAX_CLIENT_MESSAGE + 2**20)
        transcript.write(transcript.prompt(big), transcript.prompt("right after the big one"))
        del big

        def texts() -> list[str]:
            return [e["data"]["text"] for e in viewer.events(TAILED) if e["kind"] == "message.user"]

        await until_async(lambda: "right after the big one" in texts(), "the viewer gets past the big event",
                          timeout=WAIT)
        cut = next(e for e in viewer.events(TAILED) if e["kind"] == "message.user" and e["data"]["text"][:1] == "Z")
        assert len(orjson.dumps(cut)) <= MAX_EVENT_BYTES
        assert cut["data"]["truncated"] > wire.MAX_CLIENT_MESSAGE - MAX_EVENT_BYTES

        before = viewer.source.connections
        proxy.cut()
        await until_async(lambda: viewer.source.connections > before, "the viewer reconnects", timeout=WAIT)
        transcript.write(transcript.prompt("after the resume"))
        await until_async(lambda: "after the resume" in texts(), "the resumed viewer goes on", timeout=WAIT)
        assert texts().count("right after the big one") == 1
    finally:
        viewer.stop()
        await proxy.close()


# --- what agents send: the SDK, and a peer that is not the SDK -----------------------------------


async def test_an_sdk_agent_reporting_hostile_values_goes_on(served: Served, run: sdk.AgentRun) -> None:
    """Before: a deep input raised in the agent's sender; one over the server's 8 MiB frame limit was
    refused (1009) and sent again on every reconnect."""
    deep_call = run.tool_started("Bash", {"command": "echo deep", "x": deep_value()})
    big_call = run.tool_started("Write", {"file_path": "big.txt", "content": "W" * (wire.MAX_MESSAGE + 2**20)})
    run.user("after the hostile calls")
    assert await run.flush(WAIT)
    kept = {e["id"]: e for e in served.events(run.session)}
    assert kept[f"tool:{deep_call}:started"]["data"]["input"]["command"] == "echo deep"
    big = kept[f"tool:{big_call}:started"]["data"]
    assert big["input"]["content"].startswith("WWW") and big["truncated"] > wire.MAX_MESSAGE - MAX_EVENT_BYTES
    assert [e["data"]["text"] for e in kept.values() if e["kind"] == "message.user"] == ["after the hostile calls"]


async def test_a_peer_sending_deep_events_keeps_its_connection(served: Served) -> None:
    """Not the SDK: a frame whose 'events' hold a deep non-event and a deep event, then a good one."""
    async with dial(served.url, TOKEN) as ws:
        assert wire.decode(await ws.recv())["t"] == "hello"
        await ws.send(wire.dumps(wire.hello_client("agent", "hostile peer")), text=True)
        good = {"id": "p:2", "session": "peer", "kind": "message.user", "ts": "2026-11-27T10:00:00.000Z",
                "data": {"text": "after"}}
        bad = {**good, "id": "p:1", "data": {"text": "deep", "x": "@DEEP@"}}
        frame = b'{"t":"events","n":3,"events":[' + b",".join([
            deep_json().encode(), orjson.dumps(bad).replace(b'"@DEEP@"', deep_json().encode()), orjson.dumps(good),
        ]) + b"]}"
        await ws.send(frame, text=True)
        acked = wire.decode(await asyncio.wait_for(ws.recv(), WAIT))
        assert acked == {"t": "ack", "n": 3}
    await until_async(lambda: "p:2" in ids(served.events("peer")), "the good event after the deep ones", timeout=WAIT)
    kept = served.events("peer")
    assert [e["id"] for e in kept if e["id"].startswith("p:")] == ["p:1", "p:2"]
    assert "truncated_reason" in kept[0]["data"]
    raw = next(e for e in served.events("unknown") if e["kind"] == "raw")
    assert orjson.dumps(raw["data"]["record"]).startswith(b"[[[[") and "truncated_reason" in raw["data"]
    assert "not a protocol event" in raw["data"]["error"]
