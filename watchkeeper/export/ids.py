"""Trace and span ids derived from stable names, so an export repeated (or resumed) sends the same ids.

A backend that receives a span twice keeps one (or shows two with one id,
which is plainly a repeat), never two unrelated traces of one session.
"""

from __future__ import annotations

import hashlib


def _digest(text: str, size: int) -> int:
    n = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).digest(), "big")
    return n or 1


def trace_id(session: str) -> int:
    """The 128-bit trace id of a session (never 0, which OTLP reads as invalid)."""
    return _digest(f"watchkeeper-trace:{session}", 16)


def span_id(session: str, key: str) -> int:
    """The 64-bit id of a span: its session and a stable key (an event's, a call's or an agent's id)."""
    return _digest(f"watchkeeper-span:{session}:{key}", 8)


def agent_span_id(session: str, agent: str) -> int:
    """The ``invoke_agent`` span of the session's main agent (``main``) or of one subagent."""
    return span_id(session, f"agent:{agent}")


def tool_span_id(session: str, call_id: str) -> int:
    """The ``execute_tool`` span of one call: a subagent's span finds its parent by the call id alone."""
    return span_id(session, f"tool:{call_id}")


def chat_span_id(session: str, key: str) -> int:
    """The ``chat`` span of one model call, by its message id (or its usage event's id when it has none)."""
    return span_id(session, f"chat:{key}")
