"""The hand-made fixtures keep their header: tests/fixtures/README.md names every file and says what it reproduces."""

from __future__ import annotations

import json
import re

from conftest import CC_FIXTURES, CODEX_FIXTURES, FIXTURES

ROW = re.compile(r"^\| `([^`]+)`", re.MULTILINE)


def test_every_fixture_file_is_described_in_the_readme() -> None:
    readme = (FIXTURES / "README.md").read_text()
    described = ROW.findall(readme)
    prefixes = [d.split("…")[0].rsplit("/", 1)[0] + "/" for d in described]  # one row per directory
    files = [p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "README.md"]
    assert files
    for path in files:
        root = CC_FIXTURES if CC_FIXTURES in path.parents else CODEX_FIXTURES
        rel = path.relative_to(root).as_posix()
        assert any(rel.startswith(p) for p in prefixes), f"{rel} has no row in tests/fixtures/README.md"
    for prefix in prefixes:
        assert any(p.relative_to(r).as_posix().startswith(prefix) for r in (CC_FIXTURES, CODEX_FIXTURES)
                   for p in r.rglob("*") if p.is_file()), f"README row {prefix!r} names no file"


def test_every_fixture_line_is_one_json_object() -> None:
    for path in FIXTURES.rglob("*.jsonl"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            assert isinstance(json.loads(line), dict), f"{path.name}:{n}"
