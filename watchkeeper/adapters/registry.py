"""Which adapter reads a file: by path, then by sniffing its first line.

Kept as a table so later agents (Gemini, OpenHands, …) plug in by adding a
row; entry points can feed this table once third parties write adapters.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..protocol.codec import BOM
from .base import Converter


@dataclass(frozen=True)
class AdapterSpec:
    agent_kind: str
    #: "module:callable" returning a Converter for a path.
    factory: str
    #: Does this adapter read this file? Given the path and its first line.
    sniff: Callable[[Path, bytes], bool]

    def converter(self, path: Path) -> Converter:
        module_name, attr = self.factory.split(":")
        make = getattr(importlib.import_module(module_name), attr)
        return make(path)


def _is_native(path: Path, first: bytes) -> bool:
    return first.startswith(b"{") and b'"v":1' in first.replace(b" ", b"") and b'"kind"' in first


def _is_codex(path: Path, first: bytes) -> bool:
    return path.name.startswith("rollout-") or b'"type":"session_meta"' in first.replace(b" ", b"")


#: Keys of a Claude Code record, one of which its first line has (a record's, a summary's, a snapshot's).
_CLAUDE_KEYS = (b'"parentUuid"', b'"sessionId"', b'"leafUuid"', b'"isSidechain"', b'"messageId"')
#: Record types a Claude Code session can start with.
_CLAUDE_TYPES = (b"summary", b"user", b"assistant", b"system", b"file-history-snapshot", b"queue-operation",
                 b"progress", b"attachment", b"last-prompt", b"custom-title")


def _is_claude_code(path: Path, first: bytes) -> bool:
    """A ``.jsonl`` whose first line is a Claude Code record; any other ``.jsonl`` is no agent's."""
    if path.suffix != ".jsonl" or not first.lstrip().startswith(b"{"):
        return False
    compact = first.replace(b" ", b"")
    return any(k in compact for k in _CLAUDE_KEYS) or any(b'"type":"' + t + b'"' in compact for t in _CLAUDE_TYPES)


#: Most specific first.
ADAPTERS: list[AdapterSpec] = [
    AdapterSpec("native", "watchkeeper.adapters.native:NativeConverter", _is_native),
    AdapterSpec("codex", "watchkeeper.adapters.codex:CodexConverter", _is_codex),
    AdapterSpec("claude-code", "watchkeeper.adapters.claude_code:ClaudeCodeConverter", _is_claude_code),
]


def detect(path: Path, first_line: bytes | None = None) -> AdapterSpec | None:
    if first_line is None:
        try:
            with path.open("rb") as f:
                first_line = f.readline(65536)
        except OSError:
            first_line = b""
    first_line = first_line.removeprefix(BOM)
    for spec in ADAPTERS:
        if spec.sniff(path, first_line):
            return spec
    return None
