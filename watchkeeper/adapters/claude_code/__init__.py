"""Claude Code: its transcripts (``~/.claude/projects/**.jsonl``) and its hooks.

``ClaudeCodeConverter(path)`` reads one transcript file (a session's, or one
subagent's); ``subagent_files(path)`` lists the subagent files that belong to
a session file. ``hooks`` turns hook payloads into events and decisions into
replies, ``steering`` is the per-session hold/approve state machine the
relay's hook server drives, and ``settings`` edits a settings file to install
the hooks.
"""

from __future__ import annotations

from .converter import ClaudeCodeConverter
from .subagents import subagent_files

__all__ = ["ClaudeCodeConverter", "subagent_files"]
