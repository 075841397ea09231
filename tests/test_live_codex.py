"""The relay following the real Codex CLI while it runs, as ``watchkeeper`` itself does.

The reference session (``ls`` that succeeds, ``cat notes.txt`` that fails, a final answer) runs against
the scripted Responses API with one command added before the answer: it waits for a file the test
creates, so the CLI is provably still running while the relay delivers the earlier calls. A real Relay
follows ``$CODEX_HOME/sessions`` with a DirectorySource that adds a TranscriptSource per rollout; the
rollout (and its YYYY/MM/DD directories) does not exist when the relay starts. Expected calls, statuses
and tokens come from the script and from what the stand-in sent and was sent, and from a one-shot
conversion of the finished rollout, never from a list written here.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import codex_binary
from live_support import WAIT, Inbox, relay_totals, tool_event_ids, usage_totals
from standins.codex import MODEL, REFERENCE_FILES, REFERENCE_PROMPT, REFERENCE_SCRIPT, CodexRun, run_codex
from standins.openai_responses import Exec, ScriptedResponses, Text, Turn, response_events

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import DirectorySource, TranscriptSource
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay, SessionInfo

RUN_TIMEOUT = 60.0
HOLD_CALL = "call_live_hold"
EXIT_CODE = re.compile(r"Process exited with code (-?\d+)")


def hold_script(release: Path) -> list[Turn]:
    """The reference script with a command before the final answer that waits (boundedly) for ``release``."""
    wait = f"until [ -e {shlex.quote(str(release))} ]; do sleep 0.02; done"
    hold = Turn([Exec(f"timeout {int(WAIT)} sh -c {shlex.quote(wait)}; echo released", call_id=HOLD_CALL)])
    assert isinstance(REFERENCE_SCRIPT[-1].items[-1], Text)
    return [*REFERENCE_SCRIPT[:-1], hold, REFERENCE_SCRIPT[-1]]


def exit_codes(api: ScriptedResponses) -> dict[str, int]:
    """call_id -> the exit code the CLI reported to the model for it."""
    codes = {}
    for call_id, output in api.function_outputs().items():
        found = EXIT_CODE.search(output)
        if found:
            codes[call_id] = int(found.group(1))
    return codes


@dataclass
class LiveRun:
    run: CodexRun
    api: ScriptedResponses
    session_id: str | None
    #: Everything the subscriber got, in delivery order.
    delivered: list[Event]
    #: Delivered while the CLI waited in the hold command, and whether it was still running then.
    before_release: list[Event]
    held_running: bool
    #: Whether the relay delivered every one-shot event within WAIT after the exit.
    settled: bool
    one_shot: list[Event]
    sessions: list[str]
    info: SessionInfo | None
    epoch: str
    errors: list[str]

    def tool_events(self) -> list[Event]:
        return [e for e in self.delivered if e["kind"] in ("tool.started", "tool.finished")]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    binary = codex_binary()
    base = tmp_path_factory.mktemp("live-codex")
    cwd, codex_home, release = base / "demo", base / "codex", base / "release"
    cwd.mkdir()
    for name, content in REFERENCE_FILES.items():
        (cwd / name).write_text(content)
    root = codex_home / "sessions"
    root.mkdir(parents=True)
    inbox = Inbox()
    result: list[CodexRun] = []
    with ScriptedResponses(hold_script(release), model=MODEL) as api, Relay() as relay:
        relay.subscribe(inbox.put)
        relay.add_source(DirectorySource([root], lambda path: relay.add_source(TranscriptSource(path))))
        before_hold = set(api.scripted_call_ids()) - {HOLD_CALL}

        def run() -> None:
            result.append(run_codex(REFERENCE_PROMPT, api=api, cwd=cwd, codex_home=codex_home,
                                    timeout=RUN_TIMEOUT, binary=binary))

        cli = threading.Thread(target=run, name="codex-cli", daemon=True)
        cli.start()
        try:
            inbox.wait_until(lambda events: tool_event_ids(before_hold) | {f"tool:{HOLD_CALL}:started"}
                             <= {e["id"] for e in events})
            before_release, held_running = list(inbox.events), cli.is_alive()
        finally:
            release.touch()
        cli.join(RUN_TIMEOUT + 15)
        (codex_run,) = result
        one_shot = list(convert_file(codex_run.rollout)) if codex_run.rollout else []
        settled = inbox.wait_for(e["id"] for e in one_shot)
        relay.stop()
        thread = next((e["thread_id"] for e in codex_run.events() if e.get("type") == "thread.started"), None)
        return LiveRun(
            run=codex_run,
            api=api,
            session_id=thread,
            delivered=list(inbox.events),
            before_release=before_release,
            held_running=held_running,
            settled=settled,
            one_shot=one_shot,
            sessions=[s.session for s in relay.sessions()],
            info=relay.session(thread) if thread else None,
            epoch=relay.epoch,
            errors=list(relay.errors),
        )


@pytest.mark.node
def test_the_relay_delivers_the_calls_while_the_cli_runs(live: LiveRun) -> None:
    assert live.run.exit_code == 0 and not live.run.timed_out, live.run.describe()
    assert live.run.rollout is not None
    assert live.api.errors == []
    assert live.errors == []
    assert live.held_running
    earlier = set(live.api.scripted_call_ids()) - {HOLD_CALL}
    assert earlier
    delivered = {e["id"] for e in live.before_release}
    assert tool_event_ids(earlier) | {f"tool:{HOLD_CALL}:started"} <= delivered
    assert f"tool:{HOLD_CALL}:finished" not in delivered
    assert live.settled, "the relay did not deliver the finished rollout's events after the exit"
    assert live.session_id is not None and live.sessions == [live.session_id]


@pytest.mark.node
def test_exactly_the_scripted_calls_each_started_and_finished_once(live: LiveRun) -> None:
    scripted = live.api.scripted_call_ids()
    commands = {
        call: item.cmd
        for call, item in zip(scripted, (i for t in live.api.script for i in t.items if isinstance(i, Exec)),
                              strict=True)
    }
    events = live.tool_events()
    counts = Counter((e["data"]["call_id"], e["kind"]) for e in events)
    assert counts == Counter({(c, k): 1 for c in scripted for k in ("tool.started", "tool.finished")})
    for e in events:
        assert e["agent"] == "main"
        assert e["id"] == f"tool:{e['data']['call_id']}:{e['kind'].removeprefix('tool.')}"
    for e in (e for e in events if e["kind"] == "tool.started"):
        assert commands[e["data"]["call_id"]] in str(e["data"]["input"])


@pytest.mark.node
def test_the_failing_command_is_an_error_and_the_rest_are_ok(live: LiveRun) -> None:
    codes = exit_codes(live.api)
    assert sorted(codes) == sorted(live.api.scripted_call_ids())
    (cat,) = [i.call_id for t in REFERENCE_SCRIPT for i in t.items if isinstance(i, Exec) and "cat" in i.cmd]
    assert {c for c, code in codes.items() if code != 0} == {cat}
    finished = {e["data"]["call_id"]: e["data"] for e in live.tool_events() if e["kind"] == "tool.finished"}
    for call_id, data in finished.items():
        expected = ("error", True) if codes[call_id] != 0 else ("ok", False)
        assert (data["status"], data["is_error"]) == expected, call_id


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
    assert one_shot_ids and len(one_shot_ids) == len(set(one_shot_ids))
    assert {e["id"] for e in live.delivered} == set(one_shot_ids)


@pytest.mark.node
def test_usage_totals_equal_the_one_shot_sum_and_what_the_model_sent(live: LiveRun) -> None:
    assert live.info is not None
    expected = usage_totals(live.one_shot)
    assert expected["output_tokens"] > 0
    assert relay_totals(live.info) == expected
    served = len(live.api.response_bodies())
    assert served == len(live.api.script)
    sent = [response_events(turn, n, MODEL)[-1]["response"]["usage"]
            for n, turn in enumerate(live.api.script[:served], start=1)]
    assert expected["output_tokens"] == sum(u["output_tokens"] for u in sent)
    assert expected["cache_read_tokens"] == sum(u["input_tokens_details"]["cached_tokens"] for u in sent)
    assert expected["input_tokens"] + expected["cache_read_tokens"] + expected["cache_creation_tokens"] == sum(
        u["input_tokens"] for u in sent
    )
