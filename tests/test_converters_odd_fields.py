"""Every field of every record in the repository's transcripts, made a list and then an object.

A name, an id, a type or a status used as a key failed with "unhashable type" and the
record became a "converter error"; a field read into a typed payload (a session's
cwd) made ``finish`` raise. Now each such record still converts, in the context of
the lines before it, to events a peer would accept (``validate_event``): the odd
value shown as its JSON text, or a raw event saying what was odd. For Claude Code
a record that gave events still gives some (nothing vanishes); Codex writes most
things twice (the model's record and the UI's copy) and drops a copy it cannot read.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import claude_transcripts, codex_rollouts

from watchkeeper.adapters.claude_code import ClaudeCodeConverter
from watchkeeper.adapters.codex.converter import CodexConverter
from watchkeeper.protocol import validate_event

ODD_VALUES = (["x"], {"odd": 1})


def fields(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value in a record, containers included."""
    if path:
        yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from fields(child, (*path, key))


def with_value(rec: dict[str, Any], path: tuple[Any, ...], value: Any) -> bytes:
    changed = orjson.loads(orjson.dumps(rec))
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return orjson.dumps(changed)


@pytest.mark.parametrize(("make", "files", "kept"), [
    (ClaudeCodeConverter, claude_transcripts(), True),
    (CodexConverter, codex_rollouts(), False),
], ids=["claude-code", "codex"])
def test_a_list_or_an_object_in_place_of_any_field_is_shown_never_a_converter_error(
        make: Callable[[Path], Any], files: list[Path], kept: bool) -> None:
    tried = 0
    for path in files:
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        conv = make(path)
        for offset, line in enumerate(lines):
            rec = orjson.loads(line)
            before = copy.deepcopy(conv)
            gave = conv.feed(line, offset)
            if type(rec) is not dict:
                continue
            for where in fields(rec):
                for odd in ODD_VALUES:
                    other = copy.deepcopy(before)
                    # finish: an odd session id holds the first lines back until the file ends.
                    events = other.feed(with_value(rec, where, odd), offset) + other.finish()
                    tried += 1
                    for event in events:
                        validate_event(event)
                    errors = [str(e["data"].get("error")) for e in events if e["kind"] == "raw"]
                    assert not [e for e in errors if e.startswith(("converter error", "adapter error"))], \
                        (path.name, where, errors)
                    assert events or not gave or not kept, (path.name, where)
    assert tried > 3000
