"""``export`` of sessions holding what OTLP cannot carry: a lone surrogate, a time before 1970 or after 2554.

A string span attribute must be UTF-8 and a span time an unsigned 64-bit count of nanoseconds since 1970;
one value outside either failed the encoding of the whole request, so a clean session exported beside it
was lost too (or, with ``--otlp-content``, the export stopped with a traceback). Each session here is
exported beside a clean one to the real receiver: every span arrives, the odd value shown, not dropped.
"""

from __future__ import annotations

from pathlib import Path

from otlp_support import Receiver, Span
from test_otlp_export import export
from test_viewer_support import ClaudeTranscript

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.export.mapping import INTERNAL, Content, SpanRecord
from watchkeeper.export.otlp import OtlpSender

LOW, HIGH = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
#: The largest time OTLP carries: 2**64 - 1 nanoseconds since 1970 (in the year 2554).
LATEST_NS = 2**64 - 1


def clean(root: Path) -> Path:
    t = ClaudeTranscript(root / "clean.jsonl", session="aaaaaaaa-2222-4333-8444-555555555555")
    t.write(t.prompt("clean"), t.tool_use("toolu_c", "Read", {"file_path": "/a"}), t.tool_result("toolu_c", "a"))
    return t.path


def odd(root: Path, name: str = "Bash", cwd: str = "/w", command: str = "echo",
        ts: tuple[str, str] | None = None) -> Path:
    t = ClaudeTranscript(root / "odd.jsonl", session="bbbbbbbb-2222-4333-8444-555555555555")
    first, call = t.prompt("odd"), t.tool_use("toolu_o", name, {"command": command})
    result = t.tool_result("toolu_o", "ok")
    first["cwd"] = cwd
    call["message"]["model"] = f"model-{name}"
    if ts is not None:
        first["timestamp"], result["timestamp"] = ts
    t.write(first, call, result)
    return t.path


def tool(spans: list[Span], call_id: str) -> Span:
    return next(s for s in spans if s.attributes.get("gen_ai.tool.call.id") == call_id)


def test_a_lone_surrogate_in_a_calls_input_is_sent_escaped_with_content(tmp_path: Path) -> None:
    with Receiver() as r:
        spans = export(r, odd(tmp_path, command="echo \ud83d"), clean(tmp_path), content=Content())
    assert tool(spans, "toolu_o").attributes["gen_ai.tool.call.arguments"] == '{"command":"echo \\\\ud83d"}'
    assert tool(spans, "toolu_c").attributes["gen_ai.tool.call.arguments"] == '{"file_path":"/a"}'


def test_lone_surrogates_in_names_do_not_lose_the_batch(tmp_path: Path) -> None:
    with Receiver() as r:
        spans = export(r, odd(tmp_path, name="Ba\udc00sh", cwd="/w\ud800"), clean(tmp_path))
    call = tool(spans, "toolu_o")
    assert call.name == "execute_tool Ba\\udc00sh" and call.attributes["gen_ai.tool.name"] == "Ba\\udc00sh"
    assert any(s.attributes.get("gen_ai.request.model") == "model-Ba\\udc00sh" for s in spans)
    assert tool(spans, "toolu_c").name == "execute_tool Read"


def test_times_out_of_otlps_range_are_clamped_and_said(tmp_path: Path) -> None:
    path = odd(tmp_path, ts=(LOW, HIGH))
    with Receiver() as r:
        spans = export(r, path, clean(tmp_path))
    roots = {s.attributes["gen_ai.conversation.id"]: s for s in spans if s.parent_id is None}
    root = roots["bbbbbbbb-2222-4333-8444-555555555555"]
    call = tool(spans, "toolu_o")
    # Year 1 has no place in OTLP's time: the prompt is placed as an event without a time, at the next.
    assert (root.start_ns, root.end_ns) == (call.start_ns, LATEST_NS) and 0 < call.start_ns < LATEST_NS
    assert call.end_ns == LATEST_NS
    assert root.attributes["watchkeeper.times_out_of_range"] == [LOW, HIGH]
    odd_events = sum(e["ts"] in (LOW, HIGH) for e in convert_file(path))
    assert root.attributes["watchkeeper.times_out_of_range.count"] == odd_events >= 2
    assert "watchkeeper.times_out_of_range" not in roots["aaaaaaaa-2222-4333-8444-555555555555"].attributes
    assert tool(spans, "toolu_c").name == "execute_tool Read"


def test_the_sender_sends_a_record_with_values_otlp_cannot_carry_as_values_it_can() -> None:
    """The last guard, for a record made from anything: strings, integers and times brought into range."""
    bad = SpanRecord(1, 2, None, "execute_tool Ba\udc00sh", INTERNAL, -5, 2**70,
                     {"gen_ai.tool.name": "Ba\udc00sh", "watchkeeper.tool.exit_code": 2**70, "k\ud800": ["a\udc01"]},
                     [("watchkeeper.hold\ud800", -1, {"watchkeeper.why": "w\udfff"})], error="e\ud800")
    good = SpanRecord(3, 4, None, "execute_tool Read", INTERNAL, 10, 20, {"gen_ai.tool.name": "Read"})
    with Receiver() as r:
        sender = OtlpSender(r.url)
        assert sender.send([bad, good]) and sender.failed == 0
        sender.shutdown()
    sent, read = r.spans
    assert (sent.name, sent.start_ns, sent.end_ns) == ("execute_tool Ba\\udc00sh", 0, LATEST_NS)
    assert sent.attributes == {"gen_ai.tool.name": "Ba\\udc00sh", "watchkeeper.tool.exit_code": str(2**70),
                               "k\\ud800": ["a\\udc01"]}
    assert sent.events == [("watchkeeper.hold\\ud800", {"watchkeeper.why": "w\\udfff"})]
    assert sent.status_message == "e\\ud800" and read.name == "execute_tool Read"
