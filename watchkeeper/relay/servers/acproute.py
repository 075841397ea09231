"""``POST /acp`` on the local API: a running watchkeeper starts an ACP agent as one of its sources.

``watchkeeper run --acp`` asks here when a watchkeeper already runs, so the
agent's session shows in that viewer (or ``serve``'s remote viewers) and its
controls come from there. Only a person's token reaches this route (the
guard refuses hook and agent credentials elsewhere than their own routes):
it starts a process, as the person could in their own shell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

#: Starts an agent from a request body; answers {"session": id} or {"error": why}.
StartAcp = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
#: Seconds the agent gets to open its ACP session.
SESSION_WAIT = 60.0


def acp_starter(relay: Any, breakpoint: Callable[[dict[str, Any]], str | None] | None = None,
                started: Callable[[str], None] | None = None) -> StartAcp:
    """The ``/acp`` handler's work: an :class:`AcpSource` on ``relay``, once it has a session (``started``)."""
    from ...adapters.acp.source import AcpSource

    async def start(body: dict[str, Any]) -> dict[str, Any]:
        argv, prompt, cwd, env = body.get("argv"), body.get("prompt"), body.get("cwd"), body.get("env")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            return {"error": "argv must be a non-empty list of strings"}
        if prompt is not None and not isinstance(prompt, str):
            return {"error": "prompt must be a string"}
        if not isinstance(cwd, str) or not isinstance(env, dict) or \
                not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            return {"error": "cwd (a string) and env (strings to strings) are required"}
        source = AcpSource(argv, prompt=prompt, cwd=cwd, env=env, breakpoint=breakpoint)
        relay.add_source(source)
        await asyncio.get_running_loop().run_in_executor(None, source.ready.wait, SESSION_WAIT)
        if source.session is None:
            return {"error": source.error or "the agent opened no ACP session in time"}
        if started is not None:
            started(source.session)
        return {"session": source.session}

    return start
