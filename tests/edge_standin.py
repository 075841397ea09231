"""A stand-in edge for tests: it speaks an edge's side of the protocol to a hub with a real edge credential,
and pushes exactly the events it is told to (a real ``serve --upstream`` only pushes what its relay has)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from watchkeeper.protocol import Event, make_event, wire
from watchkeeper.reconnect import dial


class StandInEdge:
    """One edge connection; ``got`` is every message the hub sent it; controls are answered ``applied``."""

    def __init__(self, url: str, credential: str, name: str) -> None:
        self.url, self.credential, self.name = url, credential, name
        self.got: list[dict[str, Any]] = []
        self._seq: dict[str, int] = {}

    async def __aenter__(self) -> StandInEdge:
        self._dial = dial(self.url, self.credential)
        self.ws = await self._dial.__aenter__()
        await self.ws.recv()
        await self.ws.send(wire.dumps({**wire.hello_client("edge", self.name), "host": f"h-{self.name}"}), text=True)
        await self.ws.send(wire.dumps(wire.hello_server(f"epoch-{self.name}", self.name)), text=True)
        self._task = asyncio.create_task(self._answer())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        await self._dial.__aexit__(None, None, None)

    async def push(self, session: str, kind: str, data: dict[str, Any]) -> Event:
        n = self._seq.get(session, 0)
        self._seq[session] = n + 1
        ev = make_event(f"{self.name}-{session}-{n}", session, kind, data)
        ev["seq"], ev["epoch"] = n, f"epoch-{self.name}"  # type: ignore[typeddict-unknown-key]
        await self.ws.send(wire.dumps(wire.events_frame([ev])), text=True)
        return ev

    async def _answer(self) -> None:
        async for raw in self.ws:
            msg = wire.decode(raw)
            self.got.append(msg)
            if msg["t"] == "sessions":
                rows = [{"session": s, "live": True, "state": "running"} for s in self._seq]
                await self.ws.send(wire.dumps({"t": "sessions", "id": msg["id"], "sessions": rows}), text=True)
            elif msg["t"] == "control":
                c = msg["control"]
                outcome = make_event(f"control:{c['id']}", c["session"], "control.applied",
                                     {"control_id": c["id"], "control": c["control"], "by": c.get("by"),
                                      "reason": "the stand-in says so", "call_id": c.get("call_id")})
                await self.ws.send(wire.dumps({"t": "outcome", "id": msg["id"], "outcome": outcome}), text=True)
            elif msg["t"] == "breakpoints":
                answer = {"t": "breakpoints", "id": msg["id"], "rules": [], "problems": [], "where": "the stand-in"}
                await self.ws.send(wire.dumps(answer), text=True)
