"""The Responses API stand-in, alone over HTTP and driving the real Codex CLI offline.

The CLI test runs the reference script once per module (about a second) and checks
the rollout it wrote and what it sent back to the stand-in.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import codex_binary
from standins.codex import REFERENCE_SCRIPT, CodexRun, run_reference
from standins.openai_responses import EXHAUSTED, Exec, Item, Reasoning, ScriptedResponses, Text, Turn


def _post(url: str, body: Any) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _sse(text: str) -> list[dict[str, Any]]:
    events = [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]
    names = [line[len("event: ") :] for line in text.splitlines() if line.startswith("event: ")]
    assert names == [e["type"] for e in events]
    return events


def test_standin_streams_the_script_and_records_requests() -> None:
    script: list[Turn | list[Item]] = [
        Turn([Reasoning("think"), Exec("ls", call_id="c1")], input_tokens=900, cached_tokens=300),
        [Text("done")],
    ]
    with ScriptedResponses(script, model="m") as api:
        first = _sse(_post(api.url + "/v1/responses", {"model": "m", "input": []})[1])
        output = {"type": "function_call_output", "call_id": "c1", "output": "x"}
        second = _sse(_post(api.url + "/v1/responses", {"model": "m", "input": [output]})[1])
        extra = _sse(_post(api.url + "/v1/responses", {"model": "m", "input": []})[1])

    assert [e["type"] for e in first][:2] == ["response.created", "response.in_progress"]
    assert [e["sequence_number"] for e in first] == list(range(len(first)))
    done = [e["item"] for e in first if e["type"] == "response.output_item.done"]
    assert [i["type"] for i in done] == ["reasoning", "function_call"]
    assert done[0]["summary"] == [{"type": "summary_text", "text": "think"}]
    assert (done[1]["call_id"], json.loads(done[1]["arguments"])) == ("c1", {"cmd": "ls"})
    completed = first[-1]["response"]
    assert completed["id"] == "resp_1" and completed["output"] == done
    assert completed["usage"]["input_tokens"] == 900
    assert completed["usage"]["input_tokens_details"]["cached_tokens"] == 300
    assert completed["usage"]["output_tokens_details"]["reasoning_tokens"] > 0

    deltas = "".join(e["delta"] for e in second if e["type"] == "response.output_text.delta")
    assert deltas == "done"
    assert api.function_outputs() == {"c1": "x"} and api.function_outputs(0) == {}
    assert api.scripted_call_ids() == ["c1"]
    assert [e["item"]["content"][0]["text"] for e in extra if e["type"] == "response.output_item.done"] == [
        EXHAUSTED
    ]
    assert len(api.response_bodies()) == 3 and len(api.errors) == 1


def test_standin_answers_models_and_rejects_unknown_paths() -> None:
    with ScriptedResponses([], model="gpt-x") as api:
        with urllib.request.urlopen(api.url + "/v1/models", timeout=10) as response:
            models = json.load(response)
        status, _ = _post(api.url + "/v1/chat/completions", {})
    assert [m["id"] for m in models["data"]] == ["gpt-x"]
    assert status == 404
    assert api.errors == ["unexpected POST /v1/chat/completions"]
    assert [(r.method, r.path) for r in api.requests] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[CodexRun, ScriptedResponses, Path]:
    workdir = tmp_path_factory.mktemp("codex")
    run, api = run_reference(workdir, binary=codex_binary(), timeout=60)
    return run, api, workdir


def _payloads(run: CodexRun, kind: str, payload_type: str) -> list[dict[str, Any]]:
    return [
        r["payload"] for r in run.records() if r["type"] == kind and r["payload"].get("type") == payload_type
    ]


@pytest.mark.node
def test_cli_exits_cleanly_and_writes_a_rollout(reference: tuple[CodexRun, ScriptedResponses, Path]) -> None:
    run, api, workdir = reference
    assert run.exit_code == 0, run.describe()
    assert run.rollout is not None, run.describe()
    relative = run.rollout.relative_to(workdir / "codex" / "sessions").as_posix()
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/rollout-[^/]+\.jsonl", relative)
    meta = run.records()[0]
    assert meta["type"] == "session_meta"
    assert meta["payload"]["cwd"] == str(workdir / "demo")
    assert api.errors == []


@pytest.mark.node
def test_rollout_holds_exactly_the_scripted_calls(
    reference: tuple[CodexRun, ScriptedResponses, Path],
) -> None:
    run, api, _ = reference
    scripted = api.scripted_call_ids()
    assert scripted == ["call_ref_ls", "call_ref_cat"]
    calls = _payloads(run, "response_item", "function_call")
    assert [c["call_id"] for c in calls] == scripted
    assert [json.loads(c["arguments"])["cmd"] for c in calls] == ["ls", "cat notes.txt"]
    outputs = {o["call_id"]: o["output"] for o in _payloads(run, "response_item", "function_call_output")}
    assert sorted(outputs) == sorted(scripted)
    assert "README.md" in outputs["call_ref_ls"] and "main.py" in outputs["call_ref_ls"]
    assert "No such file or directory" in outputs["call_ref_cat"]

    executions = {
        e["item"]["id"]: e["item"]
        for e in _payloads(run, "event_msg", "item_completed")
        if e["item"]["type"] == "CommandExecution"
    }
    assert executions["call_ref_ls"]["exit_code"] == 0
    assert executions["call_ref_cat"]["exit_code"] != 0
    assert executions["call_ref_cat"]["status"] == "failed"

    live = [e["item"] for e in run.events() if e.get("type") == "item.completed"]
    exit_codes = [i["exit_code"] for i in live if i["type"] == "command_execution"]
    assert len(exit_codes) == 2 and exit_codes[0] == 0 and exit_codes[1] != 0


@pytest.mark.node
def test_rollout_holds_reasoning_final_message_and_usage(
    reference: tuple[CodexRun, ScriptedResponses, Path],
) -> None:
    run, _, _ = reference
    summaries = [s["text"] for r in _payloads(run, "response_item", "reasoning") for s in r["summary"]]
    scripted = [i.summary for t in REFERENCE_SCRIPT for i in t.items if isinstance(i, Reasoning)]
    assert summaries == scripted
    final = next(i.text for i in REFERENCE_SCRIPT[-1].items if isinstance(i, Text))
    assert _payloads(run, "event_msg", "task_complete")[-1]["last_agent_message"] == final

    records = [r["payload"] for r in run.records() if r["type"] == "token_usage_record"]
    assert [r["response_id"] for r in records] == ["resp_1", "resp_2", "resp_3"]
    assert all(r["usage"]["cached_input_tokens"] > 0 for r in records[1:])
    assert sum(r["usage"]["reasoning_output_tokens"] for r in records) > 0


@pytest.mark.node
def test_standin_saw_the_command_outputs_in_later_requests(
    reference: tuple[CodexRun, ScriptedResponses, Path],
) -> None:
    run, api, _ = reference
    bodies = api.response_bodies()
    assert len(bodies) == len(REFERENCE_SCRIPT), run.describe()
    assert [sorted(api.function_outputs(i)) for i in range(len(bodies))] == [
        [],
        ["call_ref_ls"],
        ["call_ref_cat", "call_ref_ls"],
    ]
    assert "Process exited with code 0" in api.function_outputs(1)["call_ref_ls"]
    assert re.search(r"Process exited with code [1-9]", api.function_outputs(2)["call_ref_cat"])
    prompts = [
        c["text"]
        for item in bodies[0]["input"]
        if item.get("type") == "message" and item.get("role") == "user"
        for c in item["content"]
    ]
    assert any("notes.txt" in p for p in prompts)
