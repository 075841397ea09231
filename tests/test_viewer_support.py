"""Realistic event sequences for the viewer's tests, built with protocol.make_event.

They follow the adapters' conventions: tool calls as ``tool:{id}:started`` /
``…:finished``, subagents linked by ``agent.started.parent_call_id``, usage
events whose sum is the session's total. (Helpers, and a test that they do.)
"""

from __future__ import annotations

import html
import re
from typing import Any

from rich.cells import cell_len

from watchkeeper.protocol import Event, make_event
from watchkeeper.relay import IterSource, Relay

SESSION = "d857e280-0000-4000-8000-000000000001"
SUB = "a42934b12dd9d9ea8"

EDIT_INPUT = {
    "file_path": "/home/dev/project/app.py",
    "old_string": "def total(xs):\n    return sum(xs)\n",
    "new_string": "def total(xs):\n    return sum(x for x in xs if x is not None)\n",
}


def ts(i: int) -> str:
    return f"2026-11-27T18:{i // 60 % 60:02d}:{i % 60:02d}.000Z"


class Events:
    """Builds one session's events with sequential timestamps and stable ids."""

    def __init__(self, session: str = SESSION) -> None:
        self.session = session
        self.n = 0

    def ev(self, kind: str, data: dict[str, Any], agent: str = "main", id: str | None = None) -> Event:
        self.n += 1
        return make_event(id or f"t:{self.n}", self.session, kind, data, ts=ts(self.n), agent=agent)

    def started(self, title: str = "Fix the failing test") -> list[Event]:
        return [
            self.ev(
                "session.started",
                {
                    "agent_kind": "claude-code",
                    "title": title,
                    "cwd": "/home/dev/project",
                    "model": "claude-opus-4",
                    "capabilities": {"why": "observe-only: a transcript can be watched, not steered"},
                },
                id=f"cc:session:{self.session}",
            ),
            self.ev("message.user", {"text": title, "origin": "prompt"}),
        ]

    def call(self, call_id: str, name: str, input: Any, output: Any = "ok", status: str = "ok",
             agent: str = "main", duration_ms: float = 120.0) -> list[Event]:
        return [self.call_start(call_id, name, input, agent), self.call_end(call_id, output, status, agent,
                                                                            duration_ms)]

    def bash_calls(self, first: int, count: int) -> list[Event]:
        """``count`` finished Bash calls, ``toolu_{first}`` on, each echoing its number."""
        return [e for i in range(first, first + count)
                for e in self.call(f"toolu_{i}", "Bash", {"command": f"echo {i}"})]

    def call_start(self, call_id: str, name: str, input: Any, agent: str = "main") -> Event:
        return self.ev("tool.started", {"call_id": call_id, "name": name, "input": input}, agent,
                       id=f"tool:{call_id}:started")

    def call_end(self, call_id: str, output: Any = "ok", status: str = "ok", agent: str = "main",
                 duration_ms: float = 120.0) -> Event:
        data = {"call_id": call_id, "status": status, "is_error": status == "error", "output": output,
                "duration_ms": duration_ms}
        return self.ev("tool.finished", data, agent, id=f"tool:{call_id}:finished")

    def usage(self, tokens_in: int, tokens_out: int, cost: float | None = None) -> Event:
        return self.ev("usage", {"model": "claude-opus-4", "input_tokens": tokens_in, "output_tokens": tokens_out,
                                 "cache_read_tokens": 1000, "cache_creation_tokens": 10, "cost_usd": cost})

    def subagent(self, call_id: str = "toolu_task", agent: str = SUB) -> list[Event]:
        return [
            self.call_start(call_id, "Task", {"description": "Count files", "prompt": "Count the .py files"}),
            self.ev("agent.started", {"agent_id": agent, "parent_call_id": call_id, "description": "Count files"}),
            self.ev("message.user", {"text": "Count the .py files", "origin": "prompt"}, agent),
            *self.call("toolu_glob", "Glob", {"pattern": "**/*.py"}, "app.py\ntest_app.py", agent=agent),
            self.ev("message.assistant", {"text": "There are 2 files."}, agent),
            self.ev("agent.finished", {"agent_id": agent, "status": "completed"}),
            self.call_end(call_id, "There are 2 files.", duration_ms=4000),
        ]

    def whole_session(self) -> list[Event]:
        """A whole small session: prompt, a failing Bash call, an Edit, a subagent, garbage."""
        return [
            *self.started(),
            self.ev("thinking", {"text": "", "hidden": True}),
            self.ev("message.assistant", {"text": "I'll run the tests first."}),
            *self.call("toolu_bash", "Bash", {"command": "pytest -q tests/test_app.py", "description": "run"},
                       "Error: Exit code 1\nFAILED tests/test_app.py::test_total - TypeError", "error",
                       duration_ms=2300),
            self.usage(1200, 80, 0.012),
            *self.call("toolu_edit", "Edit", EDIT_INPUT, {"filePath": EDIT_INPUT["file_path"]}),
            *self.subagent(),
            self.usage(800, 40, 0.008),
            self.ev("raw", {"record": "{this is not json", "error": "not JSON"}),
            self.ev("notice", {"level": "warning", "text": "API error, retrying", "code": "api_error"}),
            self.ev("message.assistant", {"text": "Fixed: `total` now skips None."}),
        ]


def relay_with(events: list[Event]) -> Relay:
    """A started real relay that has read ``events`` (a one-shot source) to the end."""
    relay = Relay().start()
    relay.add_source(IterSource("test-events", events))
    assert relay.drain(10)
    return relay


_SVG_TEXT = re.compile(r'<text [^>]*?x="([0-9.]+)" [^>]*?clip-path="url\(#[^)]*-line-(\d+)\)">(.*?)</text>')
#: One terminal cell's width in a Rich SVG export (its default 20-pixel characters, aspect 0.61).
_CELL = 20 * 0.61


def screen_text(app: Any) -> str:
    """The screen as a person sees it, one line per row, read back from the app's own SVG screenshot."""
    width, height = app.size
    rows = [[" "] * width for _ in range(height)]
    for x, y, text in _SVG_TEXT.findall(app.export_screenshot()):
        row, col = rows[int(y)], round(float(x) / _CELL)
        for char in html.unescape(text).replace("\xa0", " "):
            if col < width:
                row[col] = char
                for extra in range(1, cell_len(char)):
                    if col + extra < width:
                        row[col + extra] = ""
            col += cell_len(char)
    return "\n".join("".join(row) for row in rows)


class Notices(list[tuple[str, str]]):
    """Every (title, message) the app showed as a toast, in order: ``app.notify`` (public API) recorded."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        shown = app.notify

        def notify(message: str, *, title: str = "", **options: Any) -> None:
            self.append((title, str(message)))
            shown(message, title=title, **options)

        app.notify = notify

    def messages(self) -> list[str]:
        return [message for _, message in self]


def status_text(app: Any) -> str:
    """The session screen's status bar, as plain text."""
    from watchkeeper.viewer.widgets.status import StatusBar

    return str(getattr(app.screen.query_one(StatusBar).content, "plain", ""))


def test_session_events_follow_the_conventions() -> None:
    events = Events().whole_session()
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    finished = [e for e in events if e["kind"] == "tool.finished"]
    assert all(e["id"] == f"tool:{e['data']['call_id']}:finished" for e in finished)
    assert {e["agent"] for e in events} == {"main", SUB}


class ClaudeTranscript:
    """Writes Claude Code transcript lines (2.1.197 shapes) to a file, as the CLI does while it works."""

    def __init__(self, path: Any, session: str = "11111111-2222-4333-8444-555555555555") -> None:
        self.path, self.session, self.n = path, session, 0
        self.parent: str | None = None

    def _record(self, type_: str, message: dict[str, Any], **extra: Any) -> dict[str, Any]:
        self.n += 1
        uuid = f"00000000-0000-4000-8000-{self.n:012d}"
        rec = {"parentUuid": self.parent, "isSidechain": False, "type": type_, "message": message, "uuid": uuid,
               "timestamp": ts(self.n), "cwd": "/home/dev/project", "sessionId": self.session,
               "version": "2.1.197", **extra}
        self.parent = uuid
        return rec

    def prompt(self, text: str) -> dict[str, Any]:
        return self._record("user", {"role": "user", "content": text})

    def tool_use(self, call_id: str, name: str, input: dict[str, Any]) -> dict[str, Any]:
        msg = {"id": f"msg_{self.n}", "type": "message", "role": "assistant", "model": "claude-opus-4",
               "content": [{"type": "tool_use", "id": call_id, "name": name, "input": input}],
               "stop_reason": "tool_use",
               "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                         "cache_creation_input_tokens": 0}}
        return self._record("assistant", msg, requestId=f"req_{self.n}")

    def tool_result(self, call_id: str, output: str, is_error: bool = False) -> dict[str, Any]:
        msg = {"role": "user", "content": [{"tool_use_id": call_id, "type": "tool_result", "content": output,
                                            "is_error": is_error}]}
        result: Any = output if is_error else {"stdout": output, "stderr": "", "interrupted": False}
        return self._record("user", msg, toolUseResult=result)

    def say(self, text: str) -> dict[str, Any]:
        msg = {"id": f"msg_{self.n}", "type": "message", "role": "assistant", "model": "claude-opus-4",
               "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
               "usage": {"input_tokens": 20, "output_tokens": 7}}
        return self._record("assistant", msg, requestId=f"req_{self.n}")

    def write(self, *records: dict[str, Any] | str) -> None:
        """Append records (a str is written as is: garbage, a half line)."""
        import json

        with open(self.path, "a", encoding="utf-8") as f:
            for r in records:
                f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")

    def bash_call(self, i: int, fail: bool = False) -> None:
        call_id = f"toolu_{i:04d}"
        self.write(self.tool_use(call_id, "Bash", {"command": f"echo step {i}"}),
                   self.tool_result(call_id, f"Error: Exit code 1\nstep {i} failed" if fail else f"step {i}",
                                    is_error=fail))
