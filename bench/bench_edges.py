"""Edge -> hub -> viewer beside serve -> viewer, in one run: what the extra hop costs.

Processes as in real use: an SDK agent reports to a relay (``serve``'s
websocket server); in the edge path that relay is an edge that pushes to a
hub (``serve --upstream``, another process), and the subscriber (this
process, following like ``attach``, every event counted once, in order)
follows the hub; in the direct path it follows the agent's relay. Events are
real conversions of the shared samples (``bench_relay.real_events``).
Measured: events/s (the SDK's frames of up to 1,000), and latency at 1,000
events/s (one event per frame), agent to subscriber, p50/p99.

Run: ``.venv/bin/python bench/bench_edges.py [--events 50000]``.
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

from bench_ws import Child, Subscriber, pct, through_serve  # noqa: E402

from watchkeeper.relay.servers.wsserver import FLUSH_INTERVAL  # noqa: E402


def child_relay(upstream: str | None) -> None:
    """A hub (no upstream) or an edge pushing to ``upstream``; prints its port, stops at end of stdin."""
    from watchkeeper.relay import Relay
    from watchkeeper.relay.servers.upstream import Upstream
    from watchkeeper.relay.servers.wsserver import serve_ws

    relay = Relay(flush_interval=FLUSH_INTERVAL).start()
    server = serve_ws(relay, None, port=0, queue_limit=50_000)
    server.ready.wait(10)
    if upstream:
        relay.add_source(Upstream(server, upstream, "", edge="bench-edge"))
    print("ready", server.port, flush=True)
    sys.stdin.read()
    relay.stop()


class Role(Child):
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--role", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)


async def through_hub(n: int, frame: int = 1000, rate: float = 0) -> dict[str, Any]:
    """Fresh hub and edge each time; the subscriber follows the hub."""
    hub = Role("relay")
    hub_url = f"ws://127.0.0.1:{(await asyncio.to_thread(hub.line))[1]}"
    edge = Role("relay", hub_url)
    edge_url = f"ws://127.0.0.1:{(await asyncio.to_thread(edge.line))[1]}"
    agent = Child("agent", edge_url, str(n), str(frame), str(rate))
    session = (await asyncio.to_thread(agent.line))[1]
    sub = Subscriber(hub_url, session, n + 1)
    task = asyncio.create_task(sub.run())
    await sub.ready.wait()
    await asyncio.sleep(0.5)
    start = time.perf_counter()
    agent.say("go")
    await asyncio.wait_for(sub.done.wait(), 900)
    elapsed = time.perf_counter() - start
    await asyncio.to_thread(agent.line)
    agent.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    edge.stop()
    hub.stop()
    st = sub.tracker.stats
    lost = st["events"] + st["coalesced"] < n + 1 or st["missed"] > 0
    return {"rate": n / elapsed, "lost": lost, "latencies": sub.latencies}


async def main(n: int, paced: int) -> None:
    print(f"{n:,} real events; agent, relay(s) and subscriber in separate processes\n")
    print(f"{'path':<44}{'events/s':>12}  nothing lost")
    direct = await through_serve(n, 1)
    hop = await through_hub(n)
    print(f"{'serve -> viewer':<44}{direct['rate']:>12,.0f}  {'NO' if direct['lost'] else 'yes'}")
    print(f"{'edge -> hub -> viewer':<44}{hop['rate']:>12,.0f}  {'NO' if hop['lost'] else 'yes'}")
    print(f"edge path: {hop['rate'] / direct['rate']:.2f}x serve -> viewer")
    print(f"\nlatency at 1,000 events/s ({paced:,} events), ms{'':<14}{'p50':>8}{'p99':>8}")
    d = (await through_serve(paced, 1, frame=1, rate=1000))["latencies"]
    h = (await through_hub(paced, frame=1, rate=1000))["latencies"]
    print(f"{'agent -> serve -> viewer':<44}{pct(d, 50):>8.2f}{pct(d, 99):>8.2f}")
    print(f"{'agent -> edge -> hub -> viewer':<44}{pct(h, 50):>8.2f}{pct(h, 99):>8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--paced", type=int, default=3_000)
    parser.add_argument("--role", nargs="+")
    args = parser.parse_args()
    if args.role:
        child_relay(args.role[1] if len(args.role) > 1 else None)
    else:
        asyncio.run(main(args.events, args.paced))
