"""The conversation view beside the timeline, on one session of 100,000 events, in one run.

Events go through the real relay into the real app (``WatchkeeperApp``, the
session screen), headless at 120×40 under Textual's pilot, as in
``bench_timeline.py``; the assistant's messages are Markdown of a few
paragraphs (the view wraps them). Printed, for the timeline and then for the
conversation (``v``) of the same session:

- load: app start to the whole history in the timeline; then ``v`` to the
  conversation drawn (all 100,000 events placed, the screen's blocks wrapped);
- under the pilot, per key press including the frame it causes, wall and CPU
  (all threads): cursor down/up, page down/up, end/home;
- the widget's own work per key, without the pilot: the action plus rendering
  every line on screen (``render_lines``, as a frame does), the figure to hold
  against one frame (16.7 ms at 60 fps);
- a resize: the first frame at a new width (only the blocks on screen re-wrap);
- following live: batches of 100 new events, each taken in and the screen drawn,
  by the conversation (on the timeline's store) and by the timeline alone.

Run: ``.venv/bin/python bench/bench_conversation.py [--events 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_timeline import SESSION, SIZE, session_events, stats, timed

from watchkeeper.protocol import Event
from watchkeeper.relay import IterSource, Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.widgets.conversation import Conversation
from watchkeeper.viewer.widgets.timeline import Timeline

ANSWER = (
    "I ran **the tests** and {i} failed. The cause is in `total()`: it sums `None` values.\n\n"
    "- fix `total()` to skip them\n- add a test for an empty list\n\n"
    "See [the docs](https://docs.example/{i}) for the rules. " + "More words to wrap over the width. " * 6
)


def conversation_events(n: int) -> list[Event]:
    """``bench_timeline``'s mix with Markdown answers of ~400 characters instead of one line."""
    events = session_events(n)
    for i, event in enumerate(events):
        if event["kind"] == "message.assistant":
            event["data"] = {"text": ANSWER.format(i=i)}
    return events


def per_key(widget: Timeline | Conversation, presses: int) -> dict[str, list[float]]:
    """The action and a full-screen render, no pilot: what one key costs the UI thread."""
    region = widget.scrollable_content_region.reset_offset

    def run(action: Callable[[], None], n: int) -> list[float]:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            action()
            widget.render_lines(region)  # as a frame draws it: the conversation measures its blocks here
            out.append(time.perf_counter() - t0)
        return out

    widget.action_first()
    return {
        "cursor down": run(widget.action_cursor_down, presses),
        "page down": run(widget.action_page_down, presses),
        "page up": run(widget.action_page_up, presses),
        "end": run(widget.action_last, 5),
    }


async def keys(pilot: Any, presses: int) -> None:
    figures = {
        "cursor down": await timed(pilot, ["down"] * presses),
        "cursor up": await timed(pilot, ["up"] * presses),
        "page down": await timed(pilot, ["pagedown"] * (presses // 2)),
        "page up": await timed(pilot, ["pageup"] * (presses // 2)),
        "end / home": await timed(pilot, ["end", "home"] * 10),
    }
    for name, (wall, cpu) in figures.items():
        print(f"    {name:<12} wall {stats(wall)}")
        print(f"    {'':<12} cpu  {stats(cpu)}")


def live(screen: SessionScreen, batches: list[list[Event]], conversation: bool) -> list[float]:
    """CPU per batch while following: the timeline takes it, the conversation (when shown) too, and the
    shown view draws its screen."""
    timeline, shown = screen.timeline, (screen.conversation if conversation else screen.timeline)
    timeline.set_live(True)
    shown.action_last()
    region = shown.scrollable_content_region.reset_offset
    out = []
    for batch in batches:
        c0 = time.process_time()
        timeline.add_events(batch)
        screen.conversation.sync()
        shown.render_lines(region)
        out.append(time.process_time() - c0)
    return out


async def run(events: list[Event], presses: int, more: list[Event]) -> None:
    relay = Relay().start()
    relay.add_source(IterSource("bench", events))
    relay.drain(600)
    app = WatchkeeperApp(relay, open_session=SESSION)
    t0 = time.perf_counter()
    try:
        async with app.run_test(size=SIZE) as pilot:
            while not isinstance(app.screen, SessionScreen) or len(app.screen.timeline.store.events) < len(events):
                await pilot.pause(0.05)
            screen = app.screen
            await app.workers.wait_for_complete()
            await pilot.pause()
            loaded = time.perf_counter() - t0
            timeline, conversation = screen.timeline, screen.conversation
            timeline.focus()
            await pilot.press("home")
            print(f"\ntimeline: {len(events):,} events, {len(timeline.store.view):,} rows")
            print(f"  app start to the whole history in the timeline {loaded:6.2f} s")
            print("  under the pilot, per key until idle again (wall; then CPU of the whole process):")
            await keys(pilot, presses)
            print(f"  the widget's own work per key (action + render {timeline.size.height} lines):")
            for name, samples in per_key(timeline, presses).items():
                print(f"    {name:<12} {stats(samples)}")

            await pilot.press("home")
            t0, c0 = time.perf_counter(), time.process_time()
            await pilot.press("v")
            await pilot.pause()
            toggled, toggled_cpu = time.perf_counter() - t0, time.process_time() - c0
            assert conversation.display and conversation.blocks.blocks
            print(f"\nconversation: {len(conversation.blocks.blocks):,} blocks, "
                  f"{conversation.blocks.total:,} lines (estimated until shown)")
            print(f"  v to the whole history in the conversation, drawn: wall {toggled * 1000:7.1f} ms, "
                  f"cpu {toggled_cpu * 1000:7.1f} ms")
            await pilot.press("home")
            print("  under the pilot, per key until idle again (wall; then CPU of the whole process):")
            await keys(pilot, presses)
            print(f"  the widget's own work per key (action + render {conversation.size.height} lines):")
            for name, samples in per_key(conversation, presses).items():
                print(f"    {name:<12} {stats(samples)}")
            t0, c0 = time.perf_counter(), time.process_time()
            await pilot.resize_terminal(SIZE[0] - 30, SIZE[1])
            await pilot.pause()
            print(f"  resize to {SIZE[0] - 30} columns, first frame: wall {(time.perf_counter() - t0) * 1000:.1f} ms, "
                  f"cpu {(time.process_time() - c0) * 1000:.1f} ms")
            batches = [more[i:i + 100] for i in range(0, len(more), 100)]
            half = len(batches) // 2
            print(f"\nfollowing live, {len(batches[0])} events a batch, CPU per batch (taken in and drawn):")
            print(f"    conversation {stats(live(screen, batches[:half], conversation=True))}")
            await pilot.press("v")
            await pilot.pause()
            print(f"    timeline     {stats(live(screen, batches[half:], conversation=False))}")
    finally:
        relay.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    print(f"Textual headless {SIZE[0]}x{SIZE[1]}")
    t0 = time.perf_counter()
    events = conversation_events(args.events + 10_000)
    events, more = events[:args.events], events[args.events:]
    print(f"(generated {args.events + len(more):,} events in {time.perf_counter() - t0:.1f} s)")
    asyncio.run(run(events, args.presses, more))


if __name__ == "__main__":
    cli()
