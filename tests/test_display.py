"""``protocol.display.visible``: what a terminal could obey becomes a visible stand-in; the rest is untouched.

Also the CLI's lines: the real ``watchkeeper`` prints a path with an escape
sequence in it as text, never as the sequence.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.protocol.display import VisibleFormatter, visible, visible_logging, visible_value

#: What must never be in the output (newline and tab are kept).
UNSAFE = {*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), *map(chr, range(0x202A, 0x202F)),
          *map(chr, range(0x2066, 0x206A)), *map(chr, range(0xD800, 0xE000))} - {"\n", "\t"}


def test_escape_sequences_lose_their_esc_and_stay_readable() -> None:
    assert visible("\x1b]0;title\x07") == "␛]0;title␇"
    assert visible("\x1b]52;c;UFdO\x1b\\") == "␛]52;c;UFdO␛\\"
    assert visible("\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\") == "␛]8;;http://x/␛\\link␛]8;;␛\\"
    assert visible("\x1bP1$r\x1b\\") == "␛P1$r␛\\"
    assert visible("a\x1b[2Jb\x1b[201~") == "a␛[2Jb␛[201~"


def test_c0_del_c1_bidi_and_surrogates() -> None:
    assert visible("\x00\x07\x08\x0b\x0c\x0d\x7f") == "␀␇␈␋␌␍␡"
    assert visible("\x9b2J \x9d0;t\x9c \x90q\x85") == "⟨U+009B⟩2J ⟨U+009D⟩0;t⟨U+009C⟩ ⟨U+0090⟩q⟨U+0085⟩"
    assert visible("\u202eevil\u202c \u2066x\u2069") == "⟨U+202E⟩evil⟨U+202C⟩ ⟨U+2066⟩x⟨U+2069⟩"
    assert visible("bad \udc80") == "bad ⟨U+DC80⟩"
    marks = visible("a\u200eb\u200fc\u061cd\u2028e\u2029f\ufeffg")
    assert marks == "a⟨U+200E⟩b⟨U+200F⟩c⟨U+061C⟩d⟨U+2028⟩e⟨U+2029⟩f⟨U+FEFF⟩g"
    assert visible(marks) is marks
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467 caf\u00e9 \u05e9\u05dc\u05d5\u05dd"
    assert visible(family) is family, "joiners, accents and right-to-left letters are text"


def test_newlines_tabs_crlf_and_clean_text() -> None:
    assert visible("a\tb\nc") == "a\tb\nc"
    assert visible("line\r\nnext\rover") == "line\nnext␍over"
    clean = "Bash  pytest -q tests/ && echo [done] [/] [@click=app.quit]x"
    assert visible(clean) is clean
    unicode = "Edit  /home/dév/café.py — “quoted” ✓ 日本語 ␛ already a picture"
    assert visible(unicode) is unicode


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(st.characters(max_codepoint=0x2100) | st.sampled_from(sorted(UNSAFE)), max_size=60))
def test_nothing_unsafe_comes_out_and_a_second_pass_changes_nothing(text: str) -> None:
    out = visible(text)
    assert not UNSAFE.intersection(out)
    assert visible(out) == out
    if not UNSAFE.intersection(text):
        assert out == text
    # Every unsafe character left its stand-in: nothing is dropped silently (the CR of a CRLF aside).
    for char in UNSAFE.intersection(text.replace("\r\n", "\n")):
        assert visible(char) in out and visible(char) != char


def test_values_keys_and_depth() -> None:
    value = {"k\x1b": ["\x1b[2J", {"n": 1, "s": "\u202e"}], "t": None}
    assert visible_value(value) == {"k␛": ["␛[2J", {"n": 1, "s": "⟨U+202E⟩"}], "t": None}
    deep: object = "\x1b"
    for _ in range(300):
        deep = [deep]
    shown = visible_value(deep)
    for _ in range(200):
        assert isinstance(shown, list)
        shown = shown[0]
    assert shown == "⟨nested deeper than 200 levels⟩"


def test_log_lines_are_visible() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(VisibleFormatter("%(message)s"))
    log = logging.getLogger("test_display.visible")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("peer %s sent %r", "\x1b]0;owned\x07", "x")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue() == "peer ␛]0;owned␇ sent 'x'\n"


def test_visible_logging_formats_the_last_resort_handler() -> None:
    """What ``serve``, ``attach``, ``watch`` and ``replay`` log with nothing configured goes through it."""
    handler = logging.lastResort
    assert handler is not None
    old = handler.formatter
    try:
        visible_logging()
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "source %s failed", ("\x1b]52;c;eA==\x07",),
                                   None)
        assert handler.format(record) == "source ␛]52;c;eA==␇ failed"
    finally:
        handler.setFormatter(old)


def test_the_cli_prints_a_hostile_path_as_text(tmp_path: Path) -> None:
    """A file name is data too: ``replay`` and ``hooks status`` say it escaped."""
    home = tmp_path / "home\x1b]0;OWNED\x07\x9b2J"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    cli = [str(Path(sys.executable).parent / "watchkeeper")]
    replay = subprocess.run([*cli, "replay", str(home / "gone\x1b[2J.jsonl")], capture_output=True, env=env,
                            timeout=60)
    status = subprocess.run([*cli, "hooks", "status"], capture_output=True, env=env, timeout=60)
    for out in (replay.stderr, status.stdout):
        text = out.decode()
        assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
        assert "home␛]0;OWNED␇⟨U+009B⟩2J" in text
    assert "gone␛[2J.jsonl" in replay.stderr.decode()
