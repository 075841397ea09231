"""A small ACP agent on the Python SDK, for tests: it records what the client advertised, then streams a
thought, a plan, a message in chunks and an edit with a diff, and ends the turn with usage.

Run: ``python tests/acp_agent.py RECORD_FILE`` (the tests run it as an ACP agent process).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import acp
from acp import InitializeResponse, NewSessionResponse, PromptResponse
from acp.schema import Usage


class Agent:
    def __init__(self, record: str) -> None:
        self.record = record

    def on_connect(self, conn: Any) -> None:
        self._conn = conn

    async def initialize(self, protocol_version: int, client_capabilities: Any = None, **kw: Any) -> Any:
        with open(self.record, "w") as f:
            json.dump(client_capabilities.model_dump(by_alias=True) if client_capabilities else None, f)
        return InitializeResponse(protocol_version=protocol_version)

    async def new_session(self, cwd: str, **kw: Any) -> Any:
        return NewSessionResponse(session_id="acp-fixture")

    async def cancel(self, session_id: str, **kw: Any) -> None:
        pass

    async def prompt(self, session_id: str, prompt: Any, **kw: Any) -> Any:
        print("warming up \x1b[31mred\x1b]8;;http://evil.example\x07link", file=sys.stderr, flush=True)
        up = self._conn.session_update
        await up(session_id, acp.update_agent_thought(acp.text_block("Thinking about the edit.")))
        await up(session_id, acp.update_plan([acp.plan_entry("read the file", status="completed"),
                                              acp.plan_entry("fix the typo", status="in_progress")]))
        for part in ("I fixed ", "the typo."):
            await up(session_id, acp.update_agent_message(acp.text_block(part)))
        await up(session_id, acp.start_tool_call("edit_1", "Edit notes.txt", kind="edit", status="pending",
                                                 raw_input={"path": "notes.txt"}))
        await up(session_id, acp.update_tool_call(
            "edit_1", status="completed",
            content=[acp.tool_diff_content("notes.txt", "hello world\n", "helo world\n")]))
        return PromptResponse(stop_reason="end_turn", usage=Usage(input_tokens=12, output_tokens=34,
                                                                   total_tokens=46))


if __name__ == "__main__":
    asyncio.run(acp.run_agent(Agent(sys.argv[1])))  # type: ignore[arg-type]
