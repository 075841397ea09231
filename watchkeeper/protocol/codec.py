"""Bytes to events and back: the JSON-lines codec, and validation at trust boundaries.

The pydantic models are imported by the validating functions only: encoding and
``raw_event`` are what a one-shot conversion (``watchkeeper events``) needs, and
building the models costs it ~55 ms of start-up.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import orjson

from .bounds import encode
from .envelope import Event, content_id, make_event
from .kinds import Kind

if TYPE_CHECKING:
    from pydantic import ValidationError

    from .models import ControlModel

dumps = orjson.dumps
loads = orjson.loads


class ProtocolError(ValueError):
    """A message that is not a valid protocol message; ``str()`` says why, for the sender."""


def finite(value: Any) -> float | None:
    """A JSON number as a finite float; None for anything else (a bool, text, NaN, infinity, or an integer
    too big for a float, which ``json`` parses and ``float()`` refuses)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    return None


def encode_line(event: Event | dict[str, Any]) -> bytes:
    """One JSON line; never raises (an event that cannot be written as it is comes out cut and marked)."""
    return encode(event)


#: What an editor may write before a file's first line; the readers skip it there.
BOM = b"\xef\xbb\xbf"


def reparse(data: bytes | str, error: orjson.JSONDecodeError) -> Any:
    """Parse again what orjson refused for lone surrogate escapes (a JavaScript string cut mid-pair).

    The standard library keeps them; the relay's intake (``bounds.fit``) then shows them as visible
    escapes, so the record is kept with its meaning instead of becoming ``raw`` text. Called only on
    the failure path (the hot path stays orjson); raises ``error`` again for anything else.
    """
    if "surrogate" not in str(error):
        raise error
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise error from None


def as_text(value: Any) -> str | None:
    """A field the format says is a string: itself, None if absent, else its JSON text. A list or an
    object where a name or an id belongs is then seen as written, instead of failing a lookup."""
    if value is None or type(value) is str:
        return value
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)


def json_object_text(value: Any) -> Any:
    """A value that is an object's JSON text, decoded (Codex arguments, old Claude Code tool input); else as is."""
    if isinstance(value, str) and value[:1] == "{":
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def validate_event(obj: Any) -> dict[str, Any]:
    """Check an event from an untrusted peer; return it unchanged, unknown kinds and fields included."""
    if not isinstance(obj, dict):
        raise ProtocolError("an event must be a JSON object")
    from pydantic import ValidationError

    from .models import EVENT_DATA, EventModel

    try:
        EventModel.model_validate(obj)
        data_model = EVENT_DATA.get(obj.get("kind", ""))
        if data_model is not None:
            data_model.model_validate(obj.get("data", {}))
    except ValidationError as e:
        raise ProtocolError(_brief(e)) from None
    return obj


def validate_control(obj: Any) -> ControlModel:
    if not isinstance(obj, dict):
        raise ProtocolError("a control must be a JSON object")
    from pydantic import ValidationError

    from .models import ControlModel

    try:
        return ControlModel.model_validate(obj)
    except ValidationError as e:
        raise ProtocolError(_brief(e)) from None


def raw_event(session: str, line: bytes | str, error: str | None, source: str | None = None,
              ts: str | None = None, agent: str = "main") -> Event:
    """Keep a record nothing understood, whole: nothing read is ever dropped."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    record: Any
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        record = text
    return make_event(
        f"raw:{session}:{content_id(text)}",
        session,
        Kind.RAW,
        {"record": record, "error": error, "source": source},
        ts=ts,
        agent=agent,
    )


def decode_native_line(line: bytes, session: str = "unknown", source: str | None = None) -> Event:
    """One line of a native ``.jsonl`` recording; anything that is not an event becomes ``raw``."""
    try:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            obj = reparse(line, e)
        return validate_event(obj)  # type: ignore[return-value]
    except orjson.JSONDecodeError as e:
        return raw_event(session, line, f"not JSON: {e}", source)
    except ProtocolError as e:
        return raw_event(session, line, f"not a protocol event: {e}", source)


def _brief(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = e.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
