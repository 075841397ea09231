"""For people writing their own agent in Python: report what the agent does as protocol events.

This module goes into other people's agent environments, so it imports only
the protocol (no textual, no watchfiles; a test enforces it). Today a run
writes a native ``.jsonl`` recording that ``watchkeeper`` tails and replays;
the websocket transport with steering (``checkpoint()``, approvals) builds on
the same ``Run``.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from pathlib import Path
from typing import IO, Any

from .protocol import Capabilities, Kind, Profile, encode_line, make_event


class Run:
    """One session of your agent. Each report is one event, written at once (a tail sees it live)."""

    def __init__(self, path: str | os.PathLike[str], *, title: str | None = None, model: str | None = None,
                 session: str | None = None, cwd: str | None = None) -> None:
        self.session = session or str(uuid.uuid4())
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._file: IO[bytes] = Path(path).open("ab")  # noqa: SIM115 - lives as long as the run
        self._emit(Kind.SESSION_STARTED, {
            "agent_kind": "sdk", "title": title, "cwd": cwd or os.getcwd(), "model": model,
            "capabilities": Capabilities(why="observe-only: this run writes a recording").model_dump(),
            "profile": Profile().model_dump(),
        })

    def user(self, text: str) -> None:
        self._emit(Kind.MESSAGE_USER, {"text": text, "origin": "prompt"})

    def assistant(self, text: str, model: str | None = None) -> None:
        self._emit(Kind.MESSAGE_ASSISTANT, {"text": text, "model": model})

    def tool_started(self, name: str, input: Any = None, call_id: str | None = None) -> str:
        call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
        self._emit(Kind.TOOL_STARTED, {"call_id": call_id, "name": name, "input": input},
                   id=f"tool:{call_id}:started")
        return call_id

    def tool_finished(self, call_id: str, output: Any = None, *, is_error: bool = False,
                      duration_ms: float | None = None) -> None:
        self._emit(Kind.TOOL_FINISHED, {"call_id": call_id, "output": output, "is_error": is_error,
                                        "status": "error" if is_error else "ok", "duration_ms": duration_ms},
                   id=f"tool:{call_id}:finished")

    def usage(self, *, input_tokens: int = 0, output_tokens: int = 0, model: str | None = None,
              cost_usd: float | None = None) -> None:
        self._emit(Kind.USAGE, {"input_tokens": input_tokens, "output_tokens": output_tokens,
                                "model": model, "cost_usd": cost_usd})

    def state(self, state: str, reason: str | None = None) -> None:
        self._emit(Kind.STATE, {"state": state, "reason": reason})

    def close(self, reason: str = "done") -> None:
        if not self._file.closed:
            self._emit(Kind.SESSION_ENDED, {"reason": reason})
            self._file.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close("error" if exc[0] else "done")

    def _emit(self, kind: str, data: dict[str, Any], id: str | None = None) -> None:
        with self._lock:
            n = next(self._counter)
            event = make_event(id or f"sdk:{self.session}:{n}", self.session, kind, data)
            self._file.write(encode_line(event))
            self._file.flush()
