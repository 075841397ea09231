"""Codex sub-agents (multi-agent v2), from the real CLI: the parent spawns ``/root/counter``, which runs
``ls`` and answers; the parent waits for it and answers the person.

The real Codex CLI runs offline against the scripted Responses stand-in, with ``features.multi_agent_v2``
on (its ``collaboration`` tools). Parent and child ask the stand-in concurrently; it serves each agent its
own turns by the ``agent_name`` Codex sends with every request. A real relay follows ``$CODEX_HOME/sessions``
as ``watch`` does: each thread writes its own rollout, so the child is a session of its own that names its
parent, and the parent's timeline shows the child start, finish and answer under the child's agent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from codex_steering_support import first_session, held, pause, start_codex
from conftest import codex_binary
from live_support import Inbox
from standins.codex import MODEL, CodexRun, run_codex
from standins.openai_responses import Call, Exec, Reasoning, ScriptedResponses, Text, Turn
from test_codex_steering_live import START
from test_steering_live import Viewer, Watchkeeper, running_watchkeeper
from test_viewer_support import screen_text
from waiting import until, until_app

from watchkeeper.adapters.files.source import DirectorySource, TranscriptSource
from watchkeeper.export.mapping import SpanMapper
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen

CHILD = "/root/counter"
ANSWER = "One file: a.txt."
SCRIPT = [
    Turn([Reasoning("Delegate the count."),
          Call("collaboration", "spawn_agent",
               {"task_name": "counter", "message": "Count the files here.", "fork_turns": "none"},
               call_id="call_spawn")]),
    Turn([Exec("ls", call_id="call_child_ls")], agent=CHILD),
    Turn([Text(ANSWER)], agent=CHILD),
    Turn([Call("collaboration", "wait_agent", {"timeout_ms": 30000}, call_id="call_wait")]),
    Turn([Text("The counter found one file.")]),
]


@dataclass
class Run:
    cli: CodexRun
    api: ScriptedResponses
    parent: str
    child: str
    events: dict[str, list[Event]]
    titles: dict[str, str | None]
    relay: Relay


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    binary = codex_binary()
    base = tmp_path_factory.mktemp("codex-subagents")
    cwd, codex_home = base / "demo", base / "codex"
    cwd.mkdir()
    (cwd / "a.txt").write_text("x\n")
    (codex_home / "sessions").mkdir(parents=True)
    inbox = Inbox()
    relay = Relay().start()
    relay.subscribe(inbox.put)
    relay.add_source(DirectorySource([codex_home / "sessions"],
                                     lambda path: relay.add_source(TranscriptSource(path))))
    with ScriptedResponses(SCRIPT, model=MODEL) as api:
        cli = run_codex("Count the files, with a helper.", api=api, cwd=cwd, codex_home=codex_home,
                        binary=binary, timeout=90, features=["multi_agent_v2"])
    assert cli.exit_code == 0 and not cli.timed_out, cli.describe()
    rollouts = sorted((codex_home / "sessions").glob("*/*/*/rollout-*.jsonl"))
    assert len(rollouts) == 2, rollouts
    parent = next(e["thread_id"] for e in cli.events() if e.get("type") == "thread.started")
    (child,) = {p.stem[-36:] for p in rollouts} - {parent}
    assert inbox.wait_until(lambda events: {parent, child} <= {e["session"] for e in events if e["kind"] == "state"
                                                        and e["data"].get("state") == "idle"})
    by_session: dict[str, list[Event]] = {parent: [], child: []}
    for e in inbox.events:
        by_session.setdefault(e["session"], []).append(e)
    titles = {s.session: s.title for s in relay.sessions()}
    yield Run(cli, api, parent, child, by_session, titles, relay)
    relay.stop()


@pytest.mark.node
def test_each_agent_was_served_its_own_turns(run: Run) -> None:
    assert run.api.errors == []
    assert run.api.function_outputs()["call_spawn"] == '{"task_name":"/root/counter"}'
    assert "a.txt" in run.api.function_outputs()["call_child_ls"]


@pytest.mark.node
def test_the_parent_shows_the_child_start_finish_and_answer_under_the_child(run: Run) -> None:
    events = run.events[run.parent]
    (started,) = [e for e in events if e["kind"] == "agent.started"]
    assert started["data"]["agent_id"] == run.child
    assert started["data"]["parent_call_id"] == "call_spawn"  # nested under the spawn call
    assert started["data"]["description"] == CHILD
    (finished,) = [e for e in events if e["kind"] == "agent.finished"]
    assert finished["data"] == {"agent_id": run.child, "status": "completed"}
    answers = [e for e in events if e["kind"] == "message.assistant" and ANSWER in e["data"]["text"]]
    assert [e["agent"] for e in answers] == [run.child], "the child's answer is the child's, not the parent's"
    assert answers[0]["data"]["text"] == ANSWER and answers[0]["data"]["message_type"] == "FINAL_ANSWER"
    own = [e["data"]["text"] for e in events if e["kind"] == "message.assistant" and e["agent"] == "main"]
    assert own == ["The counter found one file."]
    assert [e for e in events if e["kind"] == "raw"] == []


@pytest.mark.node
def test_the_child_is_a_session_of_its_own_that_names_its_parent_and_its_task(run: Run) -> None:
    events = run.events[run.child]
    (start,) = [e for e in events if e["kind"] == "session.started"]
    assert start["data"]["parent_session"] == run.parent
    assert start["data"]["agent_path"] == CHILD
    nickname = start["data"]["agent_nickname"]
    assert nickname and run.titles[run.child] == f"{nickname} ({CHILD})"
    (task,) = [e for e in events if e["kind"] == "message.user"]
    assert task["data"]["origin"] == "agent /root"
    assert task["data"]["message_type"] == "NEW_TASK"
    # The task's own text is encrypted for the model; a transcript cannot show it, and says so.
    assert task["data"]["text"] == "(encrypted)"
    calls = {e["data"]["call_id"]: e["data"].get("status") for e in events if e["kind"] == "tool.finished"}
    assert calls == {"call_child_ls": "ok"}
    assert [e for e in events if e["kind"] == "raw"] == []


@pytest.mark.node
async def test_the_conversation_names_who_speaks(run: Run) -> None:
    async def conversation(session: str) -> str:
        app = WatchkeeperApp(run.relay, open_session=session)
        async with app.run_test(size=(120, 40)) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            await pilot.press("v")
            await until_app(pilot, lambda: " · " in screen_text(app))
            return screen_text(app)

    child = await conversation(run.child)
    assert "Task from /root · " in child and "You · " not in child, child
    assert "  agent /root" not in child, "the header names the agent once"
    parent = await conversation(run.parent)
    assert f"{CHILD} · " in parent and "You · " in parent, parent


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchkeeper]:
    yield from running_watchkeeper(tmp_path, monkeypatch)


@pytest.mark.node
def test_pausing_the_run_holds_a_sub_agents_call_too(wk: Watchkeeper, tmp_path: Path) -> None:
    """Codex sends a sub-agent's hooks with its parent's session id (and the sub-agent as ``agent_id``), so a
    pause of the session the person sees holds the sub-agent's command before it runs, not just the parent's."""
    write = "echo child > child.txt"
    script = [SCRIPT[0], Turn([Exec(write, call_id="call_child_write")], agent=CHILD), *SCRIPT[2:]]
    with ScriptedResponses(script, model=MODEL) as api:
        gate = api.hold(1)  # the sub-agent's command, until the run is paused
        seen = Viewer()
        wk.relay.subscribe(seen)
        run = start_codex(wk, api, tmp_path, "--trust-hook", features=["multi_agent_v2"])
        api.wait_for_request(1, START)
        session = first_session(wk, seen)
        viewer = wk.watch(session)
        pause(wk, session)
        gate.set()
        until(lambda: "call_child_write" in held(wk, session), "the sub-agent's command is held")
        assert not (tmp_path / "work" / "child.txt").exists()
        (waiting,) = until(lambda: [e for e in viewer.of("tool.waiting") if e["data"]["call_id"] == "call_child_write"],
                           "the viewer sees the held call")
        rollouts = (tmp_path / "codex" / "sessions").glob("*/*/*/rollout-*.jsonl")
        (child,) = {p.stem[-36:] for p in rollouts} - {session}
        assert waiting["agent"] == child, "the held call is the sub-agent's, in the session the person paused"
        code, out = wk.ctl("resume", session)
        assert code == 0, out
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    assert (tmp_path / "work" / "child.txt").read_text() == "child\n"
    assert api.errors == []
    # Codex's hook says "collaborationspawn_agent"; shown (and matched by breakpoints) as the rollout names it.
    assert {e["data"]["name"] for e in seen.of("tool.started") if e["data"]["call_id"] == "call_spawn"} == {
        "collaboration.spawn_agent"}


@pytest.mark.node
def test_a_sub_agents_call_is_one_span_though_its_hooks_come_with_its_parents_session(
        wk: Watchkeeper, tmp_path: Path) -> None:
    """Steered, a sub-agent's call is told twice: by its hooks, in the parent's session (where a pause holds
    it), and by its own rollout, in its own session, which goes into the parent's trace. The trace has the
    call once, under the sub-agent's span."""
    script = [SCRIPT[0], Turn([Exec("echo child > child.txt", call_id="call_child_write")], agent=CHILD),
              *SCRIPT[2:]]
    sessions = tmp_path / "codex" / "sessions"
    sessions.mkdir(parents=True)
    seen = Viewer()
    wk.relay.subscribe(seen)
    wk.relay.add_source(DirectorySource([sessions], lambda path: wk.relay.add_source(TranscriptSource(path))))
    with ScriptedResponses(script, model=MODEL) as api:
        run = start_codex(wk, api, tmp_path, "--trust-hook", features=["multi_agent_v2"])
        rc, _, stderr = run.wait()
    assert rc == 0, stderr
    parent = first_session(wk, seen)
    (child,) = until(lambda: {p.stem[-36:] for p in sessions.glob("*/*/*/rollout-*.jsonl")} - {parent} or None,
                     "the child's rollout")

    def told(session: str) -> set[str]:
        return {e["data"]["call_id"] for e in seen.of("tool.finished") if e["session"] == session}

    until(lambda: "call_child_write" in told(child) and "call_child_write" in told(parent),
          "the child's call told by its hooks (parent) and by its rollout (child)")
    mapper = SpanMapper()
    spans = [*mapper.feed(list(seen.events)), *mapper.close_all(incomplete=True)]
    tools = [s for s in spans if s.attributes.get("gen_ai.tool.call.id") == "call_child_write"]
    assert len(tools) == 1, [(s.span_id, s.parent_id, s.attributes) for s in tools]
    (tool,) = tools
    assert {s.trace_id for s in spans} == {tool.trace_id}, "the child's session is in its parent's trace"
    by_id = {s.span_id: s for s in spans}
    under = by_id[tool.parent_id]
    assert under.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert child in (under.attributes.get("gen_ai.agent.id"), under.attributes.get("gen_ai.conversation.id"))
    assert tool.end_ns >= tool.start_ns and "watchkeeper.incomplete" not in tool.attributes
