"""``run --acp`` with the real claude-agent-acp 0.23.1 against the Messages stand-in: watched and steered."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from acp_support import AcpRun, acp_binary
from standins.anthropic import ScriptedAnthropic, text, tool_use
from standins.claude import claude_env

from watchkeeper.adapters.acp import watch_disk
from watchkeeper.adapters.acp.source import WHY

pytestmark = [pytest.mark.node, pytest.mark.timeout(240)]

TOUCH = {"command": "touch notes.txt", "description": "make notes"}


def start(api: ScriptedAnthropic, tmp_path: Path, prompt: str = "make notes", **kw: object) -> AcpRun:
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir(parents=True)
    cwd.mkdir()
    return AcpRun([str(acp_binary("claude-agent-acp"))], claude_env(api, home), cwd, prompt, **kw)  # type: ignore[arg-type]


def script(*after: str) -> list[list[dict[str, object]]]:
    return [[text("I will touch a file."), tool_use("Bash", TOUCH)], *[[text(t)] for t in after]]


def test_events_and_approve(tmp_path: Path) -> None:
    with ScriptedAnthropic(script("All done.")) as api:
        run = start(api, tmp_path)
        try:
            started = run.kinds("session.started")[0]["data"]
            assert started["agent_kind"] == "acp" and started["title"] == "make notes"
            assert started["capabilities"]["why"] == WHY and started["capabilities"]["permission"]
            assert not started["capabilities"]["step"]
            (held,) = run.held()
            assert (held.call_id, held.why, held.expires_at, held.name) == ("toolu_01", "permission", None, "Bash")
            assert held.input == TOUCH
            listed = next(r for r in run.relay.listing() if r["id"] == run.session)
            assert [h["call_id"] for h in listed["held"]] == ["toolu_01"] and listed["steerable"]
            assert not (tmp_path / "work" / "notes.txt").exists()
            viewer = run.relay.subscribe(lambda batch: None, run.session)
            run.wait(lambda evs: run.relay.viewers(run.session) == 1, "a viewer")
            viewer.close()
            run.wait(lambda evs: run.relay.viewers(run.session) == 0, "the viewer gone")
            assert len(run.relay.session(run.session).held) == 1, "the last viewer leaving let the hold go"  # type: ignore[union-attr]
            assert "toolu_01" in run.source.holds.pending
            outcome = run.control("approve", call_id="toolu_01")
            assert outcome["kind"] == "control.applied", outcome
            run.idle_turns(1)
            assert (tmp_path / "work" / "notes.txt").exists()
            texts = [e["data"]["text"] for e in run.kinds("message.assistant")]
            assert texts == ["I will touch a file.", "All done."]
            (finished,) = run.kinds("tool.finished")
            assert finished["data"]["status"] == "ok"
            (usage,) = run.kinds("usage")
            assert usage["data"]["output_tokens"] > 0
            assert run.relay.session(run.session).held == ()  # type: ignore[union-attr]
        finally:
            run.close()


def test_deny_reason_reaches_the_model(tmp_path: Path) -> None:
    reason = "use the docs folder instead"
    with ScriptedAnthropic(script("I was refused.", "Understood.")) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            outcome = run.control("deny", call_id="toolu_01", reason=reason)
            assert outcome["kind"] == "control.applied", outcome
            run.idle_turns(2)
            assert not (tmp_path / "work" / "notes.txt").exists()
            (finished,) = run.kinds("tool.finished")
            assert finished["data"]["is_error"]
            assert api.requests_containing(reason, route="main"), "the model never read the reason"
            prompts = [e["data"] for e in run.kinds("message.user")]
            assert [p["text"] for p in prompts if p["origin"] == "injected"] == [reason]
        finally:
            run.close()


def test_inject_while_a_turn_runs_is_queued_then_sent(tmp_path: Path) -> None:
    with ScriptedAnthropic(script("All done.", "Hi there.")) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            outcome = run.control("inject", text="also say hi")
            assert "queued" in outcome["data"]["reason"]
            (queued,) = [e for e in run.kinds("message.user") if e["data"]["origin"] == "queued"]
            run.control("approve", call_id="toolu_01")
            run.idle_turns(2)
            sent = [e["data"] for e in run.kinds("message.user") if e["data"].get("origin") == "injected"]
            assert sent == [{"text": "also say hi", "origin": "injected", "queue_id": queued["data"]["queue_id"]}]
            assert api.requests_containing("also say hi", route="main")
            # idle now: a prompt from the inject dialog starts a turn at once
            outcome = run.control("inject", text="one more thing")
            assert "queued" not in outcome["data"]["reason"]
            run.idle_turns(3)
            assert api.requests_containing("one more thing", route="main")
        finally:
            run.close()


def test_cancel_answers_the_held_request(tmp_path: Path) -> None:
    with ScriptedAnthropic(script("All done.")) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            outcome = run.control("cancel")
            assert outcome["kind"] == "control.applied"
            idle = run.idle_turns(1)
            assert idle and any("cancelled" in (e["data"]["reason"] or "") for e in run.kinds("state")
                                if e["data"]["state"] == "idle")
            assert not (tmp_path / "work" / "notes.txt").exists()
            assert run.relay.session(run.session).held == ()  # type: ignore[union-attr]
        finally:
            run.close()


def test_stopping_watchkeeper_answers_pending_requests_cancelled(tmp_path: Path) -> None:
    with ScriptedAnthropic(script("All done.")) as api:
        run = start(api, tmp_path)
        run.held()
        (pending,) = run.source.holds.pending.values()
        run.close()
        assert pending.future.done()
        assert pending.future.result().outcome.outcome == "cancelled"
        assert run.source.ended.is_set()
        assert not (tmp_path / "work" / "notes.txt").exists()


def test_agent_crash_ends_the_session_with_a_notice(tmp_path: Path) -> None:
    with ScriptedAnthropic(script("All done.")) as api:
        run = start(api, tmp_path)
        try:
            run.held()
            assert run.source.agent.proc is not None
            run.source.agent.proc.kill()
            run.wait(lambda evs: any(e["kind"] == "session.ended" for e in evs), "the session's end")
            (notice,) = [e for e in run.kinds("notice") if e["data"]["code"] == "acp-agent-gone"]
            assert "exited with status" in notice["data"]["text"]
            outcome = run.control("inject", text="still there?")
            assert outcome["kind"] == "control.rejected"
        finally:
            run.close()


def test_invalid_json_rpc_ends_the_session_with_a_notice(tmp_path: Path) -> None:
    liar = tmp_path / "liar.py"
    liar.write_text("import sys\nsys.stdin.readline()\nprint('this is not JSON-RPC', flush=True)\n"
                    "sys.stdin.readline()\n")
    run_dir = tmp_path / "w"
    run_dir.mkdir()
    from watchkeeper.adapters.acp.source import AcpSource
    from watchkeeper.relay import Relay

    relay = Relay().start()
    try:
        source = AcpSource([sys.executable, str(liar)], prompt="hi", cwd=str(run_dir))
        relay.add_source(source)
        assert source.ready.wait(60)
        assert source.session is None and source.error is not None
        assert "did not start an ACP session" in source.error and "invalid JSON-RPC" in source.error
    finally:
        relay.stop()


def test_one_session_with_its_claude_code_transcript(tmp_path: Path) -> None:
    """claude-agent-acp writes a Claude Code transcript under the ACP session id: counted once."""
    with ScriptedAnthropic(script("All done.")) as api:
        run = start(api, tmp_path)
        try:
            watch_disk(run.relay, [tmp_path / "home" / ".claude" / "projects"])
            run.held()
            run.control("approve", call_id="toolu_01")
            run.idle_turns(1)
            transcript = next((tmp_path / "home" / ".claude" / "projects").rglob(f"{run.session}.jsonl"))
            assert transcript.stat().st_size > 0
            run.wait(lambda evs: any(e["kind"] == "usage" for e in evs), "usage")
            assert len(run.kinds("tool.started")) == 1
            assert len(run.kinds("usage")) == 1
            assert len(run.kinds("message.assistant")) == 2
            info = run.relay.session(run.session)
            assert info is not None and info.tokens_out == run.kinds("usage")[0]["data"]["output_tokens"]
        finally:
            run.close()


def test_allow_always_only_when_picked(tmp_path: Path) -> None:
    """approve answers allow_once (the same command asks again); allow_always only when named (it does not)."""
    twice = [[tool_use("Bash", TOUCH)], [tool_use("Bash", TOUCH)], [text("All done.")]]
    picks: tuple[tuple[str, dict[str, object], int], ...] = (
        ("once", {}, 2), ("option", {"option": "allow_always"}, 1), ("always", {"always": True}, 1))
    for name, pick, asks in picks:
        with ScriptedAnthropic(twice) as api:
            run = start(api, tmp_path / name)
            try:
                for n, call in enumerate(("toolu_01", "toolu_02")[:asks], start=1):
                    run.wait(lambda evs, n=n: len([e for e in evs if e["kind"] == "tool.waiting"]) >= n,
                             f"hold {n}")
                    waiting = run.kinds("tool.waiting")[-1]
                    assert waiting["data"]["always_rule"], "the agent's allow_always option, shown before picking"
                    outcome = run.control("approve", call_id=call, **pick)
                    assert outcome["kind"] == "control.applied", outcome
                    assert ("allow_once" if name == "once" else "allow_always") in outcome["data"]["reason"]
                run.idle_turns(1)
                assert len(run.kinds("tool.waiting")) == asks
                assert [e["data"]["status"] for e in run.kinds("tool.finished")] == ["ok", "ok"]
            finally:
                run.close()


def test_pause_queues_prompts_until_resume(tmp_path: Path) -> None:
    with ScriptedAnthropic([[text("Hello.")], [text("Hi again.")]]) as api:
        run = start(api, tmp_path, prompt="say hello")
        try:
            run.idle_turns(1)
            assert run.control("pause")["kind"] == "control.applied"
            outcome = run.control("inject", text="and once more")
            assert "queued" in outcome["data"]["reason"]
            info = run.relay.session(run.session)
            assert info is not None and info.state != "running"
            assert not api.requests_containing("and once more", route="main")
            assert run.control("resume")["kind"] == "control.applied"
            run.idle_turns(2)
            assert api.requests_containing("and once more", route="main")
        finally:
            run.close()


def test_a_breakpoint_on_a_call_that_never_asks_says_it_could_not_hold(tmp_path: Path) -> None:
    rules = {"Read": "reads", "Bash": "shell"}
    seen: list[str] = []

    def breakpoint(payload: dict[str, object]) -> str | None:
        seen.append(str(payload["tool_name"]))
        return rules.get(str(payload["tool_name"]))

    (tmp_path / "work").mkdir(parents=True)
    (tmp_path / "work" / "notes.txt").write_text("hello\n")
    read = {"file_path": str(tmp_path / "work" / "notes.txt")}
    with ScriptedAnthropic([[tool_use("Read", read)], [tool_use("Bash", TOUCH)], [text("Done.")]]) as api:
        home = tmp_path / "home"
        home.mkdir()
        run = AcpRun([str(acp_binary("claude-agent-acp"))], claude_env(api, home), tmp_path / "work", "read it",
                     breakpoint=breakpoint)
        try:
            (held,) = run.held()
            assert (held.call_id, held.why, held.rule) == ("toolu_02", "breakpoint", "shell")
            (notice,) = [e for e in run.kinds("notice") if e["data"]["code"] == "breakpoint-not-held"]
            assert "'reads' matched Read" in notice["data"]["text"]
            assert "could not hold" in notice["data"]["text"]
            run.control("approve", call_id="toolu_02")
            run.idle_turns(1)
        finally:
            run.close()
