"""An SDK agent as its own process, driven line by line on stdin, for the edge tests.

``say N [SIZE]``: report N more messages (each padded to about SIZE bytes), wait
until the relay acknowledged every event, print ``acked K`` (K: events
reported so far). ``end``: close the run (``session.ended``), print ``closed``.
It prints ``session ID`` once connected. Its connection to the relay comes back
by itself when the relay does (on the same address), as any SDK agent's does.
"""

from __future__ import annotations

import asyncio
import sys

from watchkeeper import sdk

WAIT = 60.0


async def main(url: str, token: str) -> None:
    run = await sdk.connect(url, token=token, title="an SDK agent on an edge")
    print(f"session {run.session}", flush=True)
    reported = 1
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        words = line.split()
        if not words:
            return
        if words[0] == "say":
            size = int(words[2]) if len(words) > 2 else 0
            for _ in range(int(words[1])):
                run.user(f"message {reported} " + "x" * size)
                reported += 1
            if not await run.flush(WAIT):
                print("not acknowledged", flush=True)
                continue
            print(f"acked {reported}", flush=True)
        elif words[0] == "end":
            await run.close()
            print("closed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
