"""Paging back through a history the relay reads back on demand never freezes the viewer.

A real relay with a small working set spills the session to disk; the viewer
keeps only the newest ``TAIL`` events and reads older ones back with range
reads. :class:`GatedRelay` is that relay with its range reads held on a gate
(or failing, as a relay gone would), so each test can prove what the person
sees while a read is pending: placeholders drawn at once, keys handled, the
detail pane and a copy waiting visibly, then the real rows when it lands. The
last test reads back from a real transcript (its history indexed by the relay)
that changed since: its rows read as the relay's notices saying so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huge_support import SESSION as TRANSCRIPT_SESSION
from huge_support import grow, sample_session
from test_viewer_support import Notices, screen_text, status_text
from waiting import WAIT, until, until_app

from watchkeeper.adapters.base import gave_up
from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.protocol import make_event
from watchkeeper.relay import IterSource, Relay
from watchkeeper.relay.api import ReadCancelled
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model import event_log, relay_events
from watchkeeper.viewer.model.event_log import CHUNK, NotRead
from watchkeeper.viewer.model.relay_events import RelayEvents
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.widgets.detail_pane import DetailPane

S = "s"
#: The newest events the viewer keeps as they came, for these tests (``TAIL`` is 4,096): fewer pages to go.
SHORT_TAIL = CHUNK
N = SHORT_TAIL + 3 * CHUNK + 40


def prompt(i: int) -> str:
    return f"prompt #{i}!"


def history(n: int = N) -> list[dict[str, Any]]:
    return [make_event(f"u{i}", S, "message.user", {"text": prompt(i)}) for i in range(n)]


class GatedRelay(Relay):
    """The real relay; range reads of old seqs wait for ``gate`` (or raise, ``broken``) once the test says so."""

    def __init__(self) -> None:
        super().__init__(keep=2 * CHUNK)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self.broken: str | None = None
        #: Reads refused while ``broken``.
        self.refused = 0
        #: Reads given up at the gate by their reader (``relay.api.cancellable``), as a transcript's read is.
        self.given_up = 0

    def read_range(self, session: str, start: int, stop: int) -> list[dict[str, Any]]:
        if self.broken is not None:
            self.refused += 1
            raise ConnectionError(self.broken)
        if not self.gate.is_set():
            self.waiting.set()
            check = gave_up()
            for _ in range(int(WAIT / 0.01)):
                if self.gate.wait(0.01):
                    break
                if check is not None and check():
                    self.given_up += 1
                    raise ReadCancelled("given up at the gate")
            assert self.gate.is_set()
        return super().read_range(session, start, stop)


@pytest.fixture(name="relay")
def gated_relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[GatedRelay]:
    monkeypatch.setattr(relay_events, "TAIL", SHORT_TAIL)
    relay = GatedRelay().start()
    try:
        relay.add_source(IterSource("test", iter(history())))
        assert relay.drain(30)
        yield relay
    finally:
        relay.gate.set()
        relay.stop()


async def at_the_end(app: WatchkeeperApp, pilot: Any) -> SessionScreen:
    """The session screen with every event in, on its newest row (kept in the viewer: no read)."""
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    await until_app(pilot, lambda: len(screen.timeline.store.events) == N)
    await pilot.press("end")
    await until_app(pilot, lambda: prompt(N - 1) in screen_text(app))
    return screen


def detail_text(screen: SessionScreen) -> str:
    return "\n".join(strip.text for strip in screen.query_one(DetailPane)._strips)


async def page_up_into_unread(pilot: Any, screen: SessionScreen) -> int:
    """Page up from the newest row until the selected row's events are not read yet; its row."""
    timeline = screen.timeline
    for _ in range(N):
        head = timeline.selected_head
        if head is not None and timeline.store.events.unread(head) is not None:
            return timeline.cursor
        await pilot.press("pageup")
    raise AssertionError("never reached a row not read")


async def test_rows_being_read_are_placeholders_keys_go_on_and_the_rows_fill_in(relay: GatedRelay) -> None:
    app = WatchkeeperApp(relay, open_session=S)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await at_the_end(app, pilot)
        timeline = screen.timeline
        relay.gate.clear()
        row = await page_up_into_unread(pilot, screen)
        await until_app(pilot, lambda: relay.waiting.is_set(), what="the worker's read, held at the gate")
        await until_app(pilot, lambda: f"… seq {row}" in screen_text(app), what="placeholders while the read waits")
        for _ in range(3):
            await pilot.press("up")
        assert timeline.cursor == row - 3, "keys are handled while the read is pending"
        await until_app(pilot, lambda: f"reading seq {row - 3}…" in detail_text(screen))
        await pilot.press("c")
        shown = screen_text(app)
        assert f"… seq {row - 3}" in shown and prompt(row - 3) not in shown
        assert app.clipboard == ""
        relay.gate.set()
        await until_app(pilot, lambda: prompt(row - 3) in screen_text(app), what="the rows, read")
        assert "… seq" not in screen_text(app)
        await until_app(pilot, lambda: prompt(row - 3) in detail_text(screen), what="the detail pane, once read")
        await until_app(pilot, lambda: app.clipboard == prompt(row - 3), what="the copy asked for while reading")

        notices, copied = Notices(app), app.clipboard
        relay.waiting.clear()
        relay.gate.clear()
        row = await page_up_into_unread(pilot, screen)
        await until_app(pilot, lambda: relay.waiting.is_set())
        await pilot.press("c", "down")
        relay.gate.set()
        await until_app(pilot, lambda: any("Not copied" in m for m in notices.messages()))
        assert app.clipboard == copied, "a copy asked for one row never copies another"


async def test_paging_up_goes_on_into_rows_not_read_and_q_quits_while_a_read_waits(relay: GatedRelay) -> None:
    app = WatchkeeperApp(relay, open_session=S)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await at_the_end(app, pilot)
        relay.gate.clear()
        row = await page_up_into_unread(pilot, screen)
        await until_app(pilot, lambda: f"… seq {row}" in screen_text(app))
        await pilot.press("pageup", "pageup", "pageup")
        assert screen.timeline.cursor < row - 60, "page-ups go on while the read waits"
        assert relay.waiting.is_set() and not relay.gate.is_set()
        await until_app(pilot, lambda: f"… seq {screen.timeline.cursor}" in screen_text(app))
        await pilot.press("q")
        await until_app(pilot, lambda: not app.is_running, what="the app quits without waiting for the read")
        relay.gate.set()


async def test_a_read_no_longer_wanted_is_given_up_and_the_app_quits_without_it(relay: GatedRelay) -> None:
    """The rows a read was for scrolled away (a newer read replaces it), then the person quits: each read
    stops where it is, not when it is done (a transcript's read back takes seconds near the end of 1 GB:
    the newer read queued behind it, and quitting waited for it)."""
    app = WatchkeeperApp(relay, open_session=S)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await at_the_end(app, pilot)
        relay.gate.clear()
        await page_up_into_unread(pilot, screen)
        await until_app(pilot, lambda: relay.waiting.is_set(), what="the first read, held at the gate")
        relay.waiting.clear()
        for _ in range(N):  # up into the chunk before: a read of rows the first one was not for
            if screen.timeline.cursor < 2 * CHUNK - 40:
                break
            await pilot.press("pageup")
        await until_app(pilot, lambda: relay.given_up == 1, what="the read of rows scrolled away, given up")
        await until_app(pilot, lambda: relay.waiting.is_set(), what="the read of the rows now shown, held at the gate")
        await pilot.press("q")
        await until_app(pilot, lambda: not app.is_running)
    until(lambda: relay.given_up == 2, what="the read pending at the quit, given up")
    assert not relay.gate.is_set(), "no read was let through"


async def test_a_read_that_fails_says_so_on_its_rows_and_in_the_detail_pane(relay: GatedRelay) -> None:
    app = WatchkeeperApp(relay, open_session=S)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await at_the_end(app, pilot)
        relay.broken = "the relay is gone"
        row = await page_up_into_unread(pilot, screen)
        await until_app(pilot, lambda: f"seq {row} could not be read" in screen_text(app))
        failed = f"seq {row} could not be read: ConnectionError: the relay is gone"
        await until_app(pilot, lambda: failed in " ".join(detail_text(screen).split()))
        assert "… seq" not in screen_text(app), "no row left waiting for a read that failed"
        assert prompt(row) not in screen_text(app)
        # Repaints do not ask a relay that is gone again (each chunk once per RETRY, not once per frame).
        refused = relay.refused
        for key in ("down", "up") * 5:
            await pilot.press(key)
            await pilot.pause()
        assert relay.refused - refused < 20, f"{relay.refused - refused} reads refused while the rows repainted"


def test_a_failed_chunk_is_tried_again_after_a_while_and_then_reads(relay: GatedRelay,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    log = RelayEvents(lambda a, b: relay.read_range(S, a, b), S)
    log.extend(relay.read_range(S, 0, N))
    relay.broken = "gone"
    assert log.unread(0) == 0 and log.unread(N - 1) is None
    assert log.fetch(0) == "ConnectionError: gone"
    with log.no_wait(), pytest.raises(NotRead) as missing:
        log[1]
    assert missing.value.chunk == 0 and missing.value.failed == "ConnectionError: gone"
    monkeypatch.setattr(event_log, "RETRY", 0.0)
    with log.no_wait(), pytest.raises(NotRead) as missing:
        log[1]
    assert missing.value.failed is None, "tried again"
    relay.broken = None
    assert log.fetch(0) is None and log.unread(0) is None
    with log.no_wait():
        assert log[1]["data"]["text"] == prompt(1)
    assert log[CHUNK]["data"]["text"] == prompt(CHUNK), "outside no_wait, a read waits as before"


async def test_rows_of_a_transcript_changed_since_it_was_indexed_read_as_notices_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(relay_events, "TAIL", SHORT_TAIL)
    path = tmp_path / "-proj" / f"{TRANSCRIPT_SESSION}.jsonl"
    path.parent.mkdir()
    grow(path, sample_session(), 12 << 20)  # ~2,000 events: chunks the viewer has not read when it changes
    whole = len(list(convert_file(path)))
    relay = Relay(keep=100, spill_dir=str(tmp_path)).start()
    try:
        relay.add_source(TranscriptSource(path, poll_interval=0.1, tail_first=1 << 20, tail_bytes=256 << 10))
        app = WatchkeeperApp(relay, open_session=TRANSCRIPT_SESSION)
        async with app.run_test(size=(120, 40)) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen))
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            await until_app(pilot, lambda: len(screen.timeline.store.events) >= whole
                            and "earlier history" not in status_text(app), what="the whole history in the timeline")
            with path.open("r+b") as f:  # same size, other first bytes: not the file indexed
                first = f.readline()
                f.seek(0)
                f.write(first.replace(TRANSCRIPT_SESSION.encode(), b"0" * len(TRANSCRIPT_SESSION)))
            await pilot.press("end")
            for _ in range(whole):
                if screen.timeline.cursor == 0 or "This event can no longer" in screen_text(app):
                    break
                await pilot.press("pageup")
            await until_app(pilot, lambda: "This event can no longer" in screen_text(app)
                            and "… seq" not in screen_text(app), what="the relay's notices in the rows' place",
                            seen=lambda: screen_text(app))
            for _ in range(40):  # onto one of those rows: the detail pane says the same
                await pilot.pause()
                if "can no longer be read back" in " ".join(detail_text(screen).split()):
                    break
                await pilot.press("up")
            assert "can no longer be read back" in " ".join(detail_text(screen).split())
    finally:
        relay.stop()
