"""Shared fixtures: where the real samples and the real agent CLIs are.

Tests that drive an agent CLI skip when it is not installed (`make agents`
installs it), except under WATCHKEEPER_REQUIRE_AGENTS=1, which CI sets: there a
missing CLI fails the run instead of hiding it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The websocket fixtures (``served``, ``run``) shared by the remote and SDK tests.
pytest_plugins = ["remote_support"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"
SAMPLE_LOGS = ROOT / "watchkeeper" / "demo" / "sample_logs"
AGENTS = ROOT / "tools" / "agents" / "node_modules"

CLAUDE_VERSIONS = ("2.1.197", "2.1.332")


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
    path = AGENTS / ".bin" / "ccusage"
    if not path.exists():
        _missing("ccusage")
    return path


@pytest.fixture
def samples() -> Path:
    """The real transcripts in ../shared/samples (read-only; never edit them)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"real samples not found at {SAMPLES} (they live beside the repo, in shared/)")
    return SAMPLES
