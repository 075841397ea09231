"""What steering costs a Claude Code session when nothing is held, in one run.

The same scripted session (the real CLI, offline against the Messages API
stand-in) three ways, interleaved, ``--runs`` times each:

- no hooks;
- the steering hooks (``watchkeeper run``'s settings) to a stand-in that answers ``{}`` at once
  (aiohttp, on its own loop thread);
- the same hooks to watchkeeper: the relay with the hook endpoint on its loop, a viewer
  subscribed to the hooked session, and meanwhile another session streaming 5,000 events/s
  into the relay, turned into timeline rows (``viewer.model.rows``) on a separate "UI" thread.

The load runs throughout, so all three see the same machine. Printed: each
way's median wall time, the cost per hook call over no hooks, and
watchkeeper's cost per hook call minus the stand-in's (budget <= 2 ms). The
CLI's own timing noise is tens of ms, so the same difference is also measured
directly: ``--requests`` hook requests on one keep-alive connection to each
server (p50/p99 round trip).

Run: ``.venv/bin/python bench/bench_hooks.py [--runs 5] [--calls 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import queue
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from aiohttp import web  # noqa: E402

from watchkeeper.adapters.claude_code.hooks import steering_hooks  # noqa: E402
from watchkeeper.adapters.claude_code.steering import Policy  # noqa: E402
from watchkeeper.protocol import Event, make_event  # noqa: E402
from watchkeeper.relay import Relay  # noqa: E402
from watchkeeper.relay.servers.hookserver import serve_hooks  # noqa: E402

TOKEN = "bench-token"
TOKEN_VAR = "WATCHKEEPER_TOKEN"
LOAD_RATE = 5000
LOAD_SESSION = "load-session"


class LoadSource:
    """Another session's stream at ``rate`` events/s, in 10 ms batches, as a busy agent's tail would give."""

    name = "bench-load"

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.sent = 0

    async def run(self, emit: Any) -> None:
        per_tick = self.rate // 100
        start = time.monotonic()
        while True:
            batch: list[Event] = [make_event(f"load:{self.sent + i}", LOAD_SESSION, "tool.started", {
                "call_id": f"c{self.sent + i}", "name": "Bash", "input": {"command": f"echo {self.sent + i}"}})
                for i in range(per_tick)]
            emit(batch)
            self.sent += per_tick
            await asyncio.sleep(max(0.0, start + self.sent / self.rate - time.monotonic()))


class RenderingViewer:
    """A viewer of the load session: batches go to a "UI" thread that builds a timeline row per event."""

    def __init__(self) -> None:
        from watchkeeper.viewer.model.rows import event_summary

        self.summary = event_summary
        self.inbox: queue.Queue[list[Event] | None] = queue.Queue()
        self.rendered = 0
        self.thread = threading.Thread(target=self._ui, daemon=True)
        self.thread.start()

    def __call__(self, batch: list[Event]) -> None:
        self.inbox.put(batch)

    def _ui(self) -> None:
        while (batch := self.inbox.get()) is not None:
            for ev in batch:
                self.summary(ev)
            self.rendered += len(batch)


def start_standin() -> int:
    """An aiohttp server answering every hook with ``{}`` at once, on its own loop thread."""
    ready: queue.Queue[int] = queue.Queue()

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    return ready.get(timeout=10)


def script(calls: int, cwd: Path) -> list[Any]:
    from standins.anthropic import text, tool_use

    turns: list[Any] = [[tool_use("Bash", {"command": f"echo {i}", "description": f"step {i}"})]
                        for i in range(calls)]
    return [*turns, [text("done")]]


def run_cli(version: str, calls: int, tmp: Path, settings: dict[str, Any] | None, session: str) -> float:
    from standins.anthropic import ScriptedAnthropic
    from standins.claude import run_claude

    base = tmp / uuid.uuid4().hex[:8]
    with ScriptedAnthropic(script(calls, base / "work")) as api:
        run = run_claude(version, "go", api=api, cwd=base / "work", home=base / "home", settings=settings,
                         env={TOKEN_VAR: TOKEN}, allowed_tools=("Bash",), timeout=120, session_id=session)
    if run.returncode != 0 or run.result is None or run.result.get("subtype") != "success":
        raise RuntimeError(f"the CLI run failed: {run.returncode} {run.stderr[-500:]}")
    return run.wall_seconds


def round_trips(port: int, n: int) -> list[float]:
    """Seconds per hook request (PreToolUse, then PostToolUse, alternating) on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    sid = str(uuid.uuid4())
    out = []
    for i in range(n):
        event = "PreToolUse" if i % 2 == 0 else "PostToolUse"
        payload = {"session_id": sid, "cwd": "/w", "hook_event_name": event, "tool_name": "Bash",
                   "tool_input": {"command": "ls"}, "tool_use_id": f"toolu_{i // 2}",
                   "tool_response": {"stdout": "a.txt", "stderr": ""}}
        body = json.dumps(payload).encode()
        t0 = time.perf_counter()
        conn.request("POST", "/hook", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - t0)
        if response.status != 200:
            raise RuntimeError(f"hook answered {response.status}")
    conn.close()
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=8, help="tool calls in the scripted session")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--version", default=None, help="Claude Code version (default: the newest installed)")
    args = parser.parse_args()

    from conftest import CLAUDE_VERSIONS

    version = args.version or CLAUDE_VERSIONS[-1]
    tmp = Path("/tmp") / f"wk-bench-hooks-{uuid.uuid4().hex[:6]}"
    relay = Relay().start()
    hooks = serve_hooks(relay, TOKEN, policy=Policy())
    if not hooks.ready.wait(10) or hooks.error is not None:
        raise SystemExit(f"the hook server did not start: {hooks.error!r}")
    load = LoadSource(LOAD_RATE)
    viewer = RenderingViewer()
    relay.subscribe(viewer, session=LOAD_SESSION)
    relay.add_source(load)
    standin_port = start_standin()

    def hooked(port: int) -> dict[str, Any]:
        return {"hooks": steering_hooks(f"http://127.0.0.1:{port}/hook", TOKEN_VAR, 600, False)}

    ways: dict[str, dict[str, Any] | None] = {"no hooks": None, "stand-in {}": hooked(standin_port),
                                              "watchkeeper": hooked(hooks.port)}
    walls: dict[str, list[float]] = {w: [] for w in ways}
    t_load = time.monotonic()
    for _ in range(args.runs):
        for way, settings in ways.items():
            session = str(uuid.uuid4())
            watching = relay.subscribe(lambda batch: None, session=session)
            walls[way].append(run_cli(version, args.calls, tmp, settings, session))
            watching.close()
    hook_calls = 2 * args.calls + 2
    direct = {"stand-in {}": round_trips(standin_port, args.requests),
              "watchkeeper": round_trips(hooks.port, args.requests)}
    elapsed = time.monotonic() - t_load
    relay.stop()
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"Claude Code {version}, {args.calls} tool calls -> {hook_calls} hook calls per run "
          f"(UserPromptSubmit, Pre/PostToolUse per call, Stop); {args.runs} runs each, interleaved")
    print(f"load: {load.sent / elapsed:,.0f} events/s into the relay, {viewer.rendered / elapsed:,.0f} rows/s "
          "rendered on the UI thread")
    base = statistics.median(walls["no hooks"])
    for way, values in walls.items():
        med = statistics.median(values)
        extra = "" if way == "no hooks" else f"   +{(med - base) / hook_calls * 1000:6.1f} ms per hook call"
        print(f"  {way:<12} median {med * 1000:7.0f} ms  (min {min(values) * 1000:.0f}, "
              f"max {max(values) * 1000:.0f}){extra}")
    cli_diff = (statistics.median(walls["watchkeeper"]) - statistics.median(walls["stand-in {}"])) / hook_calls
    print(f"watchkeeper minus stand-in, end to end: {cli_diff * 1000:+.2f} ms per hook call "
          "(CLI timing noise is tens of ms per run)")
    for way, values in direct.items():
        print(f"  direct round trip, {way:<12} p50 {pct(values, 0.5) * 1000:.3f} ms  "
              f"p99 {pct(values, 0.99) * 1000:.3f} ms")
    diff = pct(direct["watchkeeper"], 0.5) - pct(direct["stand-in {}"], 0.5)
    diff99 = pct(direct["watchkeeper"], 0.99) - pct(direct["stand-in {}"], 0.99)
    verdict = "within" if diff <= 0.002 else "OVER"
    print(f"watchkeeper minus stand-in, per hook request: p50 {diff * 1000:+.3f} ms, p99 {diff99 * 1000:+.3f} ms "
          f"({verdict} the 2 ms budget)")


if __name__ == "__main__":
    main()
