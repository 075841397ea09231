"""The Claude Code adapter on the corpus of real transcripts (the ``corpus`` suite, `make test-corpus`).

The same checks as test_claude_code.py, on the sessions real people and real CLI
runs wrote; the corpus lives beside the repository and is read only here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from claude_support import file_events
from test_claude_code import (
    check_converts_with_every_tool_call_once_and_paired,
    check_session_started,
    check_subagent_files_link_to_the_parents_call,
    check_usage_equals_ccusage_with_request_ids,
    check_usage_equals_the_clis_own_cost_state,
    check_usage_per_session_against_ccusage,
    kinds,
    records,
)

pytestmark = pytest.mark.corpus

PROJECT2 = "-home-dev-project2/d96e1d73-a9d7-4e10-8725-cfd165a733f2.jsonl"


def projects(samples: Path) -> Path:
    return samples / "claude-code" / "projects"


def corpus_files(samples: Path) -> list[Path]:
    files = sorted(projects(samples).rglob("*.jsonl"))
    assert files, f"no Claude Code transcripts under {projects(samples)}"
    return files


def test_every_corpus_file_converts_with_every_tool_call_once_and_paired(samples: Path) -> None:
    for path in corpus_files(samples):
        try:
            check_converts_with_every_tool_call_once_and_paired(path)
        except AssertionError as e:
            raise AssertionError(f"{path.relative_to(samples)}: {e}") from e


def test_2_1_332_request_blobs_add_no_tool_calls(samples: Path) -> None:
    path = projects(samples) / PROJECT2
    recs = records(path)
    blob_ids = {b["id"] for r in recs if r["type"] == "api-request-blob"
                for b in r["message"]["content"] if isinstance(b, dict) and b.get("type") == "tool_use"}
    assistant_ids = [b["id"] for r in recs if r["type"] == "assistant"
                     for b in r["message"]["content"] if b.get("type") == "tool_use"]
    assert blob_ids and blob_ids <= set(assistant_ids)
    started = kinds(file_events(path), "tool.started")
    assert len(started) == len(assistant_ids)
    assert {e["data"]["name"] for e in started} == {"Task", "Bash"}  # the blob calls it "Agent"


@pytest.mark.parametrize("project", ["-home-dev-project", "-home-dev-project2", "-showcase"])
def test_subagent_files_carry_their_agent_and_link_to_the_parents_call(samples: Path, project: str) -> None:
    (main,) = (projects(samples) / project).glob("*.jsonl")
    check_subagent_files_link_to_the_parents_call(main)


def test_subagent_finished_from_a_task_notification(samples: Path) -> None:
    events = file_events(projects(samples) / PROJECT2)
    (done,) = kinds(events, "agent.finished")
    assert done["data"] == {"agent_id": "a32f3ef2349a54ea3", "status": "completed"}
    launched = next(e for e in kinds(events, "tool.finished") if e["data"]["call_id"] == "toolu_fake00001_1")
    assert events.index(launched) < events.index(done)


def test_in_file_sidechain_and_agent_file_beside_the_session(samples: Path) -> None:
    events = file_events(projects(samples) / "-fixtures" / "sidechain_integrated.jsonl")
    grep = next(e for e in kinds(events, "tool.started") if e["data"]["name"] == "Grep")
    task = kinds(events, "tool.started")[0]["data"]
    assert task["name"] == "Task" and grep["agent"] != "main"
    assert all(e["data"]["parent_call_id"] == task["call_id"] for e in kinds(events, "agent.started")
               if e["agent"] == grep["agent"])
    events = file_events(projects(samples) / "-fixtures" / "agent-test-hash-123.jsonl")
    assert events[0]["kind"] == "agent.started" and events[0]["data"]["prompt"] == "Run the test suite"
    assert {e["agent"] for e in events} == {"test-hash-123"}


@pytest.mark.parametrize(("path", "title"), [
    ("-real-delexw/186a0ba09c.jsonl", "Gitnexus analyze codebase"),
    (PROJECT2, "Run the subagent scenario"),
    ("-fixtures/session_id_steering_order.jsonl", "Please start the migration."),
])
def test_session_started_first_with_title_and_profile(samples: Path, path: str, title: str) -> None:
    check_session_started(projects(samples) / path, title)


def test_real_session_interrupt_commands_and_hidden_thinking(samples: Path) -> None:
    events = file_events(projects(samples) / "-real-delexw" / "186a0ba09c.jsonl")
    origins = Counter(e["data"]["origin"] for e in kinds(events, "message.user"))
    assert origins["command"] == 1 and origins["meta"] == 2 and origins["prompt"] == 6
    (interrupt,) = [e for e in kinds(events, "notice") if e["data"]["code"] == "interrupted"]
    assert interrupt["data"]["text"] == "[Request interrupted by user]"
    assert all(e["data"]["hidden"] and e["data"]["text"] == "" for e in kinds(events, "thinking"))


def test_usage_equals_the_clis_own_cost_state(samples: Path) -> None:
    check_usage_equals_the_clis_own_cost_state(projects(samples) / PROJECT2)


def test_usage_per_session_against_the_real_ccusage(samples: Path, tmp_path: Path) -> None:
    check_usage_per_session_against_ccusage(corpus_files(samples), tmp_path)


def test_usage_equals_ccusage_once_every_line_has_a_request_id(samples: Path, tmp_path: Path) -> None:
    files = [p for p in corpus_files(samples) if "-home-dev-project" in str(p)]
    assert len(files) == 4
    check_usage_equals_ccusage_with_request_ids(files, tmp_path)


def test_every_corpus_file_converts_the_same_with_the_skim(samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_claude_code_skim import same_both_ways

    spared = sum(same_both_ways(path.read_bytes().splitlines(), monkeypatch, path) for path in corpus_files(samples))
    assert spared > 0
