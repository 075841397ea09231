"""The remote path: an SDK agent -> ``serve`` -> subscribers, beside a bare websockets echo, in one run.

Three processes, as in real use: the relay with its websocket server, the
SDK agent (``watchkeeper.sdk.connect``), and the subscribers (this process;
each follows the relay the way ``attach`` does, resync and range reads
included, and counts what it gets: nothing lost means every one counts every
event, in seq order, with none missed). Events are real conversions of the
shared samples. Measured:

- events/s, batched (the SDK's frames of up to 1,000) to 1 and to 10 subscribers,
  and one event per frame to 1; the bare echo sends the same frames to a
  websockets server that sends them back;
- latency at 1,000 events/s, agent to subscriber, p50/p99 (the relay batches
  deliveries, at most every ``FLUSH_INTERVAL`` as ``serve`` sets it); the
  echo's is the round trip of the same frames;
- the relay process's CPU time per event delivered to one subscriber.

Run: ``.venv/bin/python bench/bench_ws.py [--events 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watchkeeper.protocol import wire  # noqa: E402
from watchkeeper.relay.servers.wsserver import FLUSH_INTERVAL  # noqa: E402

MAX = 2**27


def payloads(n: int) -> list[tuple[str, dict[str, Any]]]:
    from bench_relay import real_events

    return [(ev["kind"], ev["data"]) for ev in real_events(n)]


# --- the child processes ------------------------------------------------------------------------


def child_serve() -> None:
    from watchkeeper.relay import Relay
    from watchkeeper.relay.servers.wsserver import serve_ws

    relay = Relay(flush_interval=FLUSH_INTERVAL).start()
    server = serve_ws(relay, None, port=0, queue_limit=50_000)
    server.ready.wait(10)
    print("ready", server.port, flush=True)
    start = time.process_time()
    sys.stdin.readline()
    print("cpu", time.process_time() - start, flush=True)
    sys.stdin.read()
    relay.stop()


def child_echo() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, compression=None, max_size=MAX) as server:
            print("ready", next(iter(server.sockets)).getsockname()[1], flush=True)
            await asyncio.to_thread(sys.stdin.read)

    asyncio.run(main())


def child_agent(url: str, n: int, frame: int, rate: float) -> None:
    from watchkeeper import sdk

    async def main() -> None:
        wire.FRAME_EVENTS = frame
        events = payloads(n)
        run = await sdk.connect(url, token=None, title="bench")
        await run.flush()
        print("ready", run.session, flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        start = time.perf_counter()
        for i, (kind, data) in enumerate(events):
            if rate:
                data = {**data, "sent": time.time()}
                await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
            run._emit(kind, data)
            if i % 1000 == 999:
                await asyncio.sleep(0)
        await run.flush(600)
        await run.close()
        print("sent", flush=True)

    asyncio.run(main())


# --- this process: subscribers and the echo client --------------------------------------------------


class Subscriber:
    """Follows the relay like ``attach`` (the same bookkeeping), counting one session's events."""

    def __init__(self, url: str, session: str, total: int) -> None:
        from watchkeeper.adapters.remote.resume import Tracker

        self.url, self.session, self.total = url, session, total
        self.tracker = Tracker("bench")
        self.latencies: list[float] = []
        self.done = asyncio.Event()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        from watchkeeper.reconnect import dial

        async with dial(self.url, None) as ws:
            hello = wire.decode(await ws.recv(decode=False))
            await ws.send(wire.dumps(wire.hello_client("viewer", "bench")), text=True)
            await ws.send(wire.dumps(self.tracker.connected(hello["epoch"])), text=True)
            self.ready.set()
            while not self.done.is_set():
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
                self.latencies += [now - e["data"]["sent"] for e in ready if "sent" in e["data"]]
                for m in out:
                    await ws.send(wire.dumps(m), text=True)
                s = self.tracker.sessions.get(self.session)
                if s is not None and s.next >= self.total:
                    self.done.set()


class Child:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--role", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def line(self) -> list[str]:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().split()

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(60)


async def through_serve(n: int, subscribers: int, frame: int = 1000, rate: float = 0) -> dict[str, Any]:
    """A fresh relay each time, so subscribers get this run's events and no earlier history."""
    serve = Child("serve")
    url = f"ws://127.0.0.1:{(await asyncio.to_thread(serve.line))[1]}"
    agent = Child("agent", url, str(n), str(frame), str(rate))
    ready = await asyncio.to_thread(agent.line)
    session = ready[1]
    subs = [Subscriber(url, session, n + 1) for _ in range(subscribers)]
    tasks = [asyncio.create_task(s.run()) for s in subs]
    await asyncio.gather(*(s.ready.wait() for s in subs))
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    agent.say("go")
    await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in subs)), 900)
    elapsed = time.perf_counter() - start
    await asyncio.to_thread(agent.line)
    agent.stop()
    serve.say("cpu")
    cpu = float((await asyncio.to_thread(serve.line))[1])
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    serve.stop()
    stats = [s.tracker.stats for s in subs]
    lost = [st["events"] + st["coalesced"] for st in stats if st["events"] + st["coalesced"] < n + 1]
    lost += [st["missed"] for st in stats if st["missed"]]
    return {"rate": n / elapsed, "lost": lost, "resyncs": sum(st["resyncs"] for st in stats),
            "coalesced": sum(st["coalesced"] for st in stats), "relay_cpu_us": cpu / (n * subscribers) * 1e6,
            "latencies": [x for s in subs for x in s.latencies]}


async def through_echo(port: int, events: list[tuple[str, dict[str, Any]]], frame: int,
                       rate: float = 0) -> dict[str, Any]:
    from watchkeeper.reconnect import dial

    frames = [[{"kind": k, "data": d} for k, d in events[i:i + frame]] for i in range(0, len(events), frame)]
    got = 0
    latencies: list[float] = []
    async with dial(f"ws://127.0.0.1:{port}", None) as ws:
        async def receive() -> None:
            nonlocal got
            while got < len(events):
                msg = orjson.loads(await ws.recv(decode=False))
                got += len(msg["events"])
                if rate:
                    latencies.append(time.time() - msg["sent"])

        receiver = asyncio.create_task(receive())
        start = time.perf_counter()
        for i, batch in enumerate(frames):
            if rate:
                await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
            await ws.send(orjson.dumps({"t": "events", "n": i, "events": batch, "sent": time.time()}), text=True)
        await asyncio.wait_for(receiver, 600)
        elapsed = time.perf_counter() - start
    return {"rate": len(events) / elapsed, "latencies": latencies}


def pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] * 1000 if len(xs) > 1 else float("nan")


async def main(n: int, paced: int) -> None:
    echo = Child("echo")
    echo_port = int(echo.line()[1])
    events = payloads(n)
    size = len(orjson.dumps([{"kind": k, "data": d} for k, d in events])) / n
    print(f"{n:,} real events (~{size:.0f} bytes each); agent, relay and subscribers in 3 processes\n")
    print(f"{'path':<44}{'events/s':>12}  {'relay CPU/delivery':>18}  nothing lost")
    rows = [("bare echo, 1,000 per frame", await through_echo(echo_port, events, 1000)),
            ("serve, SDK batched -> 1 subscriber", await through_serve(n, 1)),
            ("serve, SDK batched -> 10 subscribers", await through_serve(n, 10)),
            ("bare echo, 1 per frame", await through_echo(echo_port, events[: n // 5], 1)),
            ("serve, SDK 1 per frame -> 1 subscriber", await through_serve(n // 5, 1, frame=1))]
    for name, r in rows:
        lost = "" if "lost" not in r else ("yes" if not r["lost"] else f"NO: {r['lost']}")
        extra = "".join(f", {r[k]:,} {k}" for k in ("resyncs", "coalesced") if r.get(k))
        cpu = f"{r['relay_cpu_us']:.1f} µs" if "relay_cpu_us" in r else ""
        print(f"{name:<44}{r['rate']:>12,.0f}  {cpu:>18}  {lost}{extra}")
    echo_frame, serve_frame = rows[3][1]["rate"], rows[4][1]["rate"]
    print(f"per-frame path: {serve_frame / echo_frame:.2f}x the bare echo")

    print(f"\nlatency at 1,000 events/s ({paced:,} events), ms{'':<14}{'p50':>8}{'p99':>8}")
    echo_lat = (await through_echo(echo_port, events[:paced], 1, rate=1000))["latencies"]
    serve_lat = (await through_serve(paced, 1, frame=1, rate=1000))["latencies"]
    print(f"{'bare echo (round trip)':<44}{pct(echo_lat, 50):>8.2f}{pct(echo_lat, 99):>8.2f}")
    print(f"{'agent -> serve -> subscriber':<44}{pct(serve_lat, 50):>8.2f}{pct(serve_lat, 99):>8.2f}")
    echo.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--paced", type=int, default=3_000)
    parser.add_argument("--role", nargs="+")
    args = parser.parse_args()
    if args.role:
        role, *rest = args.role
        if role == "serve":
            child_serve()
        elif role == "echo":
            child_echo()
        else:
            child_agent(rest[0], int(rest[1]), int(rest[2]), float(rest[3]))
    else:
        asyncio.run(main(args.events, args.paced))
