"""A serve that runs long: 5,000 events/s for 10 minutes (3M events), RSS over time, nothing lost.

Budget (DESIGN, raised 2026-12-06): a watch or serve that runs for days keeps history on
disk beyond a working set; after 3M events RSS stays <= 500 MB and flat, and range reads
and resumes still serve any seq. The floor beside it is the same process before the
stream starts (interpreter, relay, websocket server, a viewer connected).

One process, as ``serve`` runs: a relay (default working set, ``relay/spill.py``) served
over a real websocket on 127.0.0.1, one viewer connected over it (a plain websocket client
on the main thread counting what it receives, and its lag from emit), and the live-stream
mix of ``bench_live_stream.py`` emitted by the relay's own loop at ``--rate`` events/s.
RSS is printed every ``--every`` seconds. At the end, "nothing lost": every seq of the
session is read back by range (in chunks) and checked against what was emitted, a second
viewer resumes over the websocket from seq 0 and from the middle, and a search over the
whole spilled history runs off the loop, timed, and is cancelled once mid-way.

Run: ``.venv/bin/python bench/bench_long_run.py [--seconds 600] [--rate 5000] [--every 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import threading
import time
from array import array
from typing import Any

from bench_live_stream import SESSION, Stream, event, rss_mib

from watchkeeper.protocol import wire
from watchkeeper.reconnect import dial
from watchkeeper.relay import Relay
from watchkeeper.relay.servers.wsserver import serve_ws

TOKEN = "bench-long-run-token"
TARGET_RSS_MIB = 500 * 10**6 / 2**20


async def viewer(url: str, stream: Stream, seen: dict[str, Any], stop: asyncio.Event,
                 from_seq: int | None = None, until: int | None = None) -> None:
    """A websocket viewer: counts events of the session and their lag; resumes from ``from_seq`` if given.

    Told to resync (it fell behind), it reads the rest back by range, as the app's remote viewer does,
    and follows again from where that ended.
    """
    async with dial(url, TOKEN) as ws:
        hello = wire.decode(await ws.recv(decode=False))
        await ws.send(wire.dumps(wire.hello_client("viewer", "bench")), text=True)
        positions = {SESSION: from_seq} if from_seq is not None else {}
        await ws.send(wire.dumps({"t": "subscribe", "epoch": hello["epoch"], "from": positions}), text=True)
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), 1.0)
            except TimeoutError:
                continue
            msg = wire.decode(raw)
            if msg["t"] == "resync" and msg.get("session") == SESSION:
                seen["resyncs"] = seen.get("resyncs", 0) + 1
                await ws.send(wire.dumps({"t": "range", "id": "r", "session": SESSION, "start": msg["from_seq"],
                                          "stop": msg["from_seq"] + wire.RANGE_MAX}), text=True)
                continue
            if msg["t"] == "range":
                events = msg["events"]
                seen["count"] += len(events)
                if events:
                    seen["last"] = events[-1]["seq"]
                nxt = seen["last"] + 1
                if until is not None and seen["last"] >= until:
                    return
                if msg["end"] - nxt > wire.RANGE_MAX:
                    await ws.send(wire.dumps({"t": "range", "id": "r", "session": SESSION, "start": nxt,
                                              "stop": nxt + wire.RANGE_MAX}), text=True)
                else:
                    await ws.send(wire.dumps({"t": "subscribe", "epoch": hello["epoch"], "from": {SESSION: nxt}}),
                                  text=True)
                continue
            if msg["t"] != "events":
                continue
            now = time.perf_counter()
            for e in msg["events"]:
                if e["session"] != SESSION:
                    continue
                seen["count"] += 1
                seen["last"] = e["seq"]
                n = e["data"].get("n", 0)
                if n and until is None and n < len(stream.emitted) and stream.emitted[n]:
                    seen["lags"].append(now - stream.emitted[n])
            if until is not None and seen["last"] >= until:
                return


def check_all(relay: Relay, total: int) -> tuple[int, float]:
    """Every seq read back by range, checked against the emitted stream: (mismatches, seconds)."""
    t = time.perf_counter()
    bad = 0
    chunk = 5000
    for start in range(0, total, chunk):
        got = relay.read_range(SESSION, start, start + chunk)
        for i, e in enumerate(got, start):
            if e["seq"] != i or e["id"] != event(i)["id"]:
                bad += 1
        bad += max(0, min(chunk, total - start) - len(got))
    return bad, time.perf_counter() - t


async def main(seconds: float, rate: int, every: float) -> None:
    relay = Relay().start()
    server = serve_ws(relay, TOKEN, port=0)
    assert server.ready.wait(10) and server.error is None
    stream = Stream(rate, seconds)
    seen: dict[str, Any] = {"count": 0, "last": -1, "lags": array("d")}
    stop = asyncio.Event()
    live = asyncio.create_task(viewer(server.url, stream, seen, stop))
    await asyncio.sleep(1.0)
    floor = rss_mib()
    t0 = time.perf_counter()
    relay.add_source(stream)
    print(f"long run: {rate:,} events/s for {seconds:.0f} s ({stream.total:,} events), one session, "
          f"served over a websocket with one viewer; working set {relay._book._keep:,} events per session")
    print(f"floor (process before the stream): {floor:.1f} MiB\n")
    print(f"{'t (s)':>7} {'events':>11} {'RSS MiB':>9} {'in memory':>10} {'viewer got':>11} {'lag p99 ms':>11}")
    samples: list[tuple[float, float]] = []
    next_at = 0.0
    while seen["count"] < stream.total:
        await asyncio.sleep(0.5)
        t = time.perf_counter() - t0
        if t >= next_at:
            next_at += every
            lags = sorted(seen["lags"][-rate * int(every):]) or [0.0]
            rss = rss_mib()
            samples.append((t, rss))
            info = relay.session(SESSION)
            print(f"{t:7.0f} {(info.last_seq + 1 if info else 0):>11,} {rss:9.1f} {relay.in_memory():>10,} "
                  f"{seen['count']:>11,} {lags[int(len(lags) * 0.99)] * 1000:11.1f}", flush=True)
        if t > seconds * 3 + 120:
            print("the viewer fell behind for good; stopping")
            break
    samples.append((time.perf_counter() - t0, rss_mib()))
    stop.set()
    await live
    total = stream.total
    lags = sorted(x * 1000 for x in seen["lags"]) or [0.0]
    peak = max(r for _, r in samples)
    later = [r for t, r in samples if t >= seconds / 2]
    print(f"\nviewer lag emit -> websocket: p50 {statistics.median(lags):.1f} ms, "
          f"p99 {lags[int(len(lags) * 0.99)]:.1f} ms, max {lags[-1]:.1f} ms")
    print(f"RSS: floor {floor:.1f} MiB, peak {peak:.1f} MiB, at the end {samples[-1][1]:.1f} MiB; second half "
          f"{min(later):.1f}..{max(later):.1f} MiB; target <= {TARGET_RSS_MIB:.0f} MiB: "
          f"{'met' if peak <= TARGET_RSS_MIB else 'MISSED'}")
    bad, took = check_all(relay, total)
    print(f"nothing lost: {total:,} events read back by range in {took:.1f} s, {bad} missing or wrong")
    for start in (0, total // 2):
        again: dict[str, Any] = {"count": 0, "last": -1, "lags": array("d")}
        t = time.perf_counter()
        async with asyncio.timeout(900):
            await viewer(server.url, stream, again, asyncio.Event(), from_seq=start, until=total - 1)
        print(f"resume over the websocket from seq {start:,}: {again['count']:,} events "
              f"(expected {total - start:,}, {again.get('resyncs', 0)} resyncs read back by range) "
              f"in {time.perf_counter() - t:.1f} s, RSS {rss_mib():.1f} MiB")
    search = relay.search(SESSION, "pytest -k t2999")
    t = time.perf_counter()
    hits = search.result(600)
    print(f"search over the whole history (off the loop): {len(hits):,} hits in {time.perf_counter() - t:.1f} s")
    cancel = relay.search(SESSION, "no such text anywhere")
    threading.Timer(0.2, cancel.cancel).start()
    t = time.perf_counter()
    try:
        cancel.result(600)
        print("search cancel: it finished before it was cancelled")
    except Exception as e:
        print(f"search cancelled after {time.perf_counter() - t:.2f} s ({type(e).__name__})")
    print(f"RSS at the end: {rss_mib():.1f} MiB; spool {relay.spool.directory if relay.spool else None}: "
          f"{_du(relay.spool.directory if relay.spool else None) / 2**20:,.0f} MiB on disk")
    relay.stop()


def _du(path: Any) -> int:
    if path is None:
        return 0
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--every", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rate, args.every))
