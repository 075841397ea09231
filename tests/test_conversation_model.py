"""The conversation view's pure part: events in, blocks and their wrapped lines out (no app, no I/O)."""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterator
from itertools import accumulate

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from test_viewer_support import SUB, Events

from watchkeeper.protocol import Event
from watchkeeper.viewer.model.conversation import Conversation
from watchkeeper.viewer.model.conversation_blocks import plain_text
from watchkeeper.viewer.model.line_index import LineIndex
from watchkeeper.viewer.model.prose import Line, markdown, wrap
from watchkeeper.viewer.model.timeline_store import Filter, TimelineStore

WIDTH = 60


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def conversation(events: list[Event], width: int = WIDTH) -> Conversation:
    store = TimelineStore()
    store.add(events)
    conv = Conversation(store)
    conv.rebuild(store)
    conv.set_width(width)
    return conv


def text_of(conv: Conversation) -> str:
    return "\n".join(plain_text(conv.lines(i)) for i in range(len(conv.blocks)))


def block_of(conv: Conversation, kind: str, nth: int = 0) -> int:
    found = [i for i, h in enumerate(conv.blocks) if conv.store.events[h]["kind"] == kind]
    return found[nth]


def cells_of(conv: Conversation, i: int) -> list[tuple[str, str]]:
    return [cell for line in conv.lines(i) for cell in line]


def test_a_user_turn_is_the_speaker_and_time_once_then_the_text_wrapped() -> None:
    e = Events()
    long = "Please fix the failing test in the payments module and explain what went wrong there."
    conv = conversation([*e.started(), e.ev("message.assistant", {"text": "What should I do?"}),
                         e.ev("message.user", {"text": long, "origin": "prompt"}),
                         e.ev("message.user", {"text": "And be quick.", "origin": "queued"})])
    text = text_of(conv)
    assert text.count("You · ") == 2 and "You · 18:00:02" in text  # two turns of the person's
    last = plain_text(conv.lines(len(conv.blocks) - 2)).split("\n")
    assert last[0] == "" and last[1] == "You · 18:00:04"
    assert len(last) > 3, "a long prompt wraps"
    assert " ".join(line.strip() for line in last[2:]) == long
    assert all(cell_len(line) <= conv.text_width for line in last)
    # The next prompt is the same turn: no header of its own; its origin is not said, as it is not a new turn.
    assert plain_text(conv.lines(len(conv.blocks) - 1)) == "  And be quick."


def test_a_long_message_is_folded_and_the_note_says_what_is_left() -> None:
    e = Events()
    one_line = "B" * 50_000
    many = "\n".join(f"line {n}" for n in range(300))
    conv = conversation([*e.started(), e.ev("message.user", {"text": one_line, "origin": "prompt"}),
                         e.ev("message.assistant", {"text": many})])
    text = text_of(conv)
    assert "▸ 38,000 more characters — Enter shows them all" in text, "one long line: counted in characters"
    assert "▸ 180 more lines — Enter shows them all" in text


def test_an_assistant_turn_reads_markdown_and_its_link_stays_inert_text() -> None:
    e = Events()
    said = ("The fix is in **total()**: see [the docs](http://evil.example/x).\n\n"
            "# Steps\n- skip `None`\n- add a test\n\n```py\nx = [b]1[/b]\n```")
    conv = conversation([*e.started(), e.ev("thinking", {"text": "hmm"}), e.ev("message.assistant", {"text": said})])
    i = block_of(conv, "message.assistant")
    text = plain_text(conv.lines(i))
    assert "see the docs <http://evil.example/x>." in " ".join(text.split())
    assert "**" not in text and "# Steps" not in text and "Steps" in text
    assert "• skip None" in text and "x = [b]1[/b]" in text
    cells = cells_of(conv, i)
    assert ("the docs", "link") in cells and any(t.strip() == "<http://evil.example/x>" and r == "dim"
                                                 for t, r in cells)
    assert ("total()", "bold") in cells and ("None", "code") in cells and ("Steps", "heading") in cells
    # One turn: the thinking line opened it, the message follows under the same header.
    assert text_of(conv).count("Assistant · ") == 1


def test_tool_calls_are_one_line_each_and_expand_to_their_input_and_output() -> None:
    e = Events()
    conv = conversation([
        *e.started(),
        *e.call("toolu_bash", "Bash", {"command": "pytest -q tests/test_app.py", "description": "run"},
                "Error: Exit code 1\nFAILED test_total", "error", duration_ms=2300),
        *e.call("toolu_read", "Read", {"file_path": "/w/app.py"}, "def total(xs): ...", duration_ms=40),
        e.call_start("toolu_run", "Bash", {"command": "sleep 100"}),
    ])
    bash, read, run = (block_of(conv, "tool.started", n) for n in range(3))
    assert conv.measure(bash) == 3  # a gap, the speaker, the call
    line = plain_text(conv.lines(bash)).split("\n")[-1]
    assert line.startswith("  ▸ Bash  pytest -q tests/test_app.py") and line.endswith("✗ error 2.3s")
    assert len(line) == conv.text_width
    assert plain_text(conv.lines(read)).endswith("✓ 40ms") and conv.measure(read) == 1
    assert "▸ Bash  sleep 100" in plain_text(conv.lines(run)) and "… unfinished" in plain_text(conv.lines(run))
    assert "FAILED" not in text_of(conv)

    assert conv.toggle(bash)
    expanded = plain_text(conv.lines(bash))
    assert "▾ Bash" in expanded
    assert "input\n      pytest -q tests/test_app.py\n    output\n      Error: Exit code 1\n      FAILED test_total" \
        in expanded
    assert conv.measure(bash) == 8
    assert conv.toggle(bash) and conv.measure(bash) == 3


def test_a_subagents_calls_sit_under_the_call_that_spawned_it_with_its_name() -> None:
    e = Events()
    conv = conversation([*e.started(), *e.subagent()])
    text = text_of(conv)
    assert "  ▸ Task  Count files" in text
    sub = [line for line in text.split("\n") if line.startswith("┆ ")]
    assert "┆ Prompt to Count files · 18:00:05" in sub
    assert "┆ Count files · 18:00:06" in sub
    assert any(line.startswith("┆   ▸ Glob  **/*.py") for line in sub)
    assert "┆   There are 2 files." in sub
    task = block_of(conv, "tool.started", 0)
    glob = block_of(conv, "tool.started", 1)
    assert conv.store.events[conv.blocks[glob]]["agent"] == SUB and glob > task


def test_hostile_text_is_shown_escaped_and_markup_literally() -> None:
    e = Events()
    hostile = "\x1b]0;OWNED\x07\x1b[2J[b]bold[/b][@click=app.quit]x[/] \x9b2J \u202eevil\x1b]8;;http://e/\x1b\\L"
    conv = conversation([
        *e.started(),
        e.ev("message.assistant", {"text": hostile}),
        *e.call("toolu_x", hostile, {"command": hostile}, {"stdout": hostile, "stderr": ""}),
        e.ev("thinking", {"text": hostile}),
    ], width=200)
    for i in range(len(conv.blocks)):
        conv.toggle(i)
    text = text_of(conv)
    assert "␛]0;OWNED␇␛[2J[b]bold[/b][@click=app.quit]x[/] ⟨U+009B⟩2J ⟨U+202E⟩evil␛]8;;http://e/␛\\L" in text
    assert text.count("␛]0;OWNED") >= 5  # the message, the call's name, input, output, the thinking
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in text)


def test_heights_are_estimates_until_measured_and_starts_follow_them() -> None:
    e = Events()
    events = [*e.started()]
    for n in range(40):
        events.append(e.ev("message.assistant", {"text": f"answer {n} " + "word " * (n * 7)}))
        events += e.call(f"toolu_{n}", "Bash", {"command": f"echo {n}"})
    conv = conversation(events, width=50)
    n = len(conv.blocks)
    assert not any(conv.is_measured(i) for i in range(n))
    total_before = conv.total
    for i in range(n):
        conv.measure(i)
    assert all(conv.is_measured(i) for i in range(n))
    assert [conv.start(i) for i in range(n + 1)] == [sum(len(conv.lines(j)) for j in range(i)) for i in range(n + 1)]
    assert conv.total == conv.start(n)
    assert abs(conv.total - total_before) < total_before * 0.2, "the estimate is near the truth"
    y = conv.start(18) + 1
    i, line = conv.line_at(y)
    assert i == 18 and line == conv.lines(18)[1] and conv.height(18) > 2

    conv.set_width(90)
    assert not conv.is_measured(3), "a new width: estimates again, re-wrapped only when shown"


def test_new_events_are_placed_and_a_new_view_rebuilds() -> None:
    e = Events()
    store = TimelineStore()
    store.add([*e.started(), e.ev("usage", {"input_tokens": 1}), e.ev("state", {"state": "running"})])
    conv = Conversation(store)
    assert conv.sync(store) == (2, True)
    assert [store.events[h]["kind"] for h in conv.blocks] == ["session.started", "message.user"]
    store.add([*e.call("toolu_1", "Bash", {"command": "ls"}), e.ev("message.assistant", {"text": "done"})])
    assert conv.sync(store) == (2, False)
    store.add(e.subagent())
    added, rebuilt = conv.sync(store)
    assert not rebuilt and added == 6
    kinds = [store.events[h]["kind"] for h in conv.blocks]
    assert kinds.count("tool.started") == 3 and "usage" not in kinds and "state" not in kinds
    assert conv.blocks == [h for h in store.view if store.events[h]["kind"] not in ("usage", "state")]

    store.rebuild(Filter(tool="Bash"))
    assert conv.sync(store) == (1, True)
    assert conv.index_of(store.view[0]) == 0


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(max_codepoint=0x30FF, exclude_categories=("Cs",)), max_size=300),
       st.integers(4, 70))
@example("000\u3000\x1b", 4)  # a wide space (two cells) at the edge: once counted as one, the line overflowed
def test_wrapped_lines_fit_and_keep_every_word(text: str, width: int) -> None:
    for source in markdown(text):
        lines: list[Line] = wrap(source.cells, width, words=not source.code)
        assert all(sum(cell_len(t) for t, _ in line) <= width for line in lines)
        joined = "".join(t for line in lines for t, _ in line)
        assert "".join(joined.split()) == "".join("".join(t for t, _ in source.cells).split())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 9), max_size=1500),
       st.lists(st.tuples(st.sampled_from(["set", "insert"]), st.integers(0, 2000), st.integers(1, 40)),
                max_size=60))
def test_the_line_index_agrees_with_a_plain_prefix_sum(heights: list[int], changes: list[tuple[str, int, int]]) -> None:
    index = LineIndex(array("l", heights))
    for op, at, height in changes:
        if op == "insert":
            at = min(at, len(heights))
            heights.insert(at, height)
            index.insert(at, height)
        elif heights:
            at %= len(heights)
            heights[at] = height
            index.set(at, height)
        starts = [0, *accumulate(heights)]
        assert index.total == starts[-1] and len(index) == len(heights)
        for i in (0, at, len(heights) // 2, len(heights)):
            assert index.start(min(i, len(heights))) == starts[min(i, len(heights))]
        for y in (0, starts[-1] // 3, starts[-1] - 1, starts[-1] + 5):
            if heights:
                i = index.find(y)
                assert starts[i] <= y < starts[i + 1] or (y >= starts[-1] and i == len(heights) - 1)
