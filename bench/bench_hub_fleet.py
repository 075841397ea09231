"""A hub with many edges: each edge a relay pushing one session at a steady rate; viewers on the hub.

The edges are real relays with their own websocket servers and ``Upstream``
pushers (several per process, each relay on its own loop thread, so 50 fit on
a small machine); the hub is a separate process; the viewer (this process)
follows the hub like ``attach`` and measures, per event, the time from the
edge's relay taking it to the viewer receiving it. Reported: p50/p99 of that
latency, events/s received, anything lost, and the hub's RSS at the end.

A screen runs beside it: the real viewer app (``attach``'s: a local relay
following a served one, ``WatchkeeperApp`` open on edge 0's session, headless
120×40 under Textual's pilot) in its own process, attached to the hub. It
measures from the edge taking an event until the timeline paints it
(``bench_live_stream.on_screen``). Then, in the same run, the same sessions at
the same rates come from one ``serve`` that a screen attaches to directly: the
hub's cost on the way to the person's screen reads beside the direct path.

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
                             {"text": f"m{i}", "origin": "prompt", "sent": now, "n": i + 1})
                  for i in range(n, due)])
            n = due
            await asyncio.sleep(0.1)
        print("sent", self.session, n, flush=True)


def child_edges(hub: str, first: int, count: int, rate: float, go: float, stop: float) -> None:
    from watchkeeper.relay import Relay
    from watchkeeper.relay.servers.upstream import Upstream
    from watchkeeper.relay.servers.wsserver import serve_ws

    relays, ports = [], []
    for k in range(first, first + count):
        relay = Relay(flush_interval=FLUSH_INTERVAL).start()
        server = serve_ws(relay, None, port=0)
        server.ready.wait(10)
        relay.add_source(Upstream(server, hub, "", edge=f"edge-{k}"))
        relay.add_source(Steady(f"s{k}", rate, go, stop))
        relays.append(relay)
        ports.append(str(server.port))
    print("ready", *ports, flush=True)
    sys.stdin.read()
    for relay in relays:
        relay.stop()


def child_screen(url: str, session: str) -> None:
    """The viewer app attached to ``url``, open on ``session``: lag from the edge to each event painted."""
    import json

    from bench_live_stream import on_screen

    from watchkeeper.adapters.remote import RemoteSource
    from watchkeeper.relay import Relay
    from watchkeeper.viewer import WatchkeeperApp
    from watchkeeper.viewer.screens.session import SessionScreen

    sent: dict[int, float] = {}
    lags: list[float] = []
    state = {"upto": 0}
    since = [float("inf")]

    def arrived(batch: list[Any]) -> None:
        for e in batch:
            if "n" in e["data"]:
                sent[e["data"]["n"]] = e["data"]["sent"]

    def seen(data: dict[str, Any]) -> None:
        n = data.get("n")
        if isinstance(n, int) and n > state["upto"]:
            now = time.time()
            lags.extend(now - sent[k] for k in range(state["upto"] + 1, n + 1)
                        if k in sent and sent[k] >= since[0])
            state["upto"] = n

    async def watch() -> None:
        relay = Relay().start()
        relay.subscribe(arrived, session)
        relay.add_source(RemoteSource(url, None))
        while relay.session(session) is None:
            await asyncio.sleep(0.05)
        on_screen(seen)
        app = WatchkeeperApp(relay, open_session=session)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                while not isinstance(app.screen, SessionScreen):
                    await pilot.pause(0.01)
                since[0] = time.time()
                print("ready", flush=True)
                sent_there = int(await asyncio.to_thread(sys.stdin.readline))
                deadline = time.time() + 30
                while state["upto"] < sent_there and time.time() < deadline:
                    await pilot.pause(0.05)
        finally:
            relay.stop()

    asyncio.run(watch())
    print(json.dumps({"n": len(lags), "p50": pct(lags, 50), "p99": pct(lags, 99), "painted": state["upto"]}),
          flush=True)


def start_screen(url: str, session: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, "--role", "screen", url, session], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)


async def screen_figures(screen: subprocess.Popen[str], sent: int) -> dict[str, Any]:
    """The screen's figures, once it painted the ``sent`` events of its session (or gave up waiting)."""
    import json

    assert screen.stdin is not None and screen.stdout is not None
    screen.stdin.write(f"{sent}\n")
    screen.stdin.flush()
    line = await asyncio.to_thread(screen.stdout.readline)
    screen.wait(60)
    figures: dict[str, Any] = json.loads(line)
    return figures


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


async def sent_counts(procs: list[tuple[subprocess.Popen[str], int]]) -> dict[str, int]:
    """Each session's count of events sent, as its process says once it stopped (``sent SESSION N``)."""
    sent: dict[str, int] = {}
    for p, sessions in procs:
        assert p.stdout is not None
        for _ in range(sessions):
            line = (await asyncio.to_thread(p.stdout.readline)).split()
            if line and line[0] == "sent":
                sent[line[1]] = int(line[2])
    return sent


async def ready_screen(url: str, go: float) -> subprocess.Popen[str]:
    screen = start_screen(url, "s0")
    assert screen.stdout is not None
    await asyncio.to_thread(screen.stdout.readline)
    if time.time() > go:
        print("(a screen was ready only after the agents began: it counts the events made since)")
    return screen


async def run_hub(edges: int, rate: float, seconds: float) -> dict[str, Any]:
    hub = subprocess.Popen([sys.executable, __file__, "--role", "hub"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert hub.stdin is not None and hub.stdout is not None
    url = f"ws://127.0.0.1:{hub.stdout.readline().split()[1]}"
    viewer = Viewer(url)
    watching = asyncio.create_task(viewer.run())
    go = time.time() + 8 + edges * 0.05
    stop = go + seconds
    procs = []
    for first in range(0, edges, PER_PROCESS):
        count = min(PER_PROCESS, edges - first)
        procs.append((subprocess.Popen([sys.executable, __file__, "--role", "edges", url, str(first), str(count),
                                        str(rate), str(go), str(stop)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, cwd=ROOT), count))
    for p, _ in procs:
        assert p.stdout is not None
        await asyncio.to_thread(p.stdout.readline)
    screen = await ready_screen(url, go)
    sent = await sent_counts(procs)
    total = sum(sent.values())
    deadline = time.time() + 60
    while viewer.received < total and time.time() < deadline:
        await asyncio.sleep(0.1)
    painted = await screen_figures(screen, sent["s0"])
    hub.stdin.write("rss\n")
    hub.stdin.flush()
    rss = float(hub.stdout.readline().split()[1])
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    for p, _ in procs:
        assert p.stdin is not None
        p.stdin.close()
        p.wait(60)
    hub.stdin.close()
    hub.wait(60)
    return {"sent": total, "received": viewer.received, "missed": viewer.tracker.stats["missed"],
            "lat": viewer.latencies, "painted": painted, "rss": rss}


def child_direct(count: int, rate: float, go: float, stop: float) -> None:
    """One ``serve`` relay with ``count`` sessions at ``rate`` each: what a viewer attaches to without a hub."""
    from watchkeeper.relay import Relay
    from watchkeeper.relay.servers.wsserver import serve_ws

    relay = Relay(flush_interval=FLUSH_INTERVAL).start()
    server = serve_ws(relay, None, port=0, queue_limit=50_000)
    server.ready.wait(10)
    for k in range(count):
        relay.add_source(Steady(f"s{k}", rate, go, stop))
    print("ready", server.port, flush=True)
    sys.stdin.read()
    relay.stop()


async def run_direct(sessions: int, rate: float, seconds: float) -> dict[str, Any]:
    go = time.time() + 8
    proc = subprocess.Popen([sys.executable, __file__, "--role", "direct", str(sessions), str(rate), str(go),
                             str(go + seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    url = f"ws://127.0.0.1:{(await asyncio.to_thread(proc.stdout.readline)).split()[1]}"
    screen = await ready_screen(url, go)
    sent = await sent_counts([(proc, sessions)])
    painted = await screen_figures(screen, sent["s0"])
    proc.stdin.close()
    proc.wait(60)
    return painted


async def main(edges: int, rate: float, seconds: float) -> None:
    hub = await run_hub(edges, rate, seconds)
    direct = await run_direct(edges, rate, seconds)
    lat = hub["lat"]
    lost = hub["received"] != hub["sent"] or hub["missed"]
    print(f"{edges} edges x {rate:g} events/s for {seconds:g} s: {hub['sent']:,} sent, {hub['received']:,} "
          f"received ({'LOST' if lost else 'nothing lost'})")
    print(f"edge -> hub -> viewer latency, ms: p50 {pct(lat, 50):.1f}  p99 {pct(lat, 99):.1f}")
    print(f"to the viewer's screen (the app open on one session, s0), then the same {edges} sessions served "
          "by one serve, attached directly:")
    for label, f in (("edge -> hub -> screen", hub["painted"]), ("serve -> screen, no hub", direct)):
        print(f"  {label:<24} {f['n']:6,} events painted, ms: p50 {f['p50']:.1f}  p99 {f['p99']:.1f}")
    print(f"hub RSS at the end: {hub['rss']:.0f} MB")


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
        elif args.role[0] == "screen":
            child_screen(args.role[1], args.role[2])
        elif args.role[0] == "direct":
            count, rate, go, stop = args.role[1:]
            child_direct(int(count), float(rate), float(go), float(stop))
        else:
            url, first, count, rate, go, stop = args.role[1:]
            child_edges(url, int(first), int(count), float(rate), float(go), float(stop))
    else:
        asyncio.run(main(args.edges, args.rate, args.seconds))
