"""A Claude Code converter's per-record state, kept in flat buffers, must answer exactly as dicts and sets did.

The uuid tree (``tree.py``), the usage ledger (``usage.py``) and their ``keys.KeyTable`` hold
something of every record for the converter's whole life; they are compact so that a 1 GB
transcript's converters fit in memory. Checked here: against the dict-based tree they replace
(``ReferenceTree``, the previous implementation) on random histories with copies, rewinds,
parents named before their records and uuids of any shape; through the converter after
thousands of records (a copy still yields nothing, a rewind still names its abandoned records
and calls, a message's usage revised much later is still counted once); and that a converter is
freed by reference counting alone (a backing cursor's converter was kept for good once frozen).
"""

from __future__ import annotations

import gc
import random
import uuid as uuidlib
import weakref
from pathlib import Path
from typing import Any

import orjson
import pytest
from huge_support import SESSION, grow, sample_session
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.adapters.claude_code.converter import ClaudeCodeConverter
from watchkeeper.adapters.claude_code.keys import KeyTable
from watchkeeper.adapters.claude_code.tree import Tree
from watchkeeper.adapters.claude_code.usage import UsageLedger
from watchkeeper.adapters.files.backing import TranscriptBacking
from watchkeeper.adapters.files.feed import convert_file, open_converter
from watchkeeper.protocol import fit


class ReferenceTree:
    """The tree as it was: uuid strings in a dict and a set, children in lists."""

    def __init__(self) -> None:
        self.parents: dict[str, str | None] = {}
        self.conversation: set[str] = set()
        self.children: dict[str, list[str]] | None = None
        self.abandoned: set[str] = set()
        self.last: str | None = None
        self.previous: str | None = None

    def add(self, uuid: str, parent: str | None, conversation: bool) -> bool:
        if uuid in self.parents:
            return False
        self.parents[uuid] = parent
        self.previous, self.last = self.last, uuid
        if conversation:
            self.conversation.add(uuid)
        if self.children is not None and parent is not None:
            self.children.setdefault(parent, []).append(uuid)
        return True

    def rewound(self, prompt: str) -> tuple[str | None, list[str]]:
        parent = self.parents.get(prompt)
        if parent is None or parent == self.previous:
            return None, []
        if self.children is None:
            self.children = {}
            for uuid, up in self.parents.items():
                if up is not None:
                    self.children.setdefault(up, []).append(uuid)
        abandoned: list[str] = []
        for sibling in self.children.get(parent, ()):
            if sibling == prompt or sibling in self.abandoned:
                continue
            branch, stack = [], [sibling]
            while stack:
                node = stack.pop()
                branch.append(node)
                stack.extend(reversed(self.children.get(node, ())))
            if any(u in self.conversation for u in branch):
                abandoned.extend(branch)
        self.abandoned.update(abandoned)
        return (parent if abandoned else None), abandoned


def _uuid(rnd: random.Random) -> str:
    shape = rnd.random()
    if shape < 0.05:
        return f"u{rnd.randrange(10**6)}"  # not a uuid at all
    if shape < 0.08:
        return "é" + str(uuidlib.UUID(int=rnd.getrandbits(128)))[1:]  # 36 characters, 37 bytes
    if shape < 0.10:
        return f"aaaaaaaa-0000-0000-0000-{rnd.randrange(16**12):012x}"
    return str(uuidlib.UUID(int=rnd.getrandbits(128), version=4))


def _compare(seed: int, n: int, expected: int = 0) -> int:
    """Feed both trees the same random history (the flat one sized for ``expected`` records); return how
    many rewinds it had."""
    rnd = random.Random(seed)
    ref, tree = ReferenceTree(), Tree(expected)
    uuids: list[str] = []
    #: parents named before their records, with how many records there were then
    future: list[tuple[str, int]] = []
    came: list[str] = []
    rewinds = 0
    for _ in range(n):
        p = rnd.random()
        parent: str | None = None
        if uuids and rnd.random() < 0.03:
            u = rnd.choice(uuids)  # a copy
        elif future and rnd.random() < 0.05:
            u, before = future.pop()  # a parent named before, now a record
            came.append(u)
            p = 1.0  # its parent: a record older than any that named it, so no loop
            parent = rnd.choice(uuids[:before]) if before else None
        else:
            u = _uuid(rnd)
        if p < 0.6:
            parent = ref.last
        elif p < 0.75:
            parent = rnd.choice(uuids) if uuids else None
        elif p < 0.85:
            parent = rnd.choice(came) if came else None
        elif p < 0.9:
            parent = _uuid(rnd)
            future.append((parent, len(uuids)))
        conversation = rnd.random() < 0.5
        added = ref.add(u, parent, conversation)
        assert tree.add(u, parent, conversation) is added
        if added:
            uuids.append(u)
            if rnd.random() < 0.3:
                want = ref.rewound(u)
                fork, records = tree.rewound(u)
                assert (fork, [tree.uuid(r) for r in records]) == want
                rewinds += bool(want[1])
    assert len(tree) == len(ref.parents)
    assert [tree.uuid(r) for r in range(len(tree))] == list(ref.parents)
    return rewinds


@given(st.integers(0, 2**32), st.integers(1, 400))
@settings(max_examples=60, deadline=None)
def test_the_tree_answers_as_dicts_did(seed: int, n: int) -> None:
    _compare(seed, n)


def test_the_tree_answers_as_dicts_did_through_many_growths() -> None:
    assert _compare(17, 30_000) > 100


@pytest.mark.parametrize("expected", [1, 5_000, 100_000])
def test_a_tree_sized_up_front_answers_as_dicts_did(expected: int) -> None:
    """Sized from the file (fewer records than that, as many, or more): the same answers."""
    assert _compare(23, 12_000, expected) > 10


def test_a_parent_loop_does_not_hang_a_rewind() -> None:
    """Crafted parents that loop (a names b before b is a record, b names a): each record once."""
    tree = Tree()
    assert tree.add("root", None, True)
    assert tree.add("a", "b", True)
    assert tree.add("b", "a", True)
    assert tree.add("next", "root", True)
    assert tree.add("prompt", "root", False)
    fork, records = tree.rewound("prompt")
    assert fork == "root"
    assert [tree.uuid(r) for r in records] == ["next"]


def test_the_key_table_numbers_keys_exactly() -> None:
    rnd = random.Random(3)
    keys = ["", "é", "\ud800", "a" * 5000]
    keys += list({_uuid(rnd) for _ in range(20_000)})
    keys += [f"msg_{rnd.getrandbits(64):x}:req_{i}" for i in range(5_000)]
    table, sized = KeyTable(), KeyTable(len(keys) // 2)
    for i, key in enumerate(keys):
        assert table.add(key) == i
        assert sized.add(key) == i
    for i, key in enumerate(keys):
        assert table.add(key) == ~i
        assert table.find(key) == i
        assert table.key(i) == key
        assert sized.add(key) == ~i and sized.find(key) == i and sized.key(i) == key
    assert len(table) == len(keys) == len(sized)
    assert table.find("never added") == -1
    assert table.find(keys[7] + "x") == -1


def test_usage_counts_beyond_64_bits_stay_exact() -> None:
    ledger = UsageLedger()
    big = 2**64 - 1
    assert ledger.add("m:r", {"input_tokens": 5, "output_tokens": big}) == (0, [5, big, 0, 0, 0])
    assert ledger.add("m:r", {"input_tokens": 6, "output_tokens": big}) == (1, [1, 0, 0, 0, 0])
    assert ledger.add("m:r", {"input_tokens": 6, "output_tokens": big}) is None


# --- through the converter, after thousands of records ---------------------------------------------


def _assistant(uuid: str, parent: str | None, mid: str, usage: dict[str, int], content: list[Any]) -> bytes:
    return orjson.dumps({
        "type": "assistant", "uuid": uuid, "parentUuid": parent, "sessionId": SESSION, "requestId": f"req_{mid}",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "message": {"id": mid, "role": "assistant", "model": "claude-x", "content": content, "usage": usage},
    })


def _user(uuid: str, parent: str | None, text: str) -> bytes:
    return orjson.dumps({"type": "user", "uuid": uuid, "parentUuid": parent, "sessionId": SESSION,
                         "timestamp": "2026-01-01T00:00:00.000Z", "message": {"role": "user", "content": text}})


N = 5_000


def _history() -> tuple[list[bytes], list[str]]:
    """A prompt, then N answers in one chain, each its own message with usage; the first makes a tool call."""
    uuids = [str(uuidlib.UUID(int=i + 1, version=4)) for i in range(N + 1)]
    lines = [_user(uuids[0], None, "first prompt")]
    for i in range(1, N + 1):
        content: list[Any] = [{"type": "text", "text": f"answer {i}"}]
        if i == 2:
            content.append({"type": "tool_use", "id": "toolu_early", "name": "Bash", "input": {"command": "ls"}})
        lines.append(_assistant(uuids[i], uuids[i - 1], f"msg_{i}", {"input_tokens": i, "output_tokens": 1}, content))
    return lines, uuids


def _feed(conv: ClaudeCodeConverter, lines: list[bytes]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        out += conv.feed(line, i)  # type: ignore[arg-type]
    return out


def test_a_copy_after_thousands_of_records_yields_nothing() -> None:
    lines, _ = _history()
    conv = ClaudeCodeConverter()
    _feed(conv, lines)
    assert _feed(conv, [lines[1], lines[2]]) == []
    assert _feed(conv, [_user(str(uuidlib.UUID(int=10**9, version=4)), None, "new")]) != []


def test_a_rewind_after_thousands_of_records_names_what_it_abandons() -> None:
    lines, uuids = _history()
    conv = ClaudeCodeConverter()
    _feed(conv, lines)
    prompt = str(uuidlib.UUID(int=10**9, version=4))
    events = _feed(conv, [_user(prompt, uuids[0], "edited first prompt")])
    rewind = next(e for e in events if e["kind"] == "notice" and e["data"]["code"] == "rewind")
    assert rewind["data"]["fork"] == uuids[0]
    assert rewind["data"]["abandoned"] == uuids[1:]
    assert rewind["data"]["abandoned_calls"] == ["toolu_early"]


def test_a_message_revised_thousands_of_records_later_counts_once() -> None:
    lines, uuids = _history()
    conv = ClaudeCodeConverter()
    _feed(conv, lines)
    later = _assistant(str(uuidlib.UUID(int=10**9, version=4)), uuids[-1], "msg_3",
                       {"input_tokens": 3, "output_tokens": 40}, [])
    usage = [e for e in _feed(conv, [later]) if e["kind"] == "usage"]
    assert [(e["id"], e["data"]["output_tokens"], e["data"]["input_tokens"]) for e in usage] == [
        ("cc:usage:msg_3:req_msg_3:1", 39, 0)]


def test_a_converter_is_freed_by_reference_counting() -> None:
    lines, _ = _history()
    conv = ClaudeCodeConverter()
    _feed(conv, lines[:200])
    ref = weakref.ref(conv)
    gc.disable()
    try:
        del conv
        assert ref() is None, "a converter is in a reference cycle: once frozen by retention it is never freed"
    finally:
        gc.enable()


def test_a_backing_cursor_frees_its_converter_when_it_read_to_the_end(tmp_path: Path) -> None:
    """``retention`` freezes everything alive now and then; a cursor dropped later must still go."""
    path = tmp_path / "-proj" / f"{SESSION}.jsonl"
    path.parent.mkdir()
    grow(path, sample_session(), 2 << 20)
    backing = TranscriptBacking(path, SESSION)
    data = path.read_bytes()
    conv, at = open_converter(path, data[:data.index(b"\n")]), 0
    for line in data.splitlines(keepends=True):
        for ev in conv.feed(line.rstrip(b"\n"), at):
            if ev.get("session") == SESSION:
                backing.keep(at, fit(ev))
        at += len(line)
    backing.indexed(at)
    expected = [e for e in convert_file(path) if e.get("session") == SESSION]
    assert len(backing) == len(expected) > 300
    head = backing.read(0, 50)
    cursor = backing._cursors[0].converter
    assert cursor is not None
    ref = weakref.ref(cursor)
    del cursor
    gc.collect()
    gc.freeze()
    try:
        rest = backing.read(50, len(backing))
        assert head is not None and rest is not None
        assert [orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in head + rest] == [
            orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in expected]
        assert backing._cursors == []
        assert ref() is None, "the cursor's converter outlived the cursor"
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("n", [1, 3])
def test_rewinds_through_the_converter_match_the_reference(n: int) -> None:
    """Converted events name the same rewinds as the reference tree finds for the same records."""
    rnd = random.Random(n)
    lines: list[bytes] = []
    ref = ReferenceTree()
    uuids: list[str] = []
    expected: list[tuple[str | None, list[str]]] = []
    for i in range(2_000):
        u = str(uuidlib.UUID(int=rnd.getrandbits(128), version=4))
        parent = rnd.choice(uuids) if uuids and rnd.random() < 0.05 * n else (uuids[-1] if uuids else None)
        if i % 3 == 0:
            lines.append(_user(u, parent, f"prompt {i}"))
            ref.add(u, parent, True)
            want = ref.rewound(u)
            if want[1]:
                expected.append(want)
        else:
            lines.append(_assistant(u, parent, f"msg_{i}", {"input_tokens": 1}, [{"type": "text", "text": "ok"}]))
            ref.add(u, parent, True)
        uuids.append(u)
    got = [(e["data"]["fork"], e["data"]["abandoned"]) for e in _feed(ClaudeCodeConverter(), lines)
           if e["kind"] == "notice" and e["data"]["code"] == "rewind"]
    assert got == expected and len(got) > 5
