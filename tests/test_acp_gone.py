"""An ACP agent that goes (exits, writes what is not JSON-RPC), idle or mid-turn, or says what watchkeeper
drops, through the real ACP source on a real relay (``acp_scripted_agent.py`` writes the lines by hand)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from acp_support import AcpRun, alive
from test_acp_hostile import AGENT, OPTIONS, start
from waiting import until

from watchkeeper.protocol import Event

pytestmark = pytest.mark.timeout(120)
#: Seconds for the session's end to be noticed (at once; a busy machine may take a while).
NOTICED = 30.0
UPDATE = {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "working"}}


def ended(run: AcpRun) -> Event:
    """The ``acp-agent-gone`` notice, once the session has ended (no control sent to make it notice)."""
    run.wait(lambda evs: any(e["kind"] == "session.ended" for e in evs), "the session's end", timeout=NOTICED)
    (notice,) = [e for e in run.kinds("notice") if e["data"]["code"] == "acp-agent-gone"]
    return notice


def warnings(run: AcpRun, n: int) -> list[str]:
    """The first ``n`` ``acp-protocol`` notices' texts, once there are that many."""
    def texts(evs: list[Event]) -> list[str]:
        return [e["data"]["text"] for e in evs if e["kind"] == "notice" and e["data"]["code"] == "acp-protocol"]
    return list(run.wait(lambda evs: texts(evs) if len(texts(evs)) >= n else None, f"{n} protocol warning(s)"))


def rejected(run: AcpRun) -> None:
    outcome = run.control("inject", text="still there?")
    assert outcome["kind"] == "control.rejected", outcome
    assert not [e for e in run.kinds("message.user") if e["data"]["text"] == "still there?"]


def test_an_idle_agent_that_dies_ends_its_session_at_once(tmp_path: Path) -> None:
    """Nothing watched the agent between turns: its session stayed idle and live, and the next inject was
    "sent as the agent's next prompt" before the crash was noticed."""
    run, _ = start(tmp_path, {"new": {"sessionId": "acp-idle-kill"}, "prompt": [{"notify": UPDATE}]})
    try:
        run.idle_turns(1)
        assert run.source.agent.proc is not None
        run.source.agent.proc.kill()
        assert "exited with status -9" in ended(run)["data"]["text"]
        rejected(run)
    finally:
        run.close()


def test_an_agent_killed_while_a_call_is_held_ends_with_one_notice(tmp_path: Path) -> None:
    """The hold's ``cancelled`` answer, sent as the source stopped, failed on the closed pipe: a "Background
    task failed" traceback from the SDK (a warning in the session, once it was routed there)."""
    ask = {"sessionId": "acp-held-kill", "options": OPTIONS,
           "toolCall": {"toolCallId": "c1", "title": "rm", "rawInput": {"command": "rm x"}}}
    run, _ = start(tmp_path, {"new": {"sessionId": "acp-held-kill"},
                              "prompt": [{"requests": [["session/request_permission", ask]]}]})
    try:
        run.held(1)
        assert run.source.agent.proc is not None
        run.source.agent.proc.kill()
        assert "exited with status -9" in ended(run)["data"]["text"]
        assert [e["data"]["text"] for e in run.kinds("notice") if e["data"]["code"] != "acp-agent-gone"] == []
        assert run.relay.session(run.session).held == ()  # type: ignore[union-attr]
    finally:
        run.close()


@pytest.mark.parametrize("line", ["GARBAGE \x1b[31m" + "x" * 300, '{"hello": 1}', '{"jsonrpc": "2.0"}'],
                         ids=["not-json", "not-json-rpc", "neither-method-nor-id"])
def test_an_idle_agent_that_writes_what_is_not_json_rpc_ends_its_session_with_the_line(
        tmp_path: Path, line: str) -> None:
    """Between turns nobody read what the agent wrote; and JSON that is not JSON-RPC was dropped unsaid."""
    run, _ = start(tmp_path, {"new": {"sessionId": "acp-idle-junk"}, "prompt": [{"notify": UPDATE}],
                              "after_prompt": [line]})
    try:
        text = ended(run)["data"]["text"]
        assert "invalid JSON-RPC" in text and line[:12].replace("\x1b", "␛") in text, text
        assert "\x1b" not in text and (len(line) < 200 or "…" in text), "sanitized and cut"
        assert run.relay.session(run.session).state != "running"  # type: ignore[union-attr]
        rejected(run)
    finally:
        run.close()


def test_json_that_is_not_json_rpc_mid_turn_ends_the_session(tmp_path: Path) -> None:
    """``{"hello": 1}`` went to the SDK, which dropped it: the turn went on as if nothing had been said."""
    run, _ = start(tmp_path, {"new": {"sessionId": "acp-mid-junk"},
                              "prompt": [{"notify": UPDATE}, {"raw": '{"hello": 1}'}, {"notify": UPDATE}]})
    try:
        assert "invalid JSON-RPC: '{\"hello\": 1}'" in ended(run)["data"]["text"]
        assert not [e for e in run.kinds("state") if e["data"]["state"] == "idle"]
    finally:
        run.close()


def test_what_the_sdk_drops_is_a_warning_and_the_session_goes_on(tmp_path: Path) -> None:
    """An answer to a request never sent, an update whose params do not fit the schema, a request watchkeeper
    answers with an error: each was dropped without a word (or logged on the terminal, over the viewer)."""
    bogus = {"jsonrpc": "2.0", "method": "session/update",
             "params": {"sessionId": "acp-warn", "update": {"sessionUpdate": "agent_message_chunk",
                                                             "content": {"type": "text"}}}}
    unasked = {"jsonrpc": "2.0", "id": 4242, "result": {"hi": "\x1b]0;title\x07"}}
    run, _ = start(tmp_path, {
        "new": {"sessionId": "acp-warn"},
        "prompt": [{"raw": json.dumps(unasked)}, {"raw": json.dumps(bogus)},
                   {"requests": [["session/request_permission", {"sessionId": "acp-warn"}]]}, {"notify": UPDATE}],
        "after_prompt": [json.dumps({**unasked, "id": "late"})]})
    try:
        run.idle_turns(1)
        texts = warnings(run, 4)
        assert "answered a request watchkeeper never sent (id 4242)" in texts[0]
        assert "dropped a session/update notification" in texts[1]
        assert "update.agent_message_chunk.content.text.text: Field required" in texts[1]
        assert "session/request_permission" in texts[2] and "Invalid params" in texts[2]
        assert "id 'late'" in texts[3], "said while idle too"
        assert not any("\x1b" in t or "\x07" in t for t in texts)
        assert not run.source.ended.is_set()
        assert run.control("inject", text="again")["kind"] == "control.applied"
        run.idle_turns(2)
    finally:
        run.close()


def test_the_agent_dies_with_watchkeeper_killed_outright(tmp_path: Path) -> None:
    """An agent that outlives its stdin (claude-agent-acp does) ran on after ``kill -9`` of watchkeeper."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    pid_file = tmp_path / "agent.pid"
    script = tmp_path / "scenario.json"
    script.write_text(json.dumps({"new": {"sessionId": "acp-orphan"}, "pid_to": str(pid_file), "on_eof": "stay"}))
    host = ("import sys, threading\n"
            "from watchkeeper.adapters.acp.source import AcpSource\n"
            "from watchkeeper.relay import Relay\n"
            "relay = Relay().start()\n"
            f"source = AcpSource({[sys.executable, AGENT, str(script), str(tmp_path / 'a.jsonl')]!r}, "
            f"cwd={str(tmp_path)!r}, env={{'PATH': '/usr/bin:/bin'}})\n"
            "relay.add_source(source)\n"
            "assert source.ready.wait(60) and source.session\n"
            "print('ready', flush=True)\n"
            "threading.Event().wait()\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    watchkeeper = subprocess.Popen([sys.executable, "-c", host], stdout=subprocess.PIPE, text=True, env=env)
    agent = 0
    try:
        assert watchkeeper.stdout is not None and watchkeeper.stdout.readline() == "ready\n"
        agent = int(pid_file.read_text())
        assert alive(agent)
        watchkeeper.kill()
        watchkeeper.wait(30)
        until(lambda: not alive(agent), "the agent to end with watchkeeper", timeout=NOTICED)
    finally:
        watchkeeper.kill()
        watchkeeper.wait(30)
        if agent and alive(agent):
            os.kill(agent, signal.SIGKILL)



def test_an_agent_that_exits_at_startup_is_one_message(tmp_path: Path) -> None:
    """The SDK's "ERROR:root:Send loop failed" and its traceback came before the message, which could blame
    the JSON-RPC for an agent that had exited (its status not read yet) and drop its last stderr lines."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WATCHKEEPER_HOME": str(tmp_path / "wk"),
           "WATCHKEEPER_PORT": "0"}
    done = subprocess.run([str(Path(sys.executable).with_name("watchkeeper")), "run", "--acp", "--", "sh", "-c",
                           "echo oops >&2; exit 3"], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 1
    assert done.stderr == ("watchkeeper run --acp: sh did not start an ACP session: it exited with status 3; "
                           "its last stderr lines:\noops\n"), done.stderr
