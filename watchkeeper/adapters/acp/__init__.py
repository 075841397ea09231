"""ACP (Agent Client Protocol) agents driven and steered with watchkeeper as their client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The ACP sessions this process drives. claude-agent-acp runs Claude Code under the ACP session's id,
#: and Claude Code writes its transcript under that id: read as well, each message, call and token
#: would count twice, so discovery leaves such a transcript to the ACP session.
OWNED: set[str] = set()


def owned(path: Path) -> bool:
    """``path`` is the transcript of an ACP session this process drives."""
    return path.stem in OWNED


def transcripts_to(relay: Any) -> Callable[[Path], None]:
    """Discovery's callback: each new transcript becomes a source of ``relay``, unless an ACP session owns it."""
    from ..files.source import TranscriptSource

    def found(path: Path) -> None:
        if not owned(path):
            relay.add_source(TranscriptSource(path))

    return found
