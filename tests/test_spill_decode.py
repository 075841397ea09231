"""Spilled lines are decoded as one JSON array, and line by line when they are not one event a line; a block
read from the spill file whole decodes the same."""

from __future__ import annotations

import orjson
import pytest

from watchkeeper.relay.spill_lines import decode as _decode
from watchkeeper.relay.spill_lines import decode_block


def test_lines_decode_to_one_event_each() -> None:
    events = [{"seq": i, "kind": "message.user", "data": {"text": f"a,b\n{i}]"}} for i in range(5)]
    assert _decode([orjson.dumps(e) for e in events]) == events
    assert _decode([]) == []


def test_a_line_that_is_not_one_event_is_not_hidden_by_its_neighbours() -> None:
    # Joined, these two read as three values: each line alone is what decides.
    with pytest.raises(orjson.JSONDecodeError):
        _decode([b'{"seq":0},{"seq":1}', b'{"seq":2}'])
    with pytest.raises(orjson.JSONDecodeError):
        _decode([b'[{"seq":0}', b'{"seq":1}]'])
    assert _decode([b"1", b'{"seq":1}']) == [1, {"seq": 1}], "a line that is JSON but no event, as before"


def test_a_block_of_lines_decodes_as_its_lines_do() -> None:
    events = [{"seq": i, "kind": "message.user", "data": {"text": f"a,b\n{i}]"}} for i in range(5)]
    block = b"".join(orjson.dumps(e) + b"\n" for e in events)
    assert decode_block(block, 5) == events
    assert decode_block(b"", 0) == []
    with pytest.raises(orjson.JSONDecodeError):
        decode_block(b'{"seq":0},{"seq":1}\n{"seq":2}\n', 2)
    with pytest.raises(orjson.JSONDecodeError):
        decode_block(b'[{"seq":0}\n{"seq":1}]\n', 2)
    assert decode_block(b'1\n{"seq":1}\n', 2) == [1, {"seq": 1}], "a line that is JSON but no event, as before"
