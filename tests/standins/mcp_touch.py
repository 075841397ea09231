"""A minimal MCP server over stdio with one tool, ``touch`` (writes "mcp" to the path it is given).

For Codex tests: its MCP calls go through the same hooks as shell calls, and
under ``codex exec`` each one asks for permission (PermissionRequest).
"""

from __future__ import annotations

import json
import sys

TOOL = {"name": "touch", "description": "Create a file holding the word mcp",
        "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}


def answer(message: dict) -> dict | None:
    method, params = message.get("method"), message.get("params") or {}
    if message.get("id") is None:
        return None
    if method == "initialize":
        result = {"protocolVersion": params.get("protocolVersion", "2025-06-18"), "capabilities": {"tools": {}},
                  "serverInfo": {"name": "touch", "version": "1"}}
    elif method == "tools/list":
        result = {"tools": [TOOL]}
    elif method == "tools/call":
        with open(params["arguments"]["path"], "w") as f:
            f.write("mcp\n")
        result = {"content": [{"type": "text", "text": "touched"}]}
    else:
        result = {}
    return {"jsonrpc": "2.0", "id": message["id"], "result": result}


def main() -> None:
    for line in sys.stdin:
        reply = answer(json.loads(line))
        if reply is not None:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
