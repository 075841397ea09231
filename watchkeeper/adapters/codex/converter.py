"""Codex CLI rollout JSONL -> protocol events (as written by Codex 0.171; ``tests/canary.py`` reports drift).

One rollout is one thread: ``session_meta``, then ``response_item`` (what the
model saw and said), ``event_msg`` (UI events, some mirroring the response
items), ``turn_context``, and in 0.171 ``token_usage_record`` and
``world_state``. What each record means is in ``records``; this module
keeps the thread's state and builds the events: tool calls paired by
``call_id`` and finished once, from whichever record ends them first
(``tools``); usage counted once (``usage``); texts that several
records repeat shown once (``text.Mirrors``).

``session.started`` is held back, with the events after it, until the first
real prompt (its title) and the model are known, because both arrive a few
lines after ``session_meta``. The hold ends early at the first model output or
after :data:`HOLD_LIMIT` events, and at :meth:`CodexConverter.finish`.

Ids: tool calls ``tool:{call_id}:started|finished``; every other event
``cx:{session}:{line digest}:{n}``, n counting the events of one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ...protocol import MAIN_AGENT, Event, content_id, make_event, now_iso, raw_event
from ...protocol.codec import as_text, reparse
from .records import TOP_LEVEL
from .session import StartFacts, session_from_path
from .text import Mirrors, title_of
from .tools import Finish
from .usage import TokenLedger

HOLD_LIMIT = 200
#: Output of the model: by then the prompt and the model are known, so the session can start.
MODEL_SIDE = frozenset({"message.assistant", "thinking", "tool.started", "usage"})
#: Events after which a further compaction record is a new compaction, not the same one again.
CONVERSATION = frozenset({"message.user", "message.assistant", "thinking", "tool.started"})
#: Who writes assistant text: the model-facing record, or the UI's copy of it.
SAID_BY = {"response_item": "model", "agent_item": "model", "event_msg": "ui", "item": "ui"}


class CodexConverter:
    agent_kind = "codex"

    def __init__(self, path: Path | None = None) -> None:
        self.source = str(path) if path else None
        self.session = session_from_path(path)
        self.facts = StartFacts()
        self.tokens = TokenLedger()
        self._phase = "before"  # -> "holding" (session.started held back) -> "started"
        self._held: list[Event] = []
        self._meta_key: str | None = None
        self._meta_ts: str | None = None
        self._calls: dict[str, str] = {}  # call_id -> when it started
        self._open: set[str] = set()
        self._finished: set[str] = set()
        self._user, self._said, self._thought = Mirrors(), Mirrors(SAID_BY), Mirrors()
        self.said_in_turn = False
        self.sub_agents: dict[str, str] = {}
        self._fallback_prompts: list[Event] = []
        self._ui_prompts = False
        self._compacting = False
        self._digests: dict[str, int] = {}
        self._last_ts: str | None = None
        self._line = 0
        self._text = b""
        self._key: str | None = None
        self._ts = ""
        self._n = 0

    # --- the Converter protocol ------------------------------------------------

    def feed(self, line: bytes, offset: int) -> list[Event]:
        text = line.strip()
        if not text:
            return []
        self._begin(text)
        try:
            try:
                rec = orjson.loads(text)
            except orjson.JSONDecodeError as e:
                rec = reparse(text, e)
        except orjson.JSONDecodeError as e:
            return self._raw(text, f"not JSON: {e}")
        try:
            return self._record(rec, text)
        except Exception as e:  # never raise: a shape nobody foresaw is kept whole
            return self._raw(text, f"adapter error: {e!r}")

    def finish(self) -> list[Event]:
        out = self._emit(self._flush_fallback())
        if self._phase == "holding":
            out += self._release()
        return out

    # --- one line ------------------------------------------------------------------

    def _begin(self, text: bytes) -> None:
        self._text, self._key = text, None
        self._line += 1
        self._n = 0

    @property
    def key(self) -> str:
        """The digest of the line being read, which the ids of its events are built on.

        Computed only for lines that yield events; a line identical to an earlier
        one gets a count suffix, so both keep their events.
        """
        if self._key is None:
            digest = content_id(self._text)
            if len(self._digests) > 4096:  # identical lines are neighbours; forget old digests
                self._digests.clear()
            seen = self._digests.get(digest, 0)
            self._digests[digest] = seen + 1
            self._key = f"{digest}.{seen}" if seen else digest
        return self._key

    def _record(self, rec: Any, text: bytes) -> list[Event]:
        if not isinstance(rec, dict):
            return self._raw(text, "not a JSON object")
        self._ts = self._stamp(rec.get("timestamp"))
        kind, payload = rec.get("type"), rec.get("payload")
        if not isinstance(payload, dict):
            return self._raw(text, f"record {kind!r} without a payload object")
        if kind == "session_meta":
            return self._session_meta(payload)
        handler = TOP_LEVEL.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return self._raw(text, f"unknown record type {kind!r}")
        if self._phase == "before":
            self._phase = "holding"
        events = handler(self, payload)
        if events is None:
            return self._raw(text, f"unknown {kind} type {payload.get('type')!r}")
        return self._emit(events)

    def _stamp(self, ts: Any) -> str:
        """The record's time as ISO-8601 with ms and ``Z``; a record without one takes the last seen."""
        if isinstance(ts, str):
            if len(ts) == 24 and ts[10] == "T" and ts.endswith("Z"):
                self._last_ts = ts
                return ts
            try:
                when = datetime.fromisoformat(ts).astimezone(UTC)
                self._last_ts = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                return self._last_ts
            except ValueError:
                pass
        return self._last_ts or now_iso()

    def _raw(self, text: bytes, error: str) -> list[Event]:
        return self._emit([self.odd(error)])

    def odd(self, error: str) -> Event:
        """The line being read as a raw event saying what could not be read in it."""
        event = raw_event(self.session, self._text, error, self.source, ts=self._stamp(None))
        event["id"] = f"cx:{self.session}:{self.key}:{self._n}"
        self._n += 1
        return event

    # --- the held session.started --------------------------------------------------

    def _emit(self, events: list[Event]) -> list[Event]:
        if self._fallback_prompts and any(e["kind"] in MODEL_SIDE for e in events):
            events = self._flush_fallback() + events
        if any(e["kind"] in CONVERSATION for e in events):
            self._compacting = False
        if self._phase != "holding":
            return events
        self._held.extend(events)
        ready = self.facts.title is not None and self.facts.model is not None
        if ready or len(self._held) >= HOLD_LIMIT or any(e["kind"] in MODEL_SIDE for e in events):
            return self._release()
        return []

    def _release(self) -> list[Event]:
        key = self._meta_key or "session"
        ts = self._meta_ts or (self._held[0]["ts"] if self._held else self._ts)
        data = self.facts.data(self.agent_kind, self.source)
        started = make_event(f"cx:{self.session}:{key}:0", self.session, "session.started", data, ts)
        out, self._held, self._phase = [started, *self._held], [], "started"
        return out

    def _session_meta(self, p: dict[str, Any]) -> list[Event]:
        if self._meta_key is not None or self._phase == "started":
            text = f"session_meta again: resumed, or history copied from thread {p.get('id')}"
            return self._emit([self.notice("info", text, "codex.session_meta")])
        sid = p.get("id") or p.get("session_id")
        if isinstance(sid, str) and sid:
            self.session = sid
            for e in self._held:
                e["session"] = sid
        self._meta_key, self._meta_ts = self.key, self._ts
        self.facts.read_meta(p)
        self._phase = "holding"
        return self._emit([])

    # --- events, for records.py -----------------------------------------------------

    def event(self, kind: str, data: Mapping[str, Any], id: str | None = None, agent: str = MAIN_AGENT) -> Event:
        if id is None:
            id = f"cx:{self.session}:{self.key}:{self._n}"
            self._n += 1
        return make_event(id, self.session, kind, data, ts=self._ts, agent=agent)

    def notice(self, level: str, text: str, code: str, **extra: Any) -> Event:
        return self.event("notice", {"level": level, "text": text, "code": code, **extra})

    def prompt(self, text: str, source: str) -> list[Event]:
        """A prompt from a UI record (``user_message``, ``UserMessage`` item): the real ones."""
        self._ui_prompts = True
        self._fallback_prompts.clear()
        if not self._user.first(source, text):
            return []
        if self.facts.title is None and text.strip():
            self.facts.title = title_of(text)
        return [self.event("message.user", {"text": text, "origin": "prompt"})]

    def fallback_prompt(self, text: str) -> None:
        """A prompt seen as a response item: used only if this version writes no UI copy of prompts."""
        if not self._ui_prompts:
            self._fallback_prompts.append(self.event("message.user", {"text": text, "origin": "prompt"}))

    def _flush_fallback(self) -> list[Event]:
        out, self._fallback_prompts = self._fallback_prompts, []
        if out and self.facts.title is None:
            self.facts.title = title_of(out[0]["data"]["text"])
        return out

    def said(self, text: Any, source: str, message_id: Any = None, phase: Any = None) -> list[Event]:
        if not isinstance(text, str):
            return [] if text is None else [self.odd("assistant text that is not a string")]
        if not text.strip() or not self._said.first(source, text, self._line):
            return []
        self.said_in_turn = True
        data: dict[str, Any] = {"text": text, "message_id": as_text(message_id), "model": self.facts.model}
        if phase:
            data["phase"] = phase
        return [self.event("message.assistant", data)]

    def thinking(self, texts: list[str], source: str) -> list[Event]:
        """Readable reasoning, one event per part; none readable (encrypted only) is one hidden block."""
        if not texts:
            shown = self._thought.first(source, "")
            return [self.event("thinking", {"text": "", "hidden": True})] if shown else []
        return [
            self.event("thinking", {"text": t, "hidden": False})
            for t in texts
            if self._thought.first(source, t)
        ]

    def start_call(self, call_id: str, name: str, tool_input: Any, message_id: Any = None) -> list[Event]:
        if call_id in self._calls:
            return []
        self._calls[call_id] = self._ts
        self._open.add(call_id)
        data = {"call_id": call_id, "name": name, "input": tool_input, "message_id": as_text(message_id)}
        return [self.event("tool.started", data, id=f"tool:{call_id}:started")]

    def finish_call(
        self, call_id: Any, end: Finish, name: str = "unknown", tool_input: Any = None
    ) -> list[Event]:
        """One call, one ``tool.finished``: the first record that ends it wins."""
        call_id = str(call_id)
        if call_id in self._finished:
            return []
        events = self.start_call(call_id, name, tool_input)  # a result whose call was never seen
        self._finished.add(call_id)
        self._open.discard(call_id)
        if end.duration_ms is None:
            end.duration_ms = _elapsed_ms(self._calls[call_id], self._ts)
        events.append(self.event("tool.finished", end.data(call_id), id=f"tool:{call_id}:finished"))
        return events

    def open_calls(self) -> list[str]:
        """Calls started and not finished, oldest first."""
        return sorted(self._open, key=self._calls.__getitem__)

    def usage(self, delta: dict[str, int] | None, message_id: Any = None, **extra: Any) -> list[Event]:
        if delta is None:
            return []
        data = {"model": self.facts.model, "message_id": as_text(message_id), **delta, "cost_usd": None}
        data.update((k, v) for k, v in extra.items() if v is not None)
        return [self.event("usage", data)]

    def compaction(self, summary: Any) -> list[Event]:
        if self._compacting:
            return []  # the same compaction, told by its second record
        self._compacting = True
        extra = {"summary": summary} if isinstance(summary, str) and summary else {}
        return [self.notice("info", "Context compacted", "codex.compacted", **extra)]


def _elapsed_ms(start: str, end: str) -> float | None:
    try:
        ms = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000
    except ValueError:
        return None
    return ms if ms >= 0 else None
