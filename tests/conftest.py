"""Shared fixtures: where the recordings, the hand-made fixtures, the corpus and the real agent CLIs are.

Tests that drive an agent CLI skip when it is not installed (`make agents`
installs it), except under WATCHKEEPER_REQUIRE_AGENTS=1, which CI sets: there a
missing CLI fails the run instead of hiding it.

The core suite reads only files inside the repository: the recordings the real
CLIs wrote (``SAMPLE_LOGS``) and the hand-made records of older formats
(``FIXTURES``, described in tests/fixtures/README.md). The corpus of real
transcripts beside the repository is an extra suite, marked ``corpus``
(`make test-corpus`); only its tests take the ``samples`` fixture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The websocket fixtures (``served``, ``run``) shared by the remote and SDK tests.
pytest_plugins = ["remote_support", "fleet_support"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LOGS = ROOT / "watchkeeper" / "demo" / "sample_logs"
FIXTURES = ROOT / "tests" / "fixtures"
#: Laid out as ~/.claude/projects and ~/.codex/sessions are, so discovery can be pointed at them.
CC_FIXTURES = FIXTURES / "claude-code" / "projects"
CODEX_FIXTURES = FIXTURES / "codex" / "sessions"
PINNED_AGENTS = ROOT / "tools" / "agents" / "node_modules"
#: Where the Claude Code and Codex CLIs are: the pinned ones, or those `make canary` installs
#: (WATCHKEEPER_AGENTS_DIR, with the Claude Code versions in WATCHKEEPER_CLAUDE_VERSIONS).
AGENTS = Path(os.environ.get("WATCHKEEPER_AGENTS_DIR") or PINNED_AGENTS)

CLAUDE_VERSIONS = tuple(filter(None, os.environ.get("WATCHKEEPER_CLAUDE_VERSIONS", "").split(","))) or (
    "2.1.197", "2.1.332")


def _missing(what: str) -> None:
    if os.environ.get("WATCHKEEPER_REQUIRE_AGENTS") == "1":
        pytest.fail(f"{what} is required here (WATCHKEEPER_REQUIRE_AGENTS=1); run `make agents`")
    pytest.skip(f"{what} not installed; `make agents` installs it")


def claude_binary(version: str) -> Path:
    path = AGENTS / f"claude-code-{version}" / "bin" / "claude.exe"
    if not path.exists():
        _missing(f"Claude Code CLI {version}")
    return path


def codex_binary() -> Path:
    path = AGENTS / ".bin" / "codex"
    if not path.exists():
        _missing("Codex CLI")
    return path


def ccusage_binary() -> Path:
    path = PINNED_AGENTS / ".bin" / "ccusage"
    if not path.exists():
        _missing("ccusage")
    return path


def claude_transcripts() -> list[Path]:
    """Every Claude Code transcript in the repository: the real CLI's recording and the hand-made ones."""
    return sorted(CC_FIXTURES.rglob("*.jsonl")) + sorted((SAMPLE_LOGS / "claude-code").rglob("*.jsonl"))


def codex_rollouts() -> list[Path]:
    return sorted(CODEX_FIXTURES.rglob("*.jsonl")) + sorted((SAMPLE_LOGS / "codex").glob("*.jsonl"))


@pytest.fixture
def samples() -> Path:
    """The corpus of real transcripts (read-only; never edit them). Corpus-suite tests only.

    Missing, the test skips, except where CI is set: there the corpus suite is required.
    """
    given = os.environ.get("WATCHKEEPER_CORPUS")
    corpus = Path(given) if given else None
    if corpus is None or not corpus.is_dir():
        message = (f"the transcript corpus is not at {given}" if given else
                   "no transcript corpus given (`make test-corpus` passes it as WATCHKEEPER_CORPUS)")
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(message + "; CI requires the corpus suite")
        pytest.skip(message)
    return corpus


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads the corpus must say so (``corpus``), so that the core suite never needs it."""
    unmarked = [item.nodeid for item in items
                if "samples" in getattr(item, "fixturenames", ()) and item.get_closest_marker("corpus") is None]
    if unmarked:
        raise pytest.UsageError("tests that take the `samples` fixture must be marked `corpus`: " + ", ".join(unmarked))
