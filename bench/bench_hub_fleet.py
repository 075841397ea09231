"""A hub with many edges: each edge a relay pushing one session at a steady rate; one viewer on the hub.

The edges are real relays with their own websocket servers and ``Upstream``
pushers (several per process, each relay on its own loop thread, so 50 fit on
a small machine); the hub is a separate process; the viewer (this process)
follows the hub like ``attach`` and measures, per event, the time from the
edge's relay taking it to the viewer receiving it. Reported: p50/p99 of that
latency, events/s received, anything lost, and the hub's RSS at the end.

Run: ``.venv/bin/python bench/bench_hub_fleet.py [--edges 50] [--rate 100] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ws import pct  # noqa: E402

from watchkeeper.protocol import wire  # noqa: E402
from watchkeeper.relay.servers.wsserver import FLUSH_INTERVAL  # noqa: E402

PER_PROCESS = 10


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_hub() -> None:
    from watchkeeper.relay import Relay
    from watchkeeper.relay.servers.wsserver import serve_ws

    relay = Relay(flush_interval=FLUSH_INTERVAL).start()
    server = serve_ws(relay, None, port=0, queue_limit=50_000)
    server.ready.wait(10)
    print("ready", server.port, flush=True)
    sys.stdin.readline()
    print("rss", rss_mb(), flush=True)
    sys.stdin.read()
    relay.stop()


class Steady:
    """One session's events at ``rate`` per second, in bursts every 0.1 s, stamped with when they were made."""

    agent_kind = "sdk"

    def __init__(self, session: str, rate: float, go: float, stop: float) -> None:
        self.name = f"steady {session}"
        self.session, self.rate, self.go, self.stop = session, rate, go, stop

    async def run(self, emit: Any) -> None:
        from watchkeeper.protocol import Kind, make_event

        emit([make_event(f"{self.session}:start", self.session, Kind.SESSION_STARTED, {"title": self.session})])
        await asyncio.sleep(max(0.0, self.go - time.time()))
        n, start = 0, time.time()
        while time.time() < self.stop:
            due = int((time.time() - start) * self.rate)
            now = time.time()
            emit([make_event(f"{self.session}:{i}", self.session, Kind.MESSAGE_USER,
                             {"text": f"m{i}", "origin": "prompt", "sent": now}) for i in range(n, due)])
            n = due
            await asyncio.sleep(0.1)
        print("sent", self.session, n, flush=True)


def child_edges(hub: str, first: int, count: int, rate: float, go: float, stop: float) -> None:
    from watchkeeper.relay import Relay
    from watchkeeper.relay.servers.upstream import Upstream
    from watchkeeper.relay.servers.wsserver import serve_ws

    relays = []
    for k in range(first, first + count):
        relay = Relay(flush_interval=FLUSH_INTERVAL).start()
        server = serve_ws(relay, None, port=0)
        server.ready.wait(10)
        relay.add_source(Upstream(server, hub, "", edge=f"edge-{k}"))
        relay.add_source(Steady(f"s{k}", rate, go, stop))
        relays.append(relay)
    print("ready", flush=True)
    sys.stdin.read()
    for relay in relays:
        relay.stop()


class Viewer:
    """Follows every session of the hub like ``attach``; latency of each event made after ``go``."""

    def __init__(self, url: str) -> None:
        from watchkeeper.adapters.remote.resume import Tracker

        self.url = url
        self.tracker = Tracker("bench")
        self.latencies: list[float] = []
        self.received = 0

    async def run(self) -> None:
        from watchkeeper.reconnect import dial

        async with dial(self.url, None) as ws:
            hello = wire.decode(await ws.recv(decode=False))
            await ws.send(wire.dumps(wire.hello_client("viewer", "bench")), text=True)
            await ws.send(wire.dumps(self.tracker.connected(hello["epoch"])), text=True)
            while True:
                msg = wire.decode(await ws.recv(decode=False))
                if msg["t"] == "events":
                    ready, out = self.tracker.events(msg["events"], msg.get("coalesced"))
                elif msg["t"] == "range":
                    ready, out = self.tracker.range(msg)
                elif msg["t"] == "resync":
                    ready, out = self.tracker.resync(msg["session"], msg["from_seq"])
                else:
                    ready, out = [], []
                now = time.time()
                for e in ready:
                    sent = e["data"].get("sent")
                    if sent is not None:
                        self.latencies.append(now - sent)
                        self.received += 1
                for m in out:
                    await ws.send(wire.dumps(m), text=True)


async def main(edges: int, rate: float, seconds: float) -> None:
    hub = subprocess.Popen([sys.executable, __file__, "--role", "hub"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert hub.stdin is not None and hub.stdout is not None
    url = f"ws://127.0.0.1:{hub.stdout.readline().split()[1]}"
    viewer = Viewer(url)
    watching = asyncio.create_task(viewer.run())
    go = time.time() + 3 + edges * 0.05
    stop = go + seconds
    procs = []
    for first in range(0, edges, PER_PROCESS):
        count = min(PER_PROCESS, edges - first)
        procs.append(subprocess.Popen([sys.executable, __file__, "--role", "edges", url, str(first), str(count),
                                       str(rate), str(go), str(stop)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, cwd=ROOT))
    sent = 0
    for p in procs:
        assert p.stdout is not None
        await asyncio.to_thread(p.stdout.readline)
    for p in procs:
        assert p.stdout is not None
        for _ in range(min(PER_PROCESS, edges)):
            line = (await asyncio.to_thread(p.stdout.readline)).split()
            if line and line[0] == "sent":
                sent += int(line[2])
    deadline = time.time() + 60
    while viewer.received < sent and time.time() < deadline:
        await asyncio.sleep(0.1)
    hub.stdin.write("rss\n")
    hub.stdin.flush()
    rss = float(hub.stdout.readline().split()[1])
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()
        p.wait(60)
    hub.stdin.close()
    hub.wait(60)
    lat = viewer.latencies
    print(f"{edges} edges x {rate:g} events/s for {seconds:g} s: {sent:,} sent, {viewer.received:,} received "
          f"({'nothing lost' if viewer.received == sent and not viewer.tracker.stats['missed'] else 'LOST'})")
    print(f"edge -> hub -> viewer latency, ms: p50 {pct(lat, 50):.1f}  p99 {pct(lat, 99):.1f}")
    print(f"hub RSS at the end: {rss:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--edges", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--role", nargs="+")
    args = parser.parse_args()
    if args.role:
        if args.role[0] == "hub":
            child_hub()
        else:
            url, first, count, rate, go, stop = args.role[1:]
            child_edges(url, int(first), int(count), float(rate), float(go), float(stop))
    else:
        asyncio.run(main(args.edges, args.rate, args.seconds))
