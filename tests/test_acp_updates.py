"""ACP updates as events, through a real ACP agent process (``acp_agent.py``) on a real relay."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from acp_support import AcpRun

pytestmark = pytest.mark.timeout(120)


def test_thought_plan_message_diff_and_usage(tmp_path: Path) -> None:
    record = tmp_path / "client.json"
    agent = [sys.executable, str(Path(__file__).with_name("acp_agent.py")), str(record)]
    run = AcpRun(agent, {"PATH": "/usr/bin:/bin"}, tmp_path, "fix the typo")
    try:
        run.idle_turns(1)
        (thought,) = run.kinds("thinking")
        assert thought["data"]["text"] == "Thinking about the edit."
        (plan,) = [e for e in run.kinds("notice") if e["data"]["code"] == "plan"]
        assert plan["data"]["text"] == "plan:\n[x] read the file\n[~] fix the typo"
        (message,) = run.kinds("message.assistant")
        assert message["data"]["text"] == "I fixed the typo."
        (started,) = run.kinds("tool.started")
        assert (started["data"]["name"], started["data"]["input"]) == ("Edit notes.txt", {"path": "notes.txt"})
        (finished,) = run.kinds("tool.finished")
        assert "-helo world" in finished["data"]["output"] and "+hello world" in finished["data"]["output"]
        assert "a/notes.txt" in finished["data"]["output"]
        (usage,) = run.kinds("usage")
        assert (usage["data"]["input_tokens"], usage["data"]["output_tokens"]) == (12, 34)
        info = run.relay.session(run.session)
        assert info is not None and (info.tokens_in, info.tokens_out) == (12, 34)
        stderr = run.wait(lambda evs: [e for e in evs if e["kind"] == "notice"
                                       and e["data"].get("code") == "agent-stderr"], "the agent's stderr shown")
        text = stderr[0]["data"]["text"]
        assert "warming up" in text and "\x1b" not in text and "␛[31mred" in text, "kept for the person, sanitized"
    finally:
        run.close()
    advertised = json.loads(record.read_text())
    assert advertised["fs"] == {"readTextFile": False, "writeTextFile": False, "_meta": None}
    assert advertised["terminal"] is False
