"""Hostile records for the robustness tests: a real Claude Code transcript with bad lines between good ones.

Deep nesting (orjson reads 1,024 levels but writes only 254), a record of tens of MB, invalid UTF-8
and NUL bytes, each between good records whose events must all come through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_viewer_support import ClaudeTranscript

SESSION = "33333333-2222-4333-8444-555555555555"
#: Deeper than orjson writes (254), not deeper than it reads (1,024).
DEPTH = 1000
FIRST = "first good prompt"
LAST = "last good prompt, after the hostile ones"
#: A prompt with a lone surrogate (a JavaScript string cut mid-pair), written as its JSON escape.
CUT_PAIR = "cut mid pair \ud83d here"
#: A character that starts the big prompt, so its kept part is recognisable.
BIG = "B"


def deep_json(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


def deep_value(depth: int = DEPTH) -> Any:
    """The same nesting as a Python value (built without recursion, as orjson.loads would give it)."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def with_deep(record: dict[str, Any], depth: int = DEPTH) -> str:
    """``record`` as a JSON line with the string ``"@DEEP@"`` replaced by nesting ``depth`` levels deep."""
    return json.dumps(record).replace('"@DEEP@"', deep_json(depth))


def hostile_transcript(path: Path, big_mb: float = 20) -> ClaudeTranscript:
    """Good records with, between them: a deep unknown record, a tool call with a deep input, a prompt of
    ``big_mb`` MB, a line of invalid UTF-8, a line with a raw NUL byte, a prompt with an escaped NUL and one
    with a lone surrogate escape."""
    t = ClaudeTranscript(path, session=SESSION)
    t.write(t.prompt(FIRST))
    t.write(with_deep({"type": "from-the-future", "sessionId": SESSION, "x": "@DEEP@"}))
    t.bash_call(1)
    t.write(with_deep(t.tool_use("toolu_deep", "Bash", {"command": "echo deep", "extra": "@DEEP@"})),
            t.tool_result("toolu_deep", "deep done"))
    t.write(t.prompt(BIG * int(big_mb * 2**20)))
    with path.open("ab") as f:
        f.write(b'{"type": "user", "bad": "\xc3\x28 not utf-8 \xff"}\n')
        f.write(b'{"type": "user", "nul": "raw \x00 byte"}\n')
    t.write(t.prompt("escaped \u0000 nul in a prompt"), t.prompt(CUT_PAIR))
    t.bash_call(2)
    t.write(t.prompt(LAST))
    return t
