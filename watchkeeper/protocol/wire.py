"""The websocket wire protocol between ``serve`` and its peers: message shapes, pure.

Every frame is one JSON object (a text frame, orjson) with a type ``t``. A
viewer (``attach``, ``ctl --relay``) and an agent (``watchkeeper.sdk``) both
open with ``hello``; the server answers with its own ``hello`` (protocol
version, epoch, capabilities, name). After that:

viewer -> server                      server -> viewer
  subscribe {epoch, from: {sid: seq}}   events {events: [...], coalesced?: {sid: [[seq, id]]}}
  range {id, session, start, stop}      range {id, session, start, events, first, end}
  control {id, control}                 outcome {id, outcome}   (never dropped)
  sessions {id}                         sessions {id, sessions}
  breakpoints {id, op, rule?, name?}    breakpoints {id, rules, problems, where, done?, error?}
                                        resync {session, from_seq}   (you fell behind: read ranges)
agent -> server                       server -> agent
  events {n, events}                    ack {n}
                                        control {control}, decision {session, call_id, verdict, ...}
hub -> edge (a hub follows an edge as a viewer, and also says)
  watching {n}                          (people watching at the hub)
  acked {epoch, from: {sid: seq}}       (what the hub has: the edge stops keeping it for the hub)
either way: error {id?, code, message} for a message that could not be handled; the connection stays.

Parsing here never raises anything but :class:`WireError`, whose ``code`` and
``str()`` are sent back to the peer as they are. It lives in ``protocol``
because both ends use it: the relay's server, and the attach side and the
SDK, which must not import the relay.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from .bounds import MAX_EVENT_BYTES, fit, json_text
from .codec import ProtocolError, raw_event, validate_control
from .envelope import Event
from .kinds import PROTOCOL_VERSION, Kind
from .models import ControlModel

#: What this server offers; a newer peer checks for what it needs, an older one ignores the rest.
CAPABILITIES = ("events.batch", "range", "control", "sessions", "agents", "coalesce", "resync", "breakpoints",
                "acked")
ROLES = ("viewer", "agent", "edge")
#: Incoming message limit (websockets ``max_size``): agents send batches well under it.
MAX_MESSAGE = 8 * 2**20
#: Websocket connections a relay keeps open at once (``serve --max-connections``): each costs a descriptor
#: and a queue, so a client that opens them in a loop is refused with 503 before the process runs out.
MAX_CONNECTIONS = 512
#: What clients accept from the server: a frame carries many events, one event can be large.
MAX_CLIENT_MESSAGE = 64 * 2**20
#: A server frame is split before it grows past this many bytes.
FRAME_BYTES = 4 * 2**20
FRAME_EVENTS = 1000
#: Most events one range read returns; the client asks again from where it stopped.
RANGE_MAX = 5000

dumps = orjson.dumps


class WireError(ValueError):
    """A message that cannot be handled; sent back as ``error {code, message}``."""

    def __init__(self, code: str, message: str, req: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.req = req


# --- building messages -------------------------------------------------------------


def hello_server(epoch: str, name: str) -> dict[str, Any]:
    return {"t": "hello", "v": PROTOCOL_VERSION, "epoch": epoch, "server": name,
            "capabilities": list(CAPABILITIES), "max_size": MAX_MESSAGE}


def hello_client(role: str, name: str, sessions: dict[str, Any] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"t": "hello", "v": PROTOCOL_VERSION, "role": role, "name": name}
    if sessions:
        msg["sessions"] = sessions
    return msg


def error(code: str, message: str, req: Any = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"t": "error", "code": code, "message": message}
    if req is not None:
        msg["id"] = req
    return msg


def ack(n: int) -> dict[str, Any]:
    return {"t": "ack", "n": n}


def control_push(control: dict[str, Any]) -> dict[str, Any]:
    return {"t": "control", "control": control}


def decision(session: str, call_id: str, verdict: str, reason: str | None, by: str | None) -> dict[str, Any]:
    """An approval's answer to the agent: ``approve``, ``deny`` (with the reason) or ``none`` (nobody decided)."""
    return {"t": "decision", "session": session, "call_id": call_id, "verdict": verdict, "reason": reason, "by": by}


def resync(session: str, from_seq: int) -> dict[str, Any]:
    return {"t": "resync", "session": session, "from_seq": from_seq}


def events_frame(events: list[Event], coalesced: dict[str, list[list[Any]]] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"t": "events", "events": events}
    if coalesced:
        msg["coalesced"] = coalesced
    return msg


def encode_events(events: list[Event], coalesced: dict[str, list[list[Any]]] | None = None,
                  limit: int = FRAME_BYTES) -> list[bytes]:
    """One frame, or several when the encoded frame would pass ``limit`` bytes (each keeps order).

    Never raises for what an event holds: an event that cannot be encoded, or alone would make
    a frame a client refuses (``MAX_CLIENT_MESSAGE``), is sent cut and marked (``bounds.fit``).
    """
    try:
        data = dumps(events_frame(events, coalesced))
    except TypeError:
        events = [fit(e) for e in events]
        data = dumps(events_frame(events, coalesced))
    if len(events) == 1 and len(data) > MAX_CLIENT_MESSAGE - 4096:
        events = [fit(events[0], MAX_EVENT_BYTES)]
        data = dumps(events_frame(events, coalesced))
    if len(data) <= limit or len(events) <= 1:
        return [data]
    half = len(events) // 2
    return encode_events(events[:half], coalesced, limit) + encode_events(events[half:], None, limit)


# --- reading messages ---------------------------------------------------------------


def decode(raw: str | bytes) -> dict[str, Any]:
    """One frame to a message with a string ``t``; WireError for anything else."""
    if isinstance(raw, str):
        raw = raw.encode()
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise WireError("malformed", f"not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise WireError("malformed", "a message must be a JSON object")
    if not isinstance(msg.get("t"), str):
        raise WireError("malformed", "a message needs a type: a string field 't'", msg.get("id"))
    return msg


@dataclass(frozen=True)
class Hello:
    role: str
    name: str
    version: int
    #: agent only: per session, what it holds (``paused``, ``asking``: call ids); on a reconnect the relay's own
    #: record of that session wins, and what the agent missed is sent again.
    sessions: dict[str, dict[str, Any]]


def read_hello(msg: dict[str, Any]) -> Hello:
    if msg.get("t") != "hello":
        raise WireError("expected-hello", f"the first message must be a hello, not {msg.get('t')!r}")
    role = msg.get("role", "viewer")
    if role not in ROLES:
        raise WireError("bad-hello", f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    version = msg.get("v", PROTOCOL_VERSION)
    if not isinstance(version, int) or version < 1:
        raise WireError("bad-hello", "the protocol version 'v' must be a positive integer")
    sessions = msg.get("sessions") or {}
    if not isinstance(sessions, dict):
        raise WireError("bad-hello", "'sessions' must be an object")
    clean = {str(k): v for k, v in sessions.items() if isinstance(v, dict)}
    return Hello(str(role), str(msg.get("name") or role), version, clean)


def read_subscribe(msg: dict[str, Any], epoch: str) -> dict[str, int]:
    """Where to resume each session; empty (everything from the start) when the epoch is not this one."""
    positions = msg.get("from") or {}
    if not isinstance(positions, dict):
        raise WireError("bad-subscribe", "'from' must map session ids to the next seq wanted")
    if msg.get("epoch") != epoch:
        return {}
    out: dict[str, int] = {}
    for sid, seq in positions.items():
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise WireError("bad-subscribe", f"'from' of {sid!r} must be a seq (an integer >= 0)")
        out[str(sid)] = seq
    return out


@dataclass(frozen=True)
class RangeRequest:
    req: Any
    session: str
    start: int
    stop: int


def read_range(msg: dict[str, Any]) -> RangeRequest:
    req = msg.get("id")
    session, start, stop = msg.get("session"), msg.get("start"), msg.get("stop")
    if not isinstance(session, str) or not session:
        raise WireError("bad-range", "a range read needs a 'session'", req)
    if not _seq(start) or not _seq(stop):
        raise WireError("bad-range", "'start' and 'stop' must be seqs (integers >= 0)", req)
    assert isinstance(start, int) and isinstance(stop, int)
    return RangeRequest(req, session, start, min(stop, start + RANGE_MAX))


def range_reply(r: RangeRequest, events: list[Event], first: int, end: int) -> dict[str, Any]:
    """``first``: the oldest seq the server still holds; ``end``: one past its newest."""
    return {"t": "range", "id": r.req, "session": r.session, "start": r.start, "events": events,
            "first": first, "end": end}


def read_control(msg: dict[str, Any]) -> tuple[Any, ControlModel]:
    req = msg.get("id")
    try:
        return req, validate_control(msg.get("control"))
    except ProtocolError as e:
        raise WireError("bad-control", f"not a valid control: {e}", req) from None


def read_agent_events(msg: dict[str, Any], name: str, own: str | None = None) -> tuple[int | None, list[Event]]:
    """An agent's batch: its counter ``n`` and its events, anything malformed kept as ``raw`` (in ``own``, the
    agent's session, when it has one: a malformed event cannot say whose it is)."""
    events = msg.get("events")
    if not isinstance(events, list):
        raise WireError("bad-events", "'events' must be a list of events")
    n = msg.get("n")
    return (n if _seq(n) else None), [_not_an_outcome(clean_event(e, name, own), name) for e in events]


#: Kinds only the relay writes: a control's outcome is the person's and the relay's word, never an agent's.
_RELAYS_OWN = frozenset({Kind.CONTROL_APPLIED, Kind.CONTROL_REJECTED})


def _not_an_outcome(event: Event, source: str) -> Event:
    """An agent's event, or ``raw`` if it claims to be a control's outcome (it would let a held call go in
    the relay's listing, "approved by" someone who never decided)."""
    if event["kind"] not in _RELAYS_OWN:
        return event
    return raw_event(event["session"], json_text(event, MAX_EVENT_BYTES),
                     "an agent may not report a control's outcome: only the relay does", source)


_FIELDS = (("id", str), ("session", str), ("kind", str), ("ts", str), ("data", dict))


def clean_event(obj: Any, source: str, own: str | None = None) -> Event:
    """The event as sent if it has the envelope's fields, else a ``raw`` event keeping it whole, in ``own``
    if given, else in the session it names, else in ``unknown``.

    Structural only (no pydantic on the hot path); ``seq``/``epoch`` from the peer are dropped,
    the relay assigns its own.
    """
    if isinstance(obj, dict):
        for key, typ in _FIELDS:
            value = obj.get(key)
            if not isinstance(value, typ) or (typ is str and not value):
                break
        else:
            obj.pop("seq", None)
            obj.pop("epoch", None)
            obj.setdefault("v", PROTOCOL_VERSION)
            if not isinstance(obj.get("agent"), str):
                obj["agent"] = "main"
            return obj  # type: ignore[return-value]
        why = f"not a protocol event: '{key}' must be a non-empty {typ.__name__}"
    else:
        why = "not a protocol event: not a JSON object"
    session = obj.get("session") if isinstance(obj, dict) and isinstance(obj.get("session"), str) else None
    return raw_event(own or session or "unknown", json_text(obj, MAX_EVENT_BYTES), why, source)


def backoff(first: float = 0.05, cap: float = 5.0) -> Iterator[float]:
    """Reconnect delays: ``first``, then growing by 1.618 up to ``cap``, each with +-25 % jitter."""
    delay = first
    while True:
        yield delay * random.uniform(0.75, 1.25)
        delay = min(cap, delay * 1.618)


_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class _Redacting(logging.LoggerAdapter):
    """websockets logs each handshake header at DEBUG ("> %s: %s"): the token's value is replaced."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if len(args) == 2 and isinstance(args[0], str) and args[0].lower() in _SECRET_HEADERS:
            args = (args[0], "[redacted]")
        super().log(level, msg, *args, **kwargs)


def redacting_logger(name: str) -> logging.LoggerAdapter:
    """The logger to hand websockets (``logger=``), so the token never reaches a log, even at DEBUG."""
    return _Redacting(logging.getLogger(name), {})


def _seq(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0
