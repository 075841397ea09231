"""An ACP agent without the SDK: it sends exactly the JSON-RPC a scenario says, wrong types and all.

Run: ``python tests/acp_scripted_agent.py SCENARIO ANSWERS`` (the tests run it as an ACP agent process).
SCENARIO is a JSON file: ``init`` and ``new`` (the results of ``initialize`` and ``session/new``), ``prompt``
(steps, each ``{"notify": update}``, ``{"requests": [[method, params], ...]}``, sent together and each
answer awaited, or ``{"raw": line}``, written as it is), ``prompt_result``; ``after_prompt``, raw lines
written once the first turn has ended; ``env_to`` and ``pid_to``, files the agent writes its environment
and its pid to; ``on_eof``: ``"stay"`` to outlive its stdin, as claude-agent-acp does. Every answer the
client gives is appended to ANSWERS as a JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def main(scenario_path: str, answers_path: str) -> None:
    with open(scenario_path) as f:
        scenario = json.load(f)
    sid = scenario.get("new", {}).get("sessionId", "acp-scripted")
    ids = iter(range(1000, 10**6))

    def send(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def read() -> dict[str, Any]:
        line = sys.stdin.readline()
        if not line:
            while scenario.get("on_eof") == "stay":
                time.sleep(3600)
            sys.exit(0)
        return json.loads(line)

    def raw(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def answer(msg: dict[str, Any], result: Any) -> None:
        send({"jsonrpc": "2.0", "id": msg["id"], "result": result})

    while True:
        msg = read()
        method = msg.get("method")
        if method == "initialize":
            if "env_to" in scenario:  # what the agent was started with, for a test to read
                with open(scenario["env_to"], "w") as f:
                    json.dump(dict(os.environ), f)
            if "pid_to" in scenario:
                with open(scenario["pid_to"], "w") as f:
                    f.write(str(os.getpid()))
            answer(msg, scenario.get("init", {"protocolVersion": 1}))
        elif method == "session/new":
            answer(msg, scenario.get("new", {"sessionId": sid}))
        elif method == "session/prompt":
            for step in scenario.get("prompt", []):
                if "notify" in step:
                    send({"jsonrpc": "2.0", "method": "session/update",
                          "params": {"sessionId": sid, "update": step["notify"]}})
                    continue
                if "raw" in step:
                    raw(step["raw"])
                    continue
                waiting = []
                for name, params in step["requests"]:
                    waiting.append(next(ids))
                    send({"jsonrpc": "2.0", "id": waiting[-1], "method": name, "params": params})
                while waiting:
                    got = read()
                    if got.get("id") in waiting and "method" not in got:
                        waiting.remove(got["id"])
                        with open(answers_path, "a") as f:
                            f.write(json.dumps(got) + "\n")
            answer(msg, scenario.get("prompt_result", {"stopReason": "end_turn"}))
            for line in scenario.pop("after_prompt", []):
                raw(line)
        elif "id" in msg and method is not None and method != "session/cancel":
            answer(msg, {})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
