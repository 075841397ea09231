"""The conversation view (v) of a history the relay reads back on demand never freezes the viewer.

The same real relay as ``test_viewer_pageback.py`` (:class:`GatedRelay`: range
reads held on a gate, or failing as a relay gone would). The conversation is
laid out from the store's columns without reading an event, so ``v`` shows it
at once; blocks not read yet are ``… seq N`` placeholders while a worker reads
them, keys go on being handled, and the real text replaces them when the read
lands; a read that fails says why on its blocks.
"""

from __future__ import annotations

from typing import Any

from test_viewer_pageback import (  # noqa: F401 (gated_relay: the ``relay`` fixture)
    SHORT_TAIL,
    GatedRelay,
    N,
    S,
    at_the_end,
    gated_relay,
    page_up_into_unread,
    prompt,
)
from test_viewer_support import screen_text
from waiting import until_app

from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.conversation import GUESS
from watchkeeper.viewer.model.conversation import Conversation as Blocks
from watchkeeper.viewer.model.conversation_blocks import plain_text
from watchkeeper.viewer.model.event_log import CHUNK
from watchkeeper.viewer.model.relay_events import RelayEvents
from watchkeeper.viewer.model.timeline_store import TimelineStore
from watchkeeper.viewer.screens.session import SessionScreen


def test_the_blocks_are_laid_out_without_reading_an_event(relay: GatedRelay) -> None:
    reads: list[tuple[int, int]] = []

    def read(start: int, stop: int) -> list[dict[str, Any]]:
        reads.append((start, stop))
        return relay.read_range(S, start, stop)

    store = TimelineStore(RelayEvents(read, S))
    store.add(relay.read_range(S, 0, N))
    blocks = Blocks(store)
    blocks.rebuild(store)
    blocks.set_width(80)
    assert reads == [] and len(blocks.blocks) == N
    assert blocks.first_line(0) == 0 and blocks.height(0) == 1 + GUESS[0], "the first turn's header, a guess"
    with store.events.no_wait():
        assert blocks.measure(1) == GUESS[0], "still an estimate: no read on this thread"
        assert reads == [] and blocks.missed == {0}
    assert plain_text(blocks.lines(1)).strip() == prompt(1), "outside no_wait, a read waits as before"
    assert reads and blocks.height(1) == 1 and blocks.is_measured(1)


async def open_on_unread(app: WatchkeeperApp, pilot: Any, relay: GatedRelay) -> tuple[SessionScreen, int]:
    """The timeline on a row not read yet (its read held or failing), then ``v``; that row."""
    screen = await at_the_end(app, pilot)
    row = await page_up_into_unread(pilot, screen)
    await pilot.press("v")
    assert screen.conversation.display, "v shows the conversation at once"
    return screen, row


async def test_v_shows_placeholders_at_once_keys_go_on_and_the_text_fills_in(relay: GatedRelay) -> None:
    app = WatchkeeperApp(relay, open_session=S)
    async with app.run_test(size=(120, 40)) as pilot:
        relay.gate.clear()
        screen, row = await open_on_unread(app, pilot, relay)
        conversation = screen.conversation
        await until_app(pilot, lambda: f"… seq {row}" in screen_text(app), what="placeholders while the read waits")
        assert prompt(row) not in screen_text(app) and not relay.gate.is_set()
        assert conversation.selected_head == row
        await pilot.press("up", "up", "up")
        assert conversation.selected_head == row - 3, "keys are handled while the read is pending"
        await pilot.press("v")
        assert not conversation.display and screen.timeline.display, "v goes back while the read is pending"
        await pilot.press("v")
        assert conversation.display and conversation.selected_head == row - 3
        relay.gate.set()
        await until_app(pilot, lambda: prompt(row - 3) in screen_text(app) and "… seq" not in screen_text(app),
                        what="the blocks, read", seen=lambda: screen_text(app))
        await pilot.press("pageup")
        await until_app(pilot, lambda: "… seq" not in screen_text(app) and prompt(conversation.cursor)
                        in screen_text(app), what="older blocks, read as they come on screen")


async def test_q_quits_while_the_conversation_waits_for_a_read(relay: GatedRelay) -> None:
    app = WatchkeeperApp(relay, open_session=S)
    async with app.run_test(size=(120, 40)) as pilot:
        relay.gate.clear()
        _, row = await open_on_unread(app, pilot, relay)
        await until_app(pilot, lambda: f"… seq {row}" in screen_text(app))
        await pilot.press("pageup", "pageup")
        await pilot.press("q")
        await until_app(pilot, lambda: not app.is_running, what="the app quits without waiting for the read")
        relay.gate.set()


async def test_a_read_that_fails_says_why_on_its_blocks(relay: GatedRelay) -> None:
    app = WatchkeeperApp(relay, open_session=S)
    async with app.run_test(size=(120, 40)) as pilot:
        relay.broken = "the relay is gone"
        _, row = await open_on_unread(app, pilot, relay)
        failed = f"seq {row} could not be read: ConnectionError: the relay is gone"
        await until_app(pilot, lambda: failed in screen_text(app), seen=lambda: screen_text(app))
        assert "… seq" not in screen_text(app), "no block left waiting for a read that failed"
        assert prompt(row) not in screen_text(app) and row // CHUNK < (N - SHORT_TAIL) // CHUNK
