"""``run --acp`` with the real Gemini CLI 0.61.0 (``gemini --acp``) against its API stand-in: watched and steered."""

from __future__ import annotations

from pathlib import Path

import pytest
from acp_support import AcpRun, acp_binary
from standins.gemini import ScriptedGemini, call, gemini_env, text

pytestmark = [pytest.mark.node, pytest.mark.timeout(240)]

TOUCH = {"command": "touch notes.txt", "description": "make notes"}


def start(api: ScriptedGemini, tmp_path: Path, prompt: str = "make notes") -> AcpRun:
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    return AcpRun([str(acp_binary("gemini")), "--acp"], gemini_env(api, home), cwd, prompt)


def script(*after: str) -> list[list[dict[str, object]]]:
    return [[text("I will touch a file."), call("run_shell_command", TOUCH)], *[[text(t)] for t in after]]


def test_events_and_approve(tmp_path: Path) -> None:
    with ScriptedGemini(script("All done.")) as api:
        run = start(api, tmp_path)
        try:
            started = run.kinds("session.started")[0]["data"]
            assert started["agent_kind"] == "acp" and started["title"] == "make notes"
            (held,) = run.held()
            assert (held.why, held.expires_at) == ("permission", None)
            # Gemini CLI asks before it reports the call: its name is the permission request's title.
            assert (held.name, held.input) == ("touch notes.txt", {"title": "touch notes.txt"})
            assert not (tmp_path / "work" / "notes.txt").exists()
            assert api.function_responses() == []
            outcome = run.control("approve", call_id=held.call_id)
            assert outcome["kind"] == "control.applied", outcome
            run.idle_turns(1)
            assert (tmp_path / "work" / "notes.txt").exists()
            (response,) = api.function_responses()
            assert response["name"] == "run_shell_command"
            texts = [e["data"]["text"] for e in run.kinds("message.assistant")]
            assert texts == ["I will touch a file.", "All done."]
            assert [e["data"]["call_id"] for e in run.kinds("tool.started")] == [held.call_id]
            (finished,) = run.kinds("tool.finished")
            assert finished["data"]["call_id"] == held.call_id and not finished["data"]["is_error"]
            (usage,) = run.kinds("usage")  # from the prompt result's _meta.quota: Gemini CLI sends no usage
            main = [r for r in api.requests if r.route == "main"]
            assert usage["data"]["output_tokens"] >= sum(r.output_tokens for r in main) > 0
            assert run.relay.session(run.session).held == ()  # type: ignore[union-attr]
            assert not [r for r in api.requests if r.route == "other"], "the CLI reached for another host"
        finally:
            run.close()


def test_deny_reason_reaches_the_model(tmp_path: Path) -> None:
    reason = "use the docs folder instead"
    with ScriptedGemini(script("I was refused.", "Understood.")) as api:
        run = start(api, tmp_path)
        try:
            (held,) = run.held()
            outcome = run.control("deny", call_id=held.call_id, reason=reason)
            assert outcome["kind"] == "control.applied", outcome
            run.wait(lambda evs: api.requests_containing(reason, route="main"), "the reason in a request to the model")
            run.idle_turns(2)
            assert not (tmp_path / "work" / "notes.txt").exists()
            (response,) = api.function_responses()
            assert "canceled by the user" in response["response"]["error"], response
            # Gemini CLI sends no tool_call_update for a rejected call: it is finished as denied at the turn's end.
            (finished,) = run.kinds("tool.finished")
            assert finished["data"] == {"call_id": held.call_id, "status": "denied", "is_error": True,
                                        "output": reason}
            prompts = [e["data"] for e in run.kinds("message.user")]
            assert [p["text"] for p in prompts if p["origin"] == "injected"] == [reason]
        finally:
            run.close()


def test_inject_is_queued_and_cancel_answers_the_held_request(tmp_path: Path) -> None:
    # Whether Gemini CLI keeps the cancelled turn in its history is a race, so the queued prompt is answered by
    # its text, not by its turn.
    with ScriptedGemini(script("All done."), replies={"say hello instead": [text("Hello.")]}) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            queued = run.control("inject", text="say hello instead")
            assert "queued" in queued["data"]["reason"]
            assert run.control("cancel")["kind"] == "control.applied"
            run.wait(lambda evs: api.requests_containing("say hello instead", route="main"),
                     "the queued prompt sent after the cancel")
            run.idle_turns(2)
            assert not (tmp_path / "work" / "notes.txt").exists()
            assert run.relay.session(run.session).held == ()  # type: ignore[union-attr]
            assert any("cancelled" in (e["data"]["reason"] or "") for e in run.kinds("state")
                       if e["data"]["state"] == "idle")
        finally:
            run.close()


def test_agent_crash_ends_the_session_with_a_notice(tmp_path: Path) -> None:
    with ScriptedGemini(script("All done.")) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            assert run.source.agent.proc is not None
            run.source.agent.proc.kill()
            run.wait(lambda evs: any(e["kind"] == "session.ended" for e in evs), "the session's end")
            assert [e for e in run.kinds("notice") if e["data"]["code"] == "acp-agent-gone"]
        finally:
            run.close()
