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


def watch_disk(relay: Any, roots: list[Path]) -> None:
    """The sessions on disk, as ``watchkeeper`` finds them, except the ACP sessions' own transcripts."""
    import time

    from ..files.discovery import find_sessions
    from ..files.source import DirectorySource, TranscriptSource

    now = time.time()
    for path, mtime in find_sessions(roots)[:50]:
        relay.add_source(TranscriptSource(path, follow=now - mtime <= 24 * 3600))
    relay.add_source(DirectorySource(roots, transcripts_to(relay), existing=False))
