"""Every event can be encoded and is bounded: the ones that are not are cut, kept and marked.

orjson reads JSON nested 1,024 levels deep but writes only 254, a record may
be tens of MB, and an in-process source may put anything in a dict (a lone
surrogate, a 100-bit integer). Such an event would crash every path that
writes it (``events``, a recording, a websocket frame) and take the good
events of the same batch along. :func:`fit` runs where events enter the relay
and the SDK: one ``orjson.dumps`` per event (about 0.4 µs; a twentieth of
converting the record), and only an event that fails it is walked and cut.
The output paths keep :func:`encode` as their last resort.

A cut event keeps its envelope (id, kind, session, ...) and its shape: long
strings are shortened with a visible marker, containers nested deeper than
:data:`MAX_DEPTH` are kept as their JSON text, and ``data.truncated`` says how
many characters were cut (``truncated_reason`` says why). An event that
cannot be made to fit that way becomes ``raw`` with a text preview.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from .envelope import Event

#: An event's encoded size limit; under the websocket frame sizes with room for the frame around it.
MAX_EVENT_BYTES = 4 * 2**20
#: Containers nested deeper than this (counted from the event) are kept as JSON text.
MAX_DEPTH = 96
#: How much JSON text a too-deep container keeps.
SPILL_CHARS = 64 * 1024
#: An event that still does not fit becomes ``raw`` with a preview this long.
PREVIEW_CHARS = 256 * 1024
#: Envelope strings (id, session, ...) longer than this are cut too.
ENVELOPE_CHARS = 4096
#: Past this many values the cut gives up on the event's shape and keeps a preview (bounds its time).
MAX_NODES = 200_000
#: Levels an event is wrapped in when it is sent ({"events": [event]}: a frame, a range reply).
_WRAP = 2
_dumps = orjson.dumps
_CORE = ("id", "ts", "session", "agent", "kind", "epoch")
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def fit(event: Event, limit: int = MAX_EVENT_BYTES) -> Event:
    """``event`` itself if it encodes within ``limit`` bytes, even when sent in a frame; else a cut copy.

    The hot path: one ``orjson.dumps`` (of the event in two lists, as deep as a frame puts it).
    """
    try:
        if len(_dumps([[event]])) <= limit + 2 * _WRAP:
            return event
    except TypeError as e:
        return cut(event, f"not encodable: {e}", limit)
    return cut(event, "over the size limit", limit)


def sized(event: Event, limit: int = MAX_EVENT_BYTES) -> tuple[Event, int]:
    """:func:`fit`, and the fitted event's encoded size from the same ``orjson.dumps``: what the relay's
    memory bound in bytes counts (``relay/spill.py``), with no second encode."""
    try:
        n = len(_dumps([[event]])) - 2 * _WRAP
        if n <= limit:
            return event, n
        event = cut(event, "over the size limit", limit)
    except TypeError as e:
        event = cut(event, f"not encodable: {e}", limit)
    return event, len(_dumps(event))


def encode(event: Any, limit: int = MAX_EVENT_BYTES, default: Any = None) -> bytes:
    """The event's JSON line (with the newline); never raises: an event that cannot be written is cut."""
    try:
        return orjson.dumps(event, default=default, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError as e:
        return orjson.dumps(cut(event, f"not encodable: {e}", limit), option=orjson.OPT_APPEND_NEWLINE)


def encode_lines(events: list[Any], default: Any = None) -> bytes:
    """Many events as JSON lines in one go; one that cannot be encoded is cut, the others written as they are."""
    opt = orjson.OPT_APPEND_NEWLINE
    try:
        return b"".join([orjson.dumps(e, default=default, option=opt) for e in events])
    except TypeError:
        return b"".join([encode(e, default=default) for e in events])


def json_text(value: Any, limit: int = SPILL_CHARS) -> str:
    """``value`` as compact JSON text of at most about ``limit`` characters; never raises."""
    try:
        text = orjson.dumps(value, default=str).decode()
    except TypeError:
        text, complete = _spill(value, limit)
        return text if complete else text + _MORE
    return text if len(text) <= limit else text[:limit] + _MORE


# --- the cut (rare: only events that failed fit) ---------------------------------------


_MORE = " …[cut]"


class _TooMany(Exception):
    pass


class _Cut:
    def __init__(self) -> None:
        self.chars = 0
        self.nodes = 0
        self.reasons: list[str] = []

    def note(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)


def cut(event: Any, why: str, limit: int = MAX_EVENT_BYTES) -> Event:
    """A copy of ``event`` that encodes within ``limit`` bytes, cut where it had to be, and marked."""
    if not isinstance(event, dict):
        event = {"data": {"record": event}}
    st = _Cut()
    st.note(why)
    head: dict[str, Any] = {}
    for key in _CORE:
        if key in event:
            value = event[key]
            head[key] = _clean(value if isinstance(value, str) else str(value), 1, ENVELOPE_CHARS, st)
    for key in ("v", "seq"):
        if isinstance(event.get(key), int) and not isinstance(event.get(key), bool):
            head[key] = event[key]
    rest = {str(k): v for k, v in event.items() if k not in head and k not in _CORE}
    data = rest.get("data")
    if not isinstance(data, dict):
        rest["data"] = {"value": data} if "data" in rest else {}
    try:
        body = _clean(rest, 1, None, st)
        size = len(orjson.dumps(body)) + len(orjson.dumps(head))
        cap = None
        for _ in range(8):
            if size <= limit - 256:
                break
            lengths = _lengths(body)
            cap = _cap(lengths, limit - 256 - (size - sum(lengths)), cap)
            if cap is None:
                break
            st.note(f"strings cut to {cap} bytes each to fit {limit} bytes")
            st.chars = st.nodes = 0
            body = _clean(rest, 1, cap, st)
            size = len(orjson.dumps(body)) + len(orjson.dumps(head))
    except _TooMany:
        st.note(f"more than {MAX_NODES} values")
        return _preview(head, rest, st, limit)
    if size > limit - 256:
        return _preview(head, rest, st, limit)
    _mark(body["data"], st)
    out: dict[str, Any] = {**head, **body}
    ordered: Any = {**{str(k): out[str(k)] for k in event if str(k) in out}, **out}
    return ordered


def _mark(data: dict[str, Any], st: _Cut) -> None:
    before = data.get("truncated")
    kept = before if isinstance(before, int) and not isinstance(before, bool) else 0
    data["truncated"] = kept + st.chars
    data["truncated_reason"] = "; ".join(st.reasons)


def _preview(head: dict[str, Any], rest: dict[str, Any], st: _Cut, limit: int) -> Event:
    """The last resort: ``raw``, with the start of the data's JSON text, as much as fits ``limit``."""
    chars = min(PREVIEW_CHARS, limit)
    while True:
        text, complete = _spill(rest.get("data"), chars)
        data: dict[str, Any] = {"record": text if complete else text + _MORE,
                                "error": f"cut: {head.get('kind')}", "source": None}
        reasons = st.reasons
        st.reasons = [*reasons, f"kept as a {len(text)}-character preview"]
        _mark(data, st)
        st.reasons = reasons
        out: Any = {**head, "kind": "raw", "data": data}
        if chars == 0 or len(orjson.dumps(out)) <= limit:
            return out
        chars //= 2


def valid_text(s: str) -> str:
    """``s`` as valid UTF-8: a lone surrogate written as its escape, the rest as it is."""
    try:
        s.encode()
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode()


def _clean(value: Any, depth: int, cap: int | None, st: _Cut) -> Any:
    """A copy that orjson can write: valid strings (cut to ``cap``), str keys, 64-bit ints, bounded depth."""
    st.nodes += 1
    if st.nodes > MAX_NODES:
        raise _TooMany
    if isinstance(value, str):
        value = valid_text(value)
        if cap is not None and len(value) > cap // 6:
            encoded = len(orjson.dumps(value))
            if encoded > cap:
                keep = len(value) * cap // encoded
                st.chars += len(value) - keep
                return f"{value[:keep]} …[{len(value) - keep} characters cut]"
        return value
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if isinstance(value, dict | list | tuple):
        if depth >= MAX_DEPTH:
            st.note(f"nested deeper than {MAX_DEPTH} levels: kept as JSON text")
            text, complete = _spill(value, SPILL_CHARS if cap is None else min(cap, SPILL_CHARS))
            if not complete:
                st.chars += 1
                return text + _MORE
            return text
        if isinstance(value, dict):
            return {_clean(k if isinstance(k, str) else str(k), depth, cap, st): _clean(v, depth + 1, cap, st)
                    for k, v in value.items()}
        return [_clean(v, depth + 1, cap, st) for v in value]
    try:
        orjson.dumps(value)
        return value
    except TypeError:
        return _clean(repr(value), depth, cap, st)


def _lengths(value: Any) -> list[int]:
    """The encoded length of every string value in a cleaned value."""
    lengths: list[int] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            lengths.append(len(orjson.dumps(item)))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return lengths


def _cap(lengths: list[int], budget: int, previous: int | None) -> int | None:
    """The longest encoded string length that brings all strings together under ``budget`` bytes."""
    if budget <= 0 or not lengths:
        return None
    lengths.sort(reverse=True)
    # Each cut string gains a marker of ~30 characters; if escapes or wide characters still leave it too
    # big, the caller measures again and asks for less.
    below = sum(lengths)
    for i, n in enumerate(lengths):
        below -= n
        cap = (budget - below) // (i + 1) - 30
        if cap >= (lengths[i + 1] if i + 1 < len(lengths) else 0):
            cap = max(cap, 0)
            return cap if previous is None or cap < previous else previous // 2
    return None


class _Tok(str):
    """A piece of JSON text already made (punctuation, a key), on the spill stack."""


def _spill(value: Any, limit: int) -> tuple[str, bool]:
    """JSON text of ``value`` without recursion (any depth); stops after ``limit`` characters."""
    out: list[str] = []
    size = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Tok):
            piece = str(item)
        elif isinstance(item, dict):
            stack.append(_Tok("}"))
            entries = list(itertools.islice(item.items(), limit))
            if len(item) > limit:
                stack.append(_Tok(_MORE))
            for i in range(len(entries) - 1, -1, -1):
                k, v = entries[i]
                stack.append(v)
                stack.append(_Tok(("," if i else "") + _string(k if isinstance(k, str) else str(k), limit) + ":"))
            piece = "{"
        elif isinstance(item, list | tuple):
            stack.append(_Tok("]"))
            if len(item) > limit:
                stack.append(_Tok(_MORE))
                item = item[:limit]
            for i in range(len(item) - 1, -1, -1):
                stack.append(item[i])
                if i:
                    stack.append(_Tok(","))
            piece = "["
        elif isinstance(item, str):
            piece = _string(item, limit)
        else:
            try:
                piece = orjson.dumps(item).decode()
            except TypeError:
                piece = _string(repr(item), limit)
        out.append(piece)
        size += len(piece)
        if size >= limit:
            return "".join(out)[:limit], False
    return "".join(out), True


def _string(s: str, limit: int) -> str:
    return orjson.dumps(valid_text(s[: limit + 1])).decode()
