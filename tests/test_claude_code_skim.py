"""The converter's skim of quiet records (``records.quiet``, ``ClaudeCodeConverter._skim``) against its full path.

Once a session is out, most of a long transcript's bytes are records that yield
no event (prompt snapshots, request logs, hook progress); the converter keeps only
their time and their place in the uuid tree. Each test here feeds the same lines
to the converter and to one that reads every record in full (``Full``), and holds
the events *and* the converter's whole state equal, line by line: a skim that
dropped a notice, a version, a model, a timestamp or a uuid would show. Pure: no
files but the repository's transcripts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import claude_transcripts
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.adapters.claude_code import ClaudeCodeConverter
from watchkeeper.adapters.claude_code import records as R

SESSION = "5e55e55e-0000-4000-8000-000000000001"
VERSION = "2.1.332"


class Full(ClaudeCodeConverter):
    """The converter with the skim turned off: every record through ``_record``."""

    def _skim(self, rec: dict[str, Any]) -> bool:
        return False


class Counted(ClaudeCodeConverter):
    """The converter as it is, counting the records it skimmed (so no test passes without skimming)."""

    skimmed = 0

    def _skim(self, rec: dict[str, Any]) -> bool:
        taken = super()._skim(rec)
        self.skimmed += taken
        return taken


def state(value: Any, depth: int = 0) -> Any:
    """A converter's state as plain values (bound methods left out), to compare two of them."""
    if depth > 6 or value is None or isinstance(value, str | int | float | bool | bytes):
        return value
    if callable(value) and not isinstance(value, type) and hasattr(value, "__self__"):
        return None
    if isinstance(value, dict):
        return {k: state(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [state(v, depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(map(repr, value))
    slots = [s for cls in type(value).__mro__ for s in getattr(cls, "__slots__", ())]
    fields = dict(getattr(value, "__dict__", {}))
    fields.update({s: getattr(value, s) for s in slots if hasattr(value, s)})
    fields.pop("_handlers", None)
    fields.pop("skimmed", None)
    return {k: state(v, depth + 1) for k, v in sorted(fields.items())}


def both(lines: list[bytes], path: Path | str | None = None) -> tuple[list[Any], Counted]:
    """Feed ``lines`` to the converter and to ``Full``; equal events and state after every line."""
    skim, full = Counted(path), Full(path)
    events: list[Any] = []
    for i, line in enumerate(lines):
        got, want = skim.feed(line, i), full.feed(line, i)
        assert got == want, f"line {i}: {line[:200]!r}"
        assert state(skim) == state(full), f"state after line {i}: {line[:200]!r}"
        events += got
    assert skim.finish() == full.finish()
    return events, skim


def rec(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def opening() -> list[bytes]:
    """A session's first prompt and answer: session.started goes out after them."""
    return [
        rec(type="user", uuid="u1", parentUuid=None, sessionId=SESSION, version=VERSION, cwd="/w",
            timestamp="2026-12-01T10:00:00.000Z", message={"role": "user", "content": "Fix the build"}),
        rec(type="assistant", uuid="a1", parentUuid="u1", sessionId=SESSION, version=VERSION,
            timestamp="2026-12-01T10:00:01.000Z",
            message={"id": "m1", "role": "assistant", "content": [{"type": "text", "text": "On it"}],
                     "usage": {"input_tokens": 3, "output_tokens": 2}}),
    ]


def quiet_records(parent: str = "a1") -> list[bytes]:
    """One of each quiet shape, chained in the uuid tree."""
    return [
        rec(type="attachment", uuid="q1", parentUuid=parent, sessionId=SESSION, version=VERSION,
            timestamp="2026-12-01T10:00:02.000Z", attachment={"type": "prompt_snapshot", "content": "x" * 500}),
        rec(type="api-request-shape", timestamp="2026-12-01T10:00:03.000Z", sessionId=SESSION, shape={"n": 1}),
        rec(type="api-request", timestamp="2026-12-01T10:00:04.000Z", params={"model": "claude-x"}),
        rec(type="progress", uuid="q2", parentUuid="q1", timestamp="2026-12-01T10:00:05.000Z",
            data={"type": "hook_progress", "hookName": "PreToolUse"}),
        rec(type="file-history-snapshot", messageId="q1", snapshot={}),
        rec(type="attachment", uuid="q3", parentUuid="q2", timestamp="2026-12-01T10:00:06.000Z",
            attachment={"type": "skill_listing", "skills": [1, 2, 3]}),
    ]


def test_quiet_records_are_skimmed_with_the_same_events_and_state() -> None:
    events, conv = both([*opening(), *quiet_records()])
    assert conv.skimmed == 5  # the api-request is read in full: the model was not known yet
    assert conv._tree.parents["q3"] == "q2" and conv._ts == "2026-12-01T10:00:06.000Z"
    assert events[0]["kind"] == "session.started"


def test_nothing_is_skimmed_before_the_session_is_out() -> None:
    lines = [*quiet_records(parent="none"), *opening()]
    lines[0] = rec(type="attachment", uuid="q0", sessionId=SESSION, version="2.1.300", cwd="/first",
                   attachment={"type": "model", "identity": {"modelId": "claude-first"}})
    events, conv = both(lines)
    assert conv.skimmed == 0
    started = events[0]["data"]
    # The first sessionId, version, cwd and model came from quiet records read in full.
    assert events[0]["session"] == SESSION and started["version"] == "2.1.300"
    assert started["cwd"] == "/first" and started["model"] == "claude-first"


def test_a_quiet_record_with_a_newer_version_says_so() -> None:
    newer = rec(type="api-request-blob", version="9.0.0", timestamp="2026-12-01T10:00:09.000Z", blob="b")
    other = rec(type="last-prompt", version="2.1.300", lastPrompt="p")
    events, conv = both([*opening(), newer, other, *quiet_records()])
    assert [e["data"]["code"] for e in events if e["kind"] == "notice"] == ["newer-version"]
    assert conv._version == VERSION  # the quiet records after them bring it back, read in full each time
    assert conv.skimmed == 4


def test_lines_that_look_quiet_but_are_not_take_the_full_path() -> None:
    hostile = [
        b'{"type":"api-request-blob","blob":',  # cut short: raw, "not JSON"
        b'{"type":"api-request-blob","x":1e999}',  # out of range for a double: not JSON
        b'{"type":"file-history-snapshot","x":"\xff"}',  # not UTF-8
        b'{"type":"attachment","attachment":null,"uuid":"h1"}',  # raw: no attachment object
        b'{"type":"attachment","attachment":["prompt_snapshot"],"uuid":"h2"}',
        b'{"type":"attachment","attachment":{"type":"hook_success","hookName":"Stop"},"uuid":"h3"}',
        b'{"type":"attachment","attachment":{"type":"prompt_snapshot"},"type":"system","content":"later key wins"}',
        b'{"type":"api-request","type":["api-request"]}',  # unhashable type: a converter error, as before
        b'{"type":"progress","uuid":"h4","parentUuid":"h3","data":{"type":"agent_progress","agentId":"ag1"},'
        b'"parentToolUseID":"toolu_1"}',
        b'{"type":"progress","uuid":"h5","data":"not an object"}',
        b'["type","api-request"]',
        b'{"type":"custom-title","customTitle":"named"}',
        b"",
    ]
    events, conv = both([*opening(), *hostile])
    errors = [e["data"]["error"] for e in events if e["kind"] == "raw"]
    assert sum(err.startswith("not JSON") for err in errors) == 3
    assert "attachment without an attachment object" in errors
    assert any(err.startswith("converter error: TypeError") for err in errors)
    assert [e["data"]["code"] for e in events if e["kind"] == "notice"][:2] == ["attachment.hook_success", "system"]
    assert any(e["kind"] == "agent.started" and e["data"]["parent_call_id"] == "toolu_1" for e in events)
    assert conv.skimmed == 1  # only the progress whose data is not an object


def test_the_model_from_a_quiet_record_is_read_until_known() -> None:
    no_model = rec(type="user", uuid="u1", parentUuid=None, sessionId=SESSION, timestamp="2026-12-01T10:00:00.000Z",
                   message={"role": "user", "content": "hi"})
    answer = rec(type="assistant", uuid="a1", parentUuid="u1", timestamp="2026-12-01T10:00:01.000Z",
                 message={"id": "m1", "model": "<synthetic>", "content": "hello"})
    model = rec(type="attachment", uuid="q1", parentUuid="a1", attachment={"type": "model",
                                                                           "identity": {"modelId": "claude-late"}})
    again = rec(type="attachment", uuid="q2", parentUuid="q1", attachment={"type": "model",
                                                                           "identity": {"modelId": "claude-other"}})
    _, conv = both([no_model, answer, model, again])
    assert conv._model == "claude-late" and conv.skimmed == 1


def test_skimmed_uuids_stay_in_the_tree_a_rewind_walks() -> None:
    """A rewind abandons a branch through quiet records: the notice names them, as the full path does."""
    prompt2 = rec(type="user", uuid="u2", parentUuid="q3", timestamp="2026-12-01T10:01:00.000Z",
                  message={"role": "user", "content": "and then"})
    answer2 = rec(type="assistant", uuid="a2", parentUuid="u2", timestamp="2026-12-01T10:01:01.000Z",
                  message={"id": "m2", "content": [{"type": "text", "text": "done"}]})
    rewound = rec(type="user", uuid="u3", parentUuid="a1", timestamp="2026-12-01T10:02:00.000Z",
                  message={"role": "user", "content": "no, instead"})
    copy = quiet_records()[0]  # the same uuid again: a copy, nothing changes
    events, conv = both([*opening(), *quiet_records(), prompt2, answer2, copy, rewound])
    notice = next(e for e in events if e["kind"] == "notice" and e["data"]["code"] == "rewind")
    assert notice["data"]["fork"] == "a1"
    assert {"q1", "q2", "q3", "u2", "a2"} <= set(notice["data"]["abandoned"])
    assert conv.skimmed == 6


def test_a_skimmed_timestamp_dates_the_next_record_without_one() -> None:
    late = rec(type="system", subtype="informational", content="note")  # no timestamp of its own
    events, _ = both([*opening(), *quiet_records(), late])
    assert events[-1]["ts"] == "2026-12-01T10:00:06.000Z"


@pytest.mark.parametrize("path", claude_transcripts(), ids=lambda p: "/".join(p.parts[-2:]))
def test_every_transcript_in_the_repository_converts_the_same(path: Path) -> None:
    lines = [line.rstrip(b"\r\n") for line in path.read_bytes().splitlines()]
    both(lines, path)


_QUIET_KINDS = sorted(R.SILENT_TYPES)
_FIELDS = st.fixed_dictionaries({}, optional={
    "uuid": st.sampled_from(["u1", "a1", "x1", "x2", None, 7]),
    "parentUuid": st.sampled_from(["u1", "a1", "x1", None, ["a1"]]),
    "timestamp": st.sampled_from(["2026-12-01T11:00:00.000Z", None, 12]),
    "version": st.sampled_from([VERSION, "2.1.300", "9.9.9", None, 2]),
    "sessionId": st.sampled_from([SESSION, "other"]),
})
_QUIET = st.one_of(
    st.builds(lambda k, f: {"type": k, **f}, st.sampled_from(_QUIET_KINDS), _FIELDS),
    st.builds(lambda a, f: {"type": "attachment", "attachment": a, **f},
              st.one_of(st.none(), st.builds(lambda t: {"type": t}, st.sampled_from(
                  [*sorted(R.SILENT_ATTACHMENTS), "hook_success", "file", None, 3]))), _FIELDS),
    st.builds(lambda d, f: {"type": "progress", "data": d, **f},
              st.sampled_from([None, "x", {"type": "hook_progress"}, {"type": "agent_progress", "agentId": "g"}]),
              _FIELDS),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_QUIET, max_size=12), st.booleans())
def test_any_mix_of_quiet_looking_records_converts_the_same(records: list[dict[str, Any]], late: bool) -> None:
    lines = [json.dumps(r).encode() for r in records]
    both([*opening(), *lines] if late else [*lines, *opening(), *lines])


def test_quiet_says_which_records_yield_nothing() -> None:
    assert R.quiet({"type": "api-request-shape"}, False)
    assert R.quiet({"type": "api-request"}, True) and not R.quiet({"type": "api-request"}, False)
    assert R.quiet({"type": "attachment", "attachment": {"type": "model"}}, True)
    assert not R.quiet({"type": "attachment", "attachment": {"type": "model"}}, False)
    assert not R.quiet({"type": "attachment", "attachment": {"type": "hook_success"}}, True)
    assert not R.quiet({"type": "attachment", "attachment": "prompt_snapshot"}, True)
    assert R.quiet({"type": "progress", "data": {"type": "hook_progress"}}, True)
    assert not R.quiet({"type": "progress", "data": {"type": "agent_progress"}}, True)
    assert not R.quiet({"type": "user"}, True)
