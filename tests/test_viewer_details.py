"""The detail pane's content for one row: pure renderables, printed to text."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.text import Text
from test_viewer_support import EDIT_INPUT, Events

from watchkeeper.protocol import CallTable, Event
from watchkeeper.viewer.model.detail_render import FOLD_LINES, Options, edit_diff, render_detail


def rendered(events: list[Event], unfold: bool = False) -> str:
    table = CallTable()
    call = None
    for e in events:
        call = table.update(e) or call
    console = Console(width=100, record=True, color_system=None)
    console.print(render_detail(events, call, Options(unfold=unfold)))
    return console.export_text()


def call_events(name: str, input: Any, output: Any, status: str = "ok") -> list[Event]:
    return Events().call("c1", name, input, output, status, duration_ms=2300)


def test_bash_call_shows_command_and_output() -> None:
    text = rendered(call_events("Bash", {"command": "pytest -q tests/", "timeout": 60},
                                "Error: Exit code 1\nFAILED tests/test_a.py::test_x", "error"))
    assert "Bash  ✗ error 2.3s" in text
    assert "pytest -q tests/" in text and '"timeout": 60' in text
    assert "FAILED tests/test_a.py::test_x" in text


def test_edit_shows_a_unified_diff() -> None:
    text = rendered(call_events("Edit", EDIT_INPUT, {"filePath": EDIT_INPUT["file_path"]}))
    assert "--- a//home/dev/project/app.py" in text
    assert "-    return sum(xs)" in text
    assert "+    return sum(x for x in xs if x is not None)" in text


def test_write_over_an_existing_file_is_a_diff_and_a_new_file_is_its_content() -> None:
    write = {"file_path": "/p/notes.md", "content": "one\nTWO\nthree\n"}
    over = {"type": "update", "filePath": "/p/notes.md", "originalFile": "one\ntwo\nthree\n"}
    text = rendered(call_events("Write", write, over))
    assert "-two" in text and "+TWO" in text
    created = rendered(call_events("Write", write, {"type": "create", "originalFile": None, "structuredPatch": []}))
    assert "-two" not in created and "TWO" in created


def test_apply_patch_and_structured_patch() -> None:
    patch = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-let x = 1;\n+let x = 2;\n*** End Patch"
    text = rendered(call_events("apply_patch", patch, "Success. Updated the following files:\nM src/a.rs"))
    assert "+let x = 2;" in text and "Success." in text
    table = CallTable()
    events = Events().call("c2", "Write", {"file_path": "/p/a.py", "content": "x"},
                           {"structuredPatch": [{"oldStart": 1, "oldLines": 1, "newStart": 1, "newLines": 1,
                                                 "lines": ["-y", "+x"]}]})
    call = None
    for e in events:
        call = table.update(e) or call
    assert call is not None and edit_diff(call) == "@@ -1,1 +1,1 @@\n-y\n+x"


def test_json_output_is_pretty_and_long_output_folds_with_its_size() -> None:
    text = rendered(call_events("mcp__db__query", {"sql": "select 1"}, '{"rows": [[1]], "ok": true}'))
    assert '"ok": true' in text and '"rows": [' in text
    long = "\n".join(f"line {i}" for i in range(5000))
    folded = rendered(call_events("Read", {"file_path": "/p/big.txt"}, long))
    assert f"line {FOLD_LINES - 1}" in folded and "line 4999" not in folded
    assert "4,800 more lines" in folded and "KiB in all" in folded
    unfolded = rendered(call_events("Read", {"file_path": "/p/big.txt"}, long), unfold=True)
    assert "line 4999" in unfolded and "folded" not in unfolded


def test_events_other_than_calls() -> None:
    ev = Events()
    raw = rendered([ev.ev("raw", {"record": "{half", "error": "not JSON", "source": "/p/s.jsonl"})])
    assert "not JSON" in raw and "{half" in raw and "from /p/s.jsonl" in raw
    said = rendered([ev.ev("message.assistant", {"text": "# Done\n\nAll **green**."})])
    assert "Done" in said and "All green." in said
    assert "Nothing selected" in rendered([])


CODE_SAMPLES = {
    "json": '{"a": [1, 2.5, null], "b": "\\u00e9", "long": "' + "word " * 30 + '"}',
    "bash": "for f in *.py; do echo \"$f\" | wc -l; done\n  \n",
    "python": "\n\ndef f(x: int) -> int:\n\treturn x  # tab\n\t\tnested = '中文字符' * 9 + '🙂'\n\n",
    "diff": "--- a\n+++ b\n-old\n+new",
    "text": "a\n",
    "no-such-lexer": "plain <b>text</b> " + "x" * 130,
}
CODE_EDGES = ["", "\n", "\n\n\n", "a", "   ", "trailing   \n", "\tonly a tab", "x\ty\t\tz = 1", "x" * 300]


def test_code_is_drawn_as_richs_syntax_draws_it() -> None:
    """``Code`` draws in one pass what Rich's ``Syntax`` draws a line at a time: the same lines, segment for
    segment, for every lexer (looked up once, by name), width, theme and colour depth, and at the edges
    (nothing, blank lines, no final newline, tabs, wide characters, a word longer than the width)."""
    from rich.syntax import Syntax
    from rich.terminal_theme import MONOKAI
    from textual.color import Color

    from watchkeeper.viewer.model.detail_render import code
    from watchkeeper.viewer.theme import syntax_theme

    themes = ["ansi_dark", "ansi_light", "monokai", syntax_theme(False, MONOKAI, Color.parse("#f0f0f0"))]
    cases = [*CODE_SAMPLES.items(), *(("python", edge) for edge in CODE_EDGES)]
    compared = 0
    for theme in themes:
        opts = Options(theme=theme)
        console = Console(width=80, color_system="truecolor", force_terminal=True)
        for name, text in cases:
            for width in (1, 2, 7, 40, 80, 200):
                options = console.options.update(width=width)
                ours = console.render_lines(code(text, name, opts), options, pad=False)
                theirs = console.render_lines(
                    Syntax(text, name, theme=theme, background_color="default", word_wrap=True), options, pad=False)
                assert ours == theirs, (theme, name, text[:20], width)
                compared += 1
            # Printed in 256 colours beside other text, as a terminal gets it.
            printed = []
            for drawn in (code(text, name, opts), Syntax(text, name, theme=theme, background_color="default",
                                                         word_wrap=True)):
                out = Console(width=50, record=True, color_system="256", force_terminal=True)
                out.print(Text("before"), drawn, Text("after"))
                printed.append(out.export_text(styles=True))
            assert printed[0] == printed[1], (theme, name, text[:20])
    assert compared == 4 * (len(CODE_SAMPLES) + len(CODE_EDGES)) * 6
    # And highlighted: a lexer found by name gives colours, under the pane's own theme as well.
    for name, text in CODE_SAMPLES.items():
        shown = Console(width=60, record=True, color_system="truecolor")
        shown.print(code(text, name, Options()))
        colours = set(re.findall(r"\x1b\[[0-9;]*m", shown.export_text(styles=True)))
        assert len(colours - {"\x1b[0m", "\x1b[49m"}) >= 2 or name in ("no-such-lexer", "text"), (name, colours)


