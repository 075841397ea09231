"""What the person narrowed the timeline to, and the text a search looks in.

Pure and Textual-free, beside :mod:`~.timeline_store`, which applies a
:class:`Filter` as rows arrive and when it builds a view.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from ...protocol import Event, ToolCall, json_text
from . import rows

#: Kinds hidden until asked for: their totals are in the status bar.
QUIET: frozenset[str] = frozenset({"usage", "state"})


@dataclass(frozen=True, slots=True)
class Filter:
    """What the person narrowed the timeline to; all conditions must hold.

    ``hide``: kinds (row labels) left out, whatever else is asked, unless ``kind`` names one.
    It is a preference, not a narrowing: it does not make the filter ``active``.
    """

    errors: bool = False
    tool: str | None = None
    agent: str | None = None
    kind: str | None = None
    text: str = ""
    hide: frozenset[str] = QUIET

    @property
    def active(self) -> bool:
        return bool(self.errors or self.tool or self.agent or self.kind or self.text)

    def hides(self, label: str) -> bool:
        return label in self.hide and label != self.kind

    def cleared(self) -> Filter:
        """No narrowing; the hidden kinds stay hidden."""
        return Filter(hide=self.hide)

    def describe(self) -> str:
        parts = ["errors only"] if self.errors else []
        named = (("tool", self.tool), ("agent", self.agent), ("kind", self.kind))
        parts += [f"{k}={v}" for k, v in named if v]
        if self.text:
            parts.append(f"/{self.text}")
        return " · ".join(parts)

    def with_(self, **changes: Any) -> Filter:
        return replace(self, **changes)


def search_text(event: Event, call: ToolCall | None) -> str:
    """What a search matches, lower-cased: kind, agent, tool name, input, text output."""
    parts = [rows.KIND_LABELS.get(event.get("kind", ""), event.get("kind", "")), event.get("agent", "")]
    if call is not None:
        parts.append(call.name or "")
        if call.input is not None:
            parts.append(call.input if isinstance(call.input, str) else _json(call.input))
        if isinstance(call.output, str):
            parts.append(call.output[:20_000])
        elif call.output is not None:
            parts.append(_json(call.output)[:20_000])
    else:
        data = event.get("data")
        if isinstance(data, dict):
            text = data.get("text")
            parts.append(text[:20_000] if isinstance(text, str) else _json(data)[:20_000])
    return "\n".join(parts).lower()


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return json_text(value, 20_000)
