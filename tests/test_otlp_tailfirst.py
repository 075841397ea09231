"""Continuous OTLP export of a huge transcript, which the relay opens tail-first: the same spans as a one-shot export.

The relay gets the file's head and last part at once and its whole history
later, as a new generation (``adapters/files/tailfirst.py``); folded in the
order the relay delivered it, the export sent calls, model calls and the
session's totals unlike ``watchkeeper export`` of the same file. The file is a
few MB grown from a real session, the thresholds lowered so that it counts as
huge, and ``HeldIndexer`` keeps the history back until the tail is surely out.
"""

from __future__ import annotations

from pathlib import Path

from huge_support import SESSION, HeldIndexer, grow, sample_session
from otlp_support import Receiver, Span, by_id
from waiting import until

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.export.mapping import SpanMapper, SpanRecord
from watchkeeper.export.stream import ContinuousExport
from watchkeeper.relay import Relay

TAIL_FIRST = 1 << 20
TAIL = 256 << 10


def one_shot(path: Path) -> dict[str, SpanRecord]:
    mapper = SpanMapper()
    records = mapper.feed(convert_file(path)) + mapper.close_all(incomplete=False)
    return {f"{r.span_id:016x}": r for r in records}


def shape(span: Span | SpanRecord) -> tuple[object, ...]:
    """What a span says, but ``watchkeeper.incomplete`` on the session's span: live, the session was still
    followed at exit, which a file exported once cannot know."""
    attrs = dict(span.attributes)
    parent = span.parent_id
    if parent is None:
        attrs.pop("watchkeeper.incomplete", None)
    if isinstance(span, SpanRecord):
        parent = f"{parent:016x}" if parent is not None else None
        events = [(name, dict(a)) for name, _, a in span.events]
    else:
        events = [(name, dict(a)) for name, a in span.events]
    return span.name, parent, span.start_ns, span.end_ns, attrs, events


def test_a_transcript_opened_tail_first_is_exported_as_a_one_shot_export_would(tmp_path: Path) -> None:
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    grow(path, sample_session(), 3 * TAIL_FIRST)
    want = one_shot(path)
    calls = {r.attributes["gen_ai.tool.call.id"] for r in want.values() if r.name.startswith("execute_tool")}
    with HeldIndexer() as held, Receiver() as r, Relay() as relay:
        export = ContinuousExport(relay, r.url, flush_every=0.1, tail_first=TAIL_FIRST)
        relay.add_source(TranscriptSource(path, poll_interval=0.1, tail_first=TAIL_FIRST, tail_bytes=TAIL))
        until(lambda: (info := relay.session(SESSION)) is not None and info.indexing is not None,
              "the tail out, the history indexing")
        held.release()
        until(lambda: (info := relay.session(SESSION)) is not None and info.history_from > 0, "the whole history in")
        r.until(lambda spans: {s.attributes.get("gen_ai.tool.call.id") for s in spans} >= calls, "every call's span")
        export.close()
        spans = list(r.spans)
    got = by_id(spans)
    assert len(got) == len(spans), "a span sent twice"
    assert set(got) == set(want)
    for span_id, span in got.items():
        assert shape(span) == shape(want[span_id]), span.name
    assert export.dropped == 0 and export.failed == 0
