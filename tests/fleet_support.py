"""A hub and its edges as ``serve`` processes, each in its own directory: what the edge and fleet tests share.

The ``fleet`` fixture (a plugin, ``conftest.py``) gives each test its own hub,
edges added as it needs them, all stopped after it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from remote_steering_support import ROOT, WATCHKEEPER, Serve, start_serve
from test_remote_cli import Lines

from watchkeeper import sdk
from watchkeeper.adapters.remote import request

WAIT = 30.0


class Fleet:
    """A hub and its edges, each a ``serve`` process in its own directory under ``tmp``."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.edge_file = tmp / "edges"
        self.creds = {name: f"wke-{name}-{uuid.uuid4().hex}" for name in ("alpha", "beta")}
        #: one unnamed credential for a fleet: its edges go by the name they say.
        self.fleet_cred = f"wke-fleet-{uuid.uuid4().hex}"
        self.edge_file.write_text("".join(f"{n}={t}\n" for n, t in self.creds.items()) + self.fleet_cred + "\n")
        self.hub = start_serve(tmp / "hub", "--edge-token-file", str(self.edge_file))
        self.edges: dict[str, Serve] = {}

    def start_edge(self, name: str, *args: str, hub: str | None = None) -> Serve:
        cred = self.tmp / f"{name}.cred"
        cred.write_text(f"{name}={self.creds[name]}\n")
        edge = start_serve(self.tmp / name, "--upstream", hub or self.hub.url, "--upstream-token-file", str(cred),
                           *args)
        self.edges[name] = edge
        return edge

    def root(self, name: str) -> Path:
        return self.tmp / name / "home" / ".claude" / "projects"

    def listing(self) -> list[dict[str, Any]]:
        done = self.hub.cli("sessions", "--json", "--relay", self.hub.url, "--token-file", self.hub.token_file)
        assert done.returncode == 0, done.stderr
        rows: list[dict[str, Any]] = orjson.loads(done.stdout)
        return rows

    def row(self, session: str) -> dict[str, Any] | None:
        return next((r for r in self.listing() if r["id"] == session), None)

    def hub_edges(self) -> set[str]:
        """The edges connected to the hub, sessions or not: a ``breakpoints`` list for one answers only then."""
        out = set()
        for name in self.creds:
            msg = {"t": "breakpoints", "id": "probe", "op": "list", "edge": name}
            if asyncio.run(request(self.hub.url, self.hub.token, msg))[1].get("error") is None:
                out.add(name)
        return out

    def kill_hub(self) -> None:
        os.kill(self.hub.proc.pid, signal.SIGKILL)
        self.hub.proc.wait(10)

    def restart_hub(self) -> None:
        """The hub again, on its port and config directory, as a new process (a new epoch)."""
        old = self.hub
        port = old.url.rsplit(":", 1)[1]
        proc = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-default-roots",
                                 "--root", str(self.tmp / "hub" / "home" / ".claude" / "projects"),
                                 "--edge-token-file", str(self.edge_file)], cwd=ROOT, env=old.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        self.hub = Serve(proc, Lines(proc.stdout), old.url, old.env, old.home)
        self.hub.out.until("attach:")

    def stop(self) -> None:
        for edge in self.edges.values():
            edge.stop()
        self.hub.stop()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path)
    try:
        yield f
    finally:
        f.stop()


def record(root: Path, session: str, n: int) -> sdk.Run:
    """A recorded run in ``root``; its cwd is fixed, so a screen's columns do not depend on the checkout's path."""
    run = sdk.Run(root / f"{session}.jsonl", title=f"run {session}", session=session, cwd="/srv/job")
    for i in range(n):
        run.user(f"message {i}")
    return run


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]


def pushed(events: list[dict[str, Any]]) -> list[str]:
    """The ids of the events an edge pushed (not the hub's own notices about the edge)."""
    return [e["id"] for e in events if not e["id"].startswith("edge:")]
