"""An ACP agent that sends fields of the wrong type, or asks twice about one call, through the real ACP source
on a real relay (``acp_scripted_agent.py`` writes the JSON-RPC by hand: the SDK would not send these)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from acp_support import AcpRun

from watchkeeper import config
from watchkeeper.relay import Relay
from watchkeeper.relay.servers.hookserver import serve_hooks

pytestmark = pytest.mark.timeout(120)

AGENT = str(Path(__file__).with_name("acp_scripted_agent.py"))
OPTIONS = [{"optionId": "yes", "name": "Allow", "kind": "allow_once"},
           {"optionId": "no", "name": "Reject", "kind": "reject_once"}]


def start(tmp_path: Path, scenario: dict[str, Any], env: dict[str, str] | None = None) -> tuple[AcpRun, Path]:
    script, answers = tmp_path / "scenario.json", tmp_path / "answers.jsonl"
    script.write_text(json.dumps(scenario))
    return AcpRun([sys.executable, AGENT, str(script), str(answers)], env or {"PATH": "/usr/bin:/bin"}, tmp_path,
                  "go"), answers


def answers(path: Path) -> list[Any]:
    return [json.loads(line)["result"]["outcome"] for line in path.read_text().splitlines()] if path.exists() else []


def test_meta_and_usage_of_the_wrong_type_still_give_the_call_its_hold_and_the_turn_its_end(tmp_path: Path) -> None:
    """Each of these raised: the call had no ``tool.started``, the permission request was an internal error
    to the agent (the person never saw it), and the odd usage or capabilities ended the whole source."""
    call = {"sessionUpdate": "tool_call", "toolCallId": "c1", "title": "ls", "kind": "execute",
            "status": "pending", "rawInput": {"command": "ls"}, "_meta": {"claudeCode": "x"}}
    ask = {"sessionId": "acp-odd", "options": OPTIONS,
           "toolCall": {"toolCallId": "c2", "title": "rm", "rawInput": {"command": "rm -rf /tmp/x"},
                        "_meta": {"claudeCode": 5}}}
    run, got = start(tmp_path, {
        "init": {"protocolVersion": 1, "agentCapabilities": {"_meta": {"claudeCode": "yes"}}},
        "new": {"sessionId": "acp-odd"},
        "prompt": [{"notify": call}, {"requests": [["session/request_permission", ask]]}],
        "prompt_result": {"stopReason": "end_turn",
                          "_meta": {"quota": {"token_count": {"input_tokens": [1], "output_tokens": 3}}}}})
    try:
        (held,) = run.held(1)
        assert held.call_id == "c2" and held.name == "rm"
        assert run.control("deny", call_id="c2")["kind"] == "control.applied"
        run.idle_turns(1)
        started = {e["data"]["call_id"]: e["data"]["name"] for e in run.kinds("tool.started")}
        assert started == {"c1": "ls", "c2": "rm"}
        (usage,) = run.kinds("usage")
        assert (usage["data"]["input_tokens"], usage["data"]["output_tokens"]) == (0, 3)
        assert run.source.error is None and not run.source.ended.is_set()
        assert answers(got) == [{"outcome": "selected", "optionId": "no"}]
    finally:
        run.close()


def test_a_second_request_about_one_call_answers_the_first_cancelled(tmp_path: Path) -> None:
    """The second request replaced the first, which was never answered: the agent's turn waited for good."""
    ask = {"sessionId": "acp-twice", "options": OPTIONS,
           "toolCall": {"toolCallId": "c1", "title": "rm", "rawInput": {"command": "rm x"}}}
    run, got = start(tmp_path, {"new": {"sessionId": "acp-twice"},
                                "prompt": [{"requests": [["session/request_permission", ask]] * 2}]})
    try:
        run.wait(lambda evs: answers(got) == [{"outcome": "cancelled"}], "the first request answered cancelled")
        (held,) = run.held(1)
        assert held.call_id == "c1"
        assert run.control("approve", call_id="c1")["kind"] == "control.applied"
        run.idle_turns(1)
        assert answers(got) == [{"outcome": "cancelled"}, {"outcome": "selected", "optionId": "yes"}]
        assert run.source.holds.pending == {}
    finally:
        run.close()


def test_run_acp_into_a_running_watchkeeper_prints_the_agents_session_id_without_its_escapes(
        tmp_path: Path) -> None:
    """The session id is the agent's own text: printed raw, its OSC and CSI sequences acted on the terminal
    (a title, a cleared screen, the clipboard)."""
    home = tmp_path / "wk-home"
    env = {"WATCHKEEPER_HOME": str(home), "PATH": "/usr/bin:/bin"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WATCHKEEPER_HOME", str(home))
        token = config.load_token(create=True)
        relay = Relay().start()
        hooks = serve_hooks(relay, token, port=0, runtime_file=True)
        assert hooks.ready.wait(30) and hooks.error is None
    try:
        hostile = "ok\x1b]0;TITLE\x07\x1b[2J\x1b]52;c;ZWNobw==\x07\x9b31m"
        script = tmp_path / "scenario.json"
        script.write_text(json.dumps({"new": {"sessionId": hostile}}))
        done = subprocess.run([str(Path(sys.executable).parent / "watchkeeper"), "run", "--acp", "--", sys.executable,
                               AGENT, str(script), str(tmp_path / "answers.jsonl")],
                              env={**env, config.ENV_PORT: str(hooks.port)}, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
        out = done.stdout.decode()
        assert out.startswith("ACP session ok") and "TITLE" in out, out
        assert not any(c in out for c in "\x1b\x07\x9b"), repr(out)
    finally:
        relay.stop()


def test_an_option_is_sent_only_when_its_kind_is_what_the_decision_means(tmp_path: Path) -> None:
    """``deny --option allow_always`` sent the agent its allow_always option and said "denied"; an agent's
    option whose id is another kind's name ("allow_once", of kind allow_always) was picked by that name."""
    options = [{"optionId": "allow_once", "name": "Allow once", "kind": "allow_always"},
               {"optionId": "y1", "name": "Allow", "kind": "allow_once"},
               {"optionId": "no", "name": "Reject", "kind": "reject_once"}]
    ask = {"sessionId": "acp-opt", "options": options,
           "toolCall": {"toolCallId": "c1", "title": "rm", "rawInput": {"command": "rm x"}}}
    run, got = start(tmp_path, {"new": {"sessionId": "acp-opt"},
                                "prompt": [{"requests": [["session/request_permission", ask]]}]})
    try:
        run.held(1)
        refused = run.control("deny", call_id="c1", option="allow_always")
        assert refused["kind"] == "control.rejected" and "it does not deny" in refused["data"]["reason"]
        refused = run.control("deny", call_id="c1", option="y1")
        assert refused["kind"] == "control.rejected" and "allow_once option" in refused["data"]["reason"]
        assert run.held(1)[0].call_id == "c1" and answers(got) == []
        applied = run.control("approve", call_id="c1", option="allow_once")
        assert applied["kind"] == "control.applied"
        assert applied["data"]["reason"] == "approved: the agent was answered allow_once"
        run.idle_turns(1)
        assert answers(got) == [{"outcome": "selected", "optionId": "y1"}]
    finally:
        run.close()


def test_the_agent_never_gets_the_persons_token(tmp_path: Path) -> None:
    """``run --acp`` passed the shell's environment on whole: a ``WATCHKEEPER_TOKEN`` in it let the agent approve
    its own held calls (``run -- claude`` and ``run -- codex`` already took it out)."""
    dumped = tmp_path / "env.json"
    run, _ = start(tmp_path, {"new": {"sessionId": "acp-env"}, "env_to": str(dumped)},
                   {"PATH": "/usr/bin:/bin", config.ENV_TOKEN: "the-persons-token", "KEEP": "kept"})
    try:
        run.idle_turns(1)
        env = json.loads(dumped.read_text())
        assert config.ENV_TOKEN not in env and env["KEEP"] == "kept"
    finally:
        run.close()


def test_a_request_about_a_finished_call_is_held_as_a_new_call(tmp_path: Path) -> None:
    """The request was held, yet shown nowhere (a finished call cannot wait): no row, nothing in
    ``sessions --json``, and the agent waited for good. It is about the call asked again: ``r1#2``."""
    read = {"sessionUpdate": "tool_call", "toolCallId": "r1", "title": "cat secret.txt", "kind": "read",
            "status": "pending", "rawInput": {"command": "cat secret.txt"}}
    done = {"sessionUpdate": "tool_call_update", "toolCallId": "r1", "status": "completed", "rawOutput": "s3cr3t"}
    ask = {"sessionId": "acp-again", "options": OPTIONS, "toolCall": {"toolCallId": "r1"}}
    run, got = start(tmp_path, {"new": {"sessionId": "acp-again"},
                                "prompt": [{"notify": read}, {"notify": done},
                                           {"requests": [["session/request_permission", ask]]},
                                           {"notify": {**done, "rawOutput": "again"}}]})
    try:
        (held,) = run.held(1)
        assert (held.call_id, held.name) == ("r1#2", "cat secret.txt")
        assert run.control("approve", call_id="r1#2")["kind"] == "control.applied"
        run.idle_turns(1)
        assert answers(got) == [{"outcome": "selected", "optionId": "yes"}]
        finished = {e["data"]["call_id"]: e["data"]["output"] for e in run.kinds("tool.finished")}
        assert finished == {"r1": "s3cr3t", "r1#2": "again"}
    finally:
        run.close()
