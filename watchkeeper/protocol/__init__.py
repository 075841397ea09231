"""Protocol v1: events, controls, capabilities, the session profile. Pure data, no I/O.

What every layer shares: the event envelope and its payload types, the codec
and its bounds, the controls table, the one fold of a session's state (and of
its tool calls and usage), the websocket wire messages, the loopback check,
and ``display`` (data made safe to show on a terminal).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .bounds import MAX_EVENT_BYTES, encode_lines, fit, json_text
from .codec import (
    ProtocolError,
    decode_native_line,
    dumps,
    encode_line,
    loads,
    raw_event,
    validate_control,
    validate_event,
)
from .envelope import Emit, Event, content_id, make_event, now_iso
from .kinds import MAIN_AGENT, PROTOCOL_VERSION, ControlKind, Kind, State, ToolStatus

if TYPE_CHECKING:
    from .calls import CallTable, ToolCall
    from .models import Capabilities, ControlModel, EventModel, Isolation, Profile
    from .schema import json_schema

    OBSERVE_ONLY: Capabilities

#: Names whose modules build pydantic models (~55 ms): loaded on first use, so that what only
#: converts and encodes events (``watchkeeper events``) starts without them.
_LAZY = {
    "CallTable": "calls", "ToolCall": "calls",
    "Capabilities": "models", "ControlModel": "models", "EventModel": "models", "Isolation": "models",
    "Profile": "models", "json_schema": "schema",
}


def __getattr__(name: str) -> Any:
    if name == "OBSERVE_ONLY":
        from .models import Capabilities

        value: Any = Capabilities(why="observe-only: a transcript can be watched, not steered")
    elif name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "MAIN_AGENT",
    "MAX_EVENT_BYTES",
    "OBSERVE_ONLY",
    "PROTOCOL_VERSION",
    "CallTable",
    "Capabilities",
    "ControlKind",
    "ControlModel",
    "Emit",
    "Event",
    "EventModel",
    "Isolation",
    "Kind",
    "Profile",
    "ProtocolError",
    "State",
    "ToolCall",
    "ToolStatus",
    "content_id",
    "decode_native_line",
    "dumps",
    "encode_line",
    "encode_lines",
    "fit",
    "json_schema",
    "json_text",
    "loads",
    "make_event",
    "now_iso",
    "raw_event",
    "validate_control",
    "validate_event",
]
