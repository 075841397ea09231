"""The relay following the real Claude Code CLI while it runs, as ``watchkeeper`` itself does.

Each CLI version runs the demo session (Bash, Write, Edit, a failing Bash, an Agent/Task subagent running
its own Bash) against the scripted Messages API. A real Relay follows ``~/.claude/projects`` of the run's
temp HOME with a DirectorySource that adds a TranscriptSource per session: the transcript does not exist
when the relay starts. The stand-in holds the last model turn until the relay has delivered every call
and the usage of every message so far, so the CLI is provably still running while they arrive (and the
closing cumulative ``cost-state`` of 2.1.33x comes after them, as it does for anyone watching live).
Expected calls, ids, statuses and tokens come from the stand-in's script and its record of the run, and
from a one-shot conversion of the finished files, never from a list written here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import CLAUDE_VERSIONS
from live_support import TOKENS, Inbox, follow_sessions, relay_totals, tool_event_ids, usage_totals
from standins.anthropic import SUBAGENT_TOOL_NAMES, ScriptedAnthropic
from standins.claude import DEMO_PROMPT, SUBAGENT_KEY, demo_api, start_claude

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay, SessionInfo

RUN_TIMEOUT = 60.0


def sent_messages(api: ScriptedAnthropic) -> dict[str, dict[str, Any]]:
    """The messages the stand-in answered the main conversation and the subagent with, by message id."""
    sent = {}
    for request in api.requests:
        if request.route == "main" or request.route.startswith("subagent:"):
            _, message, _ = api.answer(request.body, request.agent_id)
            sent[message["id"]] = message
    return sent


def sent_totals(api: ScriptedAnthropic) -> dict[str, int]:
    totals = dict.fromkeys(TOKENS, 0)
    for message in sent_messages(api).values():
        usage = message["usage"]
        totals["input_tokens"] += usage["input_tokens"]
        totals["output_tokens"] += usage["output_tokens"]
        totals["cache_read_tokens"] += usage["cache_read_input_tokens"]
        totals["cache_creation_tokens"] += usage["cache_creation_input_tokens"]
    return totals


def accounted(events: list[Event], call_ids: set[str], message_ids: set[str]) -> bool:
    """Every call started and finished, and every message's usage, delivered."""
    ids = {e["id"] for e in events}
    used = {e["data"].get("message_id") for e in events if e["kind"] == "usage"}
    return tool_event_ids(call_ids) <= ids and message_ids <= used


def scripted_calls(api: ScriptedAnthropic, conversation: str = "main") -> list[dict[str, Any]]:
    conv = api.main if conversation == "main" else api.subagents[conversation]
    return [b for turn in conv.turns for b in turn if b["type"] == "tool_use"]


@dataclass
class LiveRun:
    version: str
    returncode: int
    stderr: str
    session_id: str
    root: Path
    api: ScriptedAnthropic
    #: Everything the subscriber got, in delivery order.
    delivered: list[Event]
    #: Delivered while the CLI was held at its last model turn; whether it was still running then; the
    #: messages the model had sent by then.
    before_exit: list[Event]
    held_running: bool
    sent_before_exit: set[str]
    #: Whether the relay delivered every one-shot event within WAIT after the exit.
    settled: bool
    one_shot: list[Event]
    sessions: list[str]
    info: SessionInfo | None
    epoch: str
    errors: list[str]

    def tool_events(self) -> list[Event]:
        return [e for e in self.delivered if e["kind"] in ("tool.started", "tool.finished")]


@pytest.fixture(scope="module", params=CLAUDE_VERSIONS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    version = request.param
    base = tmp_path_factory.mktemp(f"live-claude-{version}")
    cwd, home = base / "work", base / "home"
    root = home / ".claude" / "projects"
    root.mkdir(parents=True)
    inbox = Inbox()
    with demo_api(cwd) as api, Relay() as relay:
        relay.subscribe(inbox.put)
        follow_sessions(relay, root)
        last_turn = len(api.main.turns) - 1
        release = api.hold(last_turn)
        every_call = {b["id"] for b in scripted_calls(api) + scripted_calls(api, SUBAGENT_KEY)}
        with start_claude(version, DEMO_PROMPT, api=api, cwd=cwd, home=home) as process:
            try:
                held = api.wait_for_request("main", turn=last_turn, timeout=RUN_TIMEOUT)
                so_far = set(sent_messages(api)) - {api.answer(held.body)[1]["id"]}
                inbox.wait_until(lambda events: accounted(events, every_call, so_far))
                before_exit, held_running = list(inbox.events), process.running
            finally:
                release.set()
            run = process.wait(timeout=RUN_TIMEOUT)
        one_shot = list(convert_file(run.transcript))
        settled = inbox.wait_for(e["id"] for e in one_shot)
        relay.stop()
        return LiveRun(
            version=version,
            returncode=run.returncode,
            stderr=run.stderr,
            session_id=run.session_id,
            root=root,
            api=api,
            delivered=list(inbox.events),
            before_exit=before_exit,
            held_running=held_running,
            sent_before_exit=so_far,
            settled=settled,
            one_shot=one_shot,
            sessions=[s.session for s in relay.sessions()],
            info=relay.session(run.session_id),
            epoch=relay.epoch,
            errors=list(relay.errors),
        )


@pytest.mark.node
def test_the_relay_delivers_the_calls_while_the_cli_runs(live: LiveRun) -> None:
    assert live.returncode == 0, live.stderr
    assert live.errors == []
    calls = {b["id"] for b in scripted_calls(live.api) + scripted_calls(live.api, SUBAGENT_KEY)}
    assert live.held_running
    assert len(live.sent_before_exit) == len(sent_messages(live.api)) - 1
    assert accounted(live.before_exit, calls, live.sent_before_exit)
    assert live.settled, "the relay did not deliver the finished files' events after the exit"
    assert live.sessions == [live.session_id]


@pytest.mark.node
def test_exactly_the_scripted_calls_each_started_and_finished_once(live: LiveRun) -> None:
    calls = {b["id"]: b for b in scripted_calls(live.api) + scripted_calls(live.api, SUBAGENT_KEY)}
    events = live.tool_events()
    counts = Counter((e["data"]["call_id"], e["kind"]) for e in events)
    assert counts == Counter({(c, k): 1 for c in calls for k in ("tool.started", "tool.finished")})
    for e in events:
        assert e["id"] == f"tool:{e['data']['call_id']}:{e['kind'].removeprefix('tool.')}"
    for e in (e for e in events if e["kind"] == "tool.started"):
        scripted = calls[e["data"]["call_id"]]["name"]
        allowed = SUBAGENT_TOOL_NAMES if scripted in SUBAGENT_TOOL_NAMES else (scripted,)
        assert e["data"]["name"] in allowed
        scripted_input = calls[e["data"]["call_id"]]["input"]
        assert {k: e["data"]["input"].get(k) for k in scripted_input} == scripted_input


@pytest.mark.node
def test_the_failing_bash_is_an_error_and_the_rest_are_ok(live: LiveRun) -> None:
    finished = {e["data"]["call_id"]: e["data"] for e in live.tool_events() if e["kind"] == "tool.finished"}
    failing = {
        b["id"] for b in scripted_calls(live.api) if "missing-dir" in str(b["input"].get("command", ""))
    }
    assert len(failing) == 1
    told_error = {c for c in finished if (live.api.tool_result(c) or {}).get("is_error")}
    assert told_error == failing
    for call_id, data in finished.items():
        expected = ("error", True) if call_id in failing else ("ok", False)
        assert (data["status"], data["is_error"]) == expected, call_id


@pytest.mark.node
def test_the_subagents_call_sits_under_its_parent_call(live: LiveRun) -> None:
    (agent_call,) = [b["id"] for b in scripted_calls(live.api) if b["name"] in SUBAGENT_TOOL_NAMES]
    sub_requests = live.api.requests_for(f"subagent:{SUBAGENT_KEY}")
    agent_ids = {r.agent_id for r in sub_requests}
    assert len(agent_ids) == 1 and None not in agent_ids
    (agent_id,) = agent_ids
    sub_calls = {b["id"] for b in scripted_calls(live.api, SUBAGENT_KEY)}
    assert sub_calls
    for e in live.tool_events():
        assert e["agent"] == (agent_id if e["data"]["call_id"] in sub_calls else "main"), e["id"]
    links = [e for e in live.delivered if e["kind"] == "agent.started" and e["data"]["agent_id"] == agent_id]
    assert links and {e["agent"] for e in links} == {agent_id}
    assert agent_call in {e["data"].get("parent_call_id") for e in links}
    assert {e["data"].get("parent_call_id") for e in links} <= {agent_call, None}


@pytest.mark.node
def test_no_event_twice_and_seq_contiguous_per_session(live: LiveRun) -> None:
    ids = [e["id"] for e in live.delivered]
    assert len(ids) == len(set(ids))
    assert {e["epoch"] for e in live.delivered} == {live.epoch}
    by_session: dict[str, list[int]] = {}
    for e in live.delivered:
        by_session.setdefault(e["session"], []).append(e["seq"])
    assert list(by_session) == [live.session_id]
    for seqs in by_session.values():
        assert seqs == list(range(len(seqs)))


@pytest.mark.node
def test_the_live_tail_equals_a_one_shot_conversion(live: LiveRun) -> None:
    one_shot_ids = [e["id"] for e in live.one_shot]
    assert len(one_shot_ids) == len(set(one_shot_ids))
    assert {e["id"] for e in live.delivered} == set(one_shot_ids)


@pytest.mark.node
def test_usage_totals_equal_the_one_shot_sum_and_what_the_model_sent(live: LiveRun) -> None:
    assert live.info is not None
    expected = usage_totals(live.one_shot)
    assert expected["output_tokens"] > 0
    assert relay_totals(live.info) == expected
    assert expected == sent_totals(live.api)


@pytest.mark.node
def test_a_relay_started_after_the_run_reads_the_same_totals(live: LiveRun) -> None:
    """What the TUI shows for a session that finished before it started: the same files, read at once.

    Read after the fact, the main file's cumulative cost-state comes before the
    subagent file's per-call usage: the summary must not add one on top of the other.
    """
    inbox = Inbox()
    with Relay() as relay:
        relay.subscribe(inbox.put)
        follow_sessions(relay, live.root)
        settled = inbox.wait_for(e["id"] for e in live.one_shot)
        relay.stop()
        info = relay.session(live.session_id)
    assert settled
    assert info is not None
    assert relay_totals(info) == usage_totals(live.one_shot)
