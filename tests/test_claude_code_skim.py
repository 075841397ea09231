"""The converter's skim: records that show nothing are read in part, and yield what a full read yields.

Most of a real transcript's bytes are records the viewer never shows (request
shapes, restated context attachments, progress ticks). The converter decodes
only their head (``converter._Head``) and sends anything it is not sure of to
the full parse. These tests convert the same lines with the skim and with the
skim refused, and hold the two equal: on every transcript in the repository,
on hostile variants of the skimmed records, and on generated ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from conftest import claude_transcripts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchkeeper.adapters.claude_code import converter as C

FILES = claude_transcripts()
#: A real session's opening, so that the lines under test come after ``session.started``.
OPENING = next(p for p in FILES if p.name.startswith("00000000-0295")).read_bytes().splitlines()[:12]
UUID = "5e1f0000-0000-4000-8000-{:012d}"


def convert(lines: list[bytes], path: Path | None, skim: bool,
            monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], int]:
    """The events, and how many lines the full parse read."""
    parsed = 0
    loads = orjson.loads

    def counted(line: bytes) -> Any:
        nonlocal parsed
        parsed += 1
        return loads(line)

    def refused(line: bytes) -> Any:
        raise msgspec.DecodeError("skim refused by the test")

    with monkeypatch.context() as m:
        m.setattr(C, "_loads", counted)
        if not skim:
            m.setattr(C, "_skim", refused)
        conv = C.ClaudeCodeConverter(path)
        out: list[Any] = []
        for offset, line in enumerate(lines):
            out += conv.feed(line, offset)
        out += conv.finish()
    return out, parsed


def same_both_ways(lines: list[bytes], monkeypatch: pytest.MonkeyPatch, path: Path | None = None) -> int:
    """Assert the two conversions agree; return how many lines the skim spared the full parse."""
    skimmed, parsed = convert(lines, path, True, monkeypatch)
    full, parsed_full = convert(lines, path, False, monkeypatch)
    assert skimmed == full
    return parsed_full - parsed


def record(i: int, kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"type": kind, "uuid": UUID.format(i), "parentUuid": UUID.format(i - 1),
                         "timestamp": f"2026-12-07T10:00:{i % 60:02d}Z", **fields})


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_transcript_in_the_repository_converts_the_same_with_the_skim(
        path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    same_both_ways(path.read_bytes().splitlines(), monkeypatch, path)


def test_the_skim_spares_the_full_parse_of_the_records_that_show_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [record(i, kind, bulk="x" * 5000) for i, kind in enumerate(sorted(C.R.SILENT_TYPES), start=100)]
    lines.append(b'{"parentUuid":null,"isSidechain":false,"type":"progress","data":{"type":"hook_progress"}}')
    lines.append(b'{"parentUuid":null,"attachment":{"type":"date","content":"' + b"y" * 5000
                 + b'"},"type":"attachment"}')
    assert same_both_ways(OPENING + lines, monkeypatch) == len(lines)


HOSTILE = [
    # Not JSON, or JSON orjson refuses, in a record that would be skimmed.
    b'{"type":"tools-used","x":"\xed\xa0\x80"}',
    b'{"type":"tools-\xff","x":1}',
    b'{"type":"tools-used","uuid":"\xff"}',
    b'{"type":"tools-used","x":"\\ud800"}',
    b'{"type":"tools-used","n":NaN}',
    b'{"type":"tools-used"} trailing',
    b'{"type":"tools-used","a":' + b"[" * 3000 + b"]" * 3000 + b"}",
    b'{"type":"tools-used","a":' + b"[" * 200 + b"]" * 200 + b"}",
    b'{"type":"progress","x":' + b"{" * 1,
    # Fields of the wrong kind where the skim reads.
    b'{"type":["tools-used"],"uuid":"u1"}',
    b'{"type":{"t":1},"uuid":"u2"}',
    b'{"type":"attachment","attachment":["date"]}',
    b'{"type":"attachment","attachment":{"type":["date"]}}',
    b'{"type":"attachment","attachment":{"type":{"x":"date"}}}',
    b'{"type":"attachment","attachment":"date"}',
    b'{"type":"attachment"}',
    b'{"type":"attachment","attachment":null}',
    b'{"type":"progress","data":"agent_progress","parentToolUseID":"toolu_1"}',
    b'{"type":"progress","data":{"type":["agent_progress"]}}',
    b'{"type":"progress","data":{"type":"agent_progress","agentId":"a1"},"parentToolUseID":"toolu_1"}',
    b'{"type":"tools-used","uuid":["u3"],"parentUuid":{"p":1},"timestamp":17,"version":"99.0.0"}',
    b'{"type":"tools-used","uuid":"u4","version":{"major":99}}',
    b'{"type":"tools-used","uuid":"u5","version":[2,1]}',
    b'{"type":"tools-used","uuid":"u5b","version":"\xc2\xb9.0"}',
    # Duplicate keys: the last one is the record's.
    b'{"type":"tools-used","type":"user","message":{"role":"user","content":"hi"},"uuid":"u6"}',
    b'{"type":"user","type":"tools-used","uuid":"u7"}',
    # A model named after session.started (only that event carries it).
    b'{"type":"attachment","attachment":{"type":"model","identity":{"modelId":"claude-skim-1"}},"uuid":"u8"}',
    b'{"type":"api-request","params":{"model":"claude-skim-2"},"uuid":"u9"}',
    # A copy of a record already read, and a newer version met in a skimmed record.
    record(200, "last-prompt"), record(200, "last-prompt"),
    record(201, "atis-latch", version="999.0.0"),
    # A prompt whose parent is a skimmed record, and one that rewinds past skimmed records.
    record(202, "user", message={"role": "user", "content": "after a skimmed record"}),
    record(203, "file-history-snapshot"),
    orjson.dumps({"type": "user", "uuid": UUID.format(204), "parentUuid": UUID.format(201),
                  "timestamp": "2026-12-07T10:01:00Z", "message": {"role": "user", "content": "rewound"}}),
    # A skimmed record's time is the time of a record after it that has none.
    record(205, "tools-used"), b'{"type":"a-kind-never-seen"}',
]


@pytest.mark.parametrize("line", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_line_where_the_skim_looks_converts_as_a_full_read_does(
        line: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    same_both_ways([*OPENING, line], monkeypatch)


def test_hostile_lines_in_one_file_convert_as_a_full_read_does(monkeypatch: pytest.MonkeyPatch) -> None:
    same_both_ways([*OPENING, *HOSTILE], monkeypatch)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(["date", "model", "agent_progress", "2026-12-07T10:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["type", "agentId", "x"]), inner,
                                                                max_size=3),
    max_leaves=8,
)
_KIND = st.sampled_from([*sorted(C.R.SILENT_TYPES), "attachment", "progress", "system", "user"]) | _JSON
_FIELDS = st.sampled_from(["uuid", "parentUuid", "timestamp", "version", "attachment", "data", "parentToolUseID"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.tuples(_KIND, st.dictionaries(_FIELDS, _JSON, max_size=5)), min_size=1, max_size=6))
def test_generated_records_convert_the_same_with_the_skim(
        records: list[tuple[Any, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [orjson.dumps({"type": kind, **fields}) for kind, fields in records]
    same_both_ways([*OPENING, *lines], monkeypatch)


def test_a_version_of_digits_int_refuses_is_not_a_converter_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """``"¹".isdigit()`` is true and ``int("¹")`` fails, as does ``int()`` of 5,000 digits: such a version
    used to become a converter error."""
    long = b"9" * 5000
    for line in (b'{"type":"tools-used","version":"\xc2\xb9.0"}', b'{"type":"system","version":"2.\xc2\xb9"}',
                 b'{"type":"last-prompt","version":"' + long + b'"}', b'{"type":"system","version":"2.' + long + b'"}'):
        events, _ = convert([*OPENING, line], None, False, monkeypatch)
        assert not [e for e in events if "converter error" in str(e["data"].get("error", ""))]


@pytest.mark.parametrize("bulk", [b'"\xff\xfe"', b"1e999", b'[{"n":-1e999}]'], ids=["not-utf8", "inf", "nested-inf"])
def test_what_orjson_refuses_inside_what_the_skim_skips_leaves_the_record_what_its_type_says(
        bulk: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one difference from a full read, on purpose (``converter._Head``): the full read shows the line
    as ``raw`` (orjson refuses it), the skim reads its type and shows nothing, as for any such record."""
    line = b'{"type":"api-request-shape","uuid":"5e1f0000-0000-4000-8000-000000000300","body":' + bulk + b"}"
    skimmed, _ = convert([*OPENING, line], None, True, monkeypatch)
    full, _ = convert([*OPENING, line], None, False, monkeypatch)
    assert [e["kind"] for e in full[len(skimmed):]] == ["raw"]
    assert full[:len(skimmed)] == skimmed


@pytest.mark.parametrize("field", [b"version", b"uuid", b"timestamp"])
def test_a_number_past_a_float_where_the_skim_reads_goes_to_the_full_read(
        field: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    same_both_ways([*OPENING, b'{"type":"tools-used","' + field + b'":1e999}'], monkeypatch)
