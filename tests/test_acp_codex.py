"""``run --acp`` with the real codex-acp 0.16.0 against the Responses stand-in: watched and steered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from acp_support import AcpRun, acp_binary
from standins.codex import MODEL, codex_env, config_toml
from standins.openai_responses import Exec, ScriptedResponses, Text, Turn

pytestmark = [pytest.mark.node, pytest.mark.timeout(240)]


def start(api: ScriptedResponses, tmp_path: Path, prompt: str = "make notes") -> AcpRun:
    home, cwd = tmp_path / "codex", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    # "untrusted": Codex asks before any command it does not know to be safe.
    (home / "config.toml").write_text(config_toml(api.url, sandbox="danger-full-access")
                                      .replace('approval_policy = "never"', 'approval_policy = "untrusted"'))
    return AcpRun([str(acp_binary("codex-acp"))], codex_env(home), cwd, prompt)


def sent(api: ScriptedResponses) -> str:
    return json.dumps(api.response_bodies())


def test_events_and_approve(tmp_path: Path) -> None:
    with ScriptedResponses([Turn([Exec("touch notes.txt", call_id="call_1")]), Turn([Text("All done.")])],
                           model=MODEL) as api:
        run = start(api, tmp_path)
        try:
            assert run.kinds("session.started")[0]["data"]["agent_kind"] == "acp"
            (held,) = run.held()
            assert (held.call_id, held.why, held.expires_at) == ("call_1", "permission", None)
            assert not (tmp_path / "work" / "notes.txt").exists()
            outcome = run.control("approve", call_id="call_1")
            assert outcome["kind"] == "control.applied", outcome
            run.idle_turns(1)
            assert (tmp_path / "work" / "notes.txt").exists()
            assert "call_1" in api.function_outputs()
            assert [e["data"]["text"] for e in run.kinds("message.assistant")] == ["All done."]
            assert [e["data"]["call_id"] for e in run.kinds("tool.started")] == ["call_1"]
        finally:
            run.close()


def test_deny_reason_reaches_the_model(tmp_path: Path) -> None:
    reason = "never touch files in this repository"
    with ScriptedResponses([Turn([Exec("touch notes.txt", call_id="call_1")]), Turn([Text("Refused.")]),
                            Turn([Text("Understood.")])], model=MODEL) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            outcome = run.control("deny", call_id="call_1", reason=reason)
            assert outcome["kind"] == "control.applied", outcome
            run.wait(lambda evs: reason in sent(api), "the reason in a request to the model")
            assert not (tmp_path / "work" / "notes.txt").exists()
        finally:
            run.close()


def test_inject_and_cancel(tmp_path: Path) -> None:
    with ScriptedResponses([Turn([Exec("touch notes.txt", call_id="call_1")]), Turn([Text("Hello.")])],
                           model=MODEL) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            queued = run.control("inject", text="say hello instead")
            assert "queued" in queued["data"]["reason"]
            assert run.control("cancel")["kind"] == "control.applied"
            run.wait(lambda evs: "say hello instead" in sent(api), "the queued prompt sent after the cancel")
            assert not (tmp_path / "work" / "notes.txt").exists()
            assert run.relay.session(run.session).held == ()  # type: ignore[union-attr]
        finally:
            run.close()


def test_agent_crash_ends_the_session_with_a_notice(tmp_path: Path) -> None:
    with ScriptedResponses([Turn([Exec("touch notes.txt", call_id="call_1")])], model=MODEL) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            assert run.source.agent.proc is not None
            run.source.agent.proc.kill()
            run.wait(lambda evs: any(e["kind"] == "session.ended" for e in evs), "the session's end")
            assert [e for e in run.kinds("notice") if e["data"]["code"] == "acp-agent-gone"]
        finally:
            run.close()
