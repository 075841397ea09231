"""Codex CLI rollouts (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``) as protocol events.

``converter`` keeps a thread's state and builds the events; ``records`` says
what each record type means; ``tools``, ``text``, ``usage`` and ``session``
read tool calls, texts, token counts and the facts of ``session.started``.
"""

from __future__ import annotations

from .converter import CodexConverter

__all__ = ["CodexConverter"]
