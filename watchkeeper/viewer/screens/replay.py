"""``watchkeeper replay``: the session screen behind a playhead.

The design is a playhead, not a paced source. The relay converts the whole
file as fast as it can in the background (a 1 GB file's first events are
there in well under a second) and the replay screen receives every event at
once, as for any session; a :class:`~watchkeeper.viewer.model.playhead.Playhead`
decides which of them the timeline shows: those up to the playhead, which a
timer advances by the recording's timestamps × speed. Seek and step only move
the playhead, so they are instant whatever the file's size, and going back
rebuilds the timeline from the events already in memory. The demo keeps its
paced source instead: there the relay itself must see a session unfold live,
so the sessions screen and its counters move too.

:class:`ReplayScreen` is the :class:`SessionScreen` a live session has too
(same timeline, detail, filters, status bar) with the player bar and its keys
as its part, where a live session has the steering controls; it has no
steering key to hide. :class:`~watchkeeper.viewer.replay_app.ReplayApp` opens
straight into it.
"""

from __future__ import annotations

import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from ...relay.api import RelayAPI, SessionInfo
from ...retention import retained
from ..compat import unless_removing
from ..model.feed import EventsArrived
from ..model.playhead import Playhead, Reveal, parse_position, speed_label
from ..palette import PaletteCommand
from ..widgets.player import PlayerBar
from .session import SessionScreen

#: Ticks per second of the playhead's timer.
TICKS = 30


class GoTo(ModalScreen[str | None]):
    """Asks where to go: an event number, a percentage, or a time into the recording."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="goto.cancel")]

    DEFAULT_CSS = """
    GoTo {
        align: center middle;
        & > Vertical {
            width: 68;
            max-width: 95%;
            height: auto;
            border: round $primary;
            background: $surface;
            padding: 0 1;
        }
        Label { width: 100%; }
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Go to an event (120), a share (50%) or a time in (1:30, 90s)")
            yield Input(id="goto")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReplayScreen(SessionScreen):
    """A recorded session played back: the session screen, the events up to the playhead."""

    KEYS = "replay"

    HELP = """
## Replay
A recorded session played back with its own timing, scaled.

- **Space**: play / pause (from the end: play again)
- **.** / **,**: step one event forward / back
- **>** / **<**: forward / back 10%; **0**…**9**: to 0%…90%
- **0** / **G**: to the start / the end; **g**: go to an event, a share or a time
- **]** / **[** (or **+** / **-**): faster / slower, while playing too
- **z**: collapse or expand the subagents under a call
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_play", "Play/Pause", id="replay.play", priority=True),
        Binding("full_stop", "step(1)", "Next", id="replay.step"),
        Binding("comma", "step(-1)", "Previous", id="replay.back", show=False),
        Binding("greater_than_sign", "skip(0.1)", "+10%", id="replay.forward"),
        Binding("less_than_sign", "skip(-0.1)", "-10%", id="replay.rewind", show=False),
        Binding("right_square_bracket,plus", "speed(1)", "Faster", id="replay.faster"),
        Binding("left_square_bracket,minus", "speed(-1)", "Slower", id="replay.slower", show=False),
        Binding("G", "seek_fraction(1)", "End", id="replay.end", show=False),
        Binding("g", "go_to", "Go to", id="replay.goto"),
        *(Binding(str(n), f"seek_fraction({n / 10})", f"{n * 10}%", show=False) for n in range(10)),
    ]

    history_apart = False

    def __init__(self, relay: RelayAPI, session: str, info: SessionInfo | None, playhead: Playhead) -> None:
        super().__init__(relay, session, info)
        self.playhead = playhead
        #: The relay's count of the session's events once its file is read through.
        self._expected: int | None = None
        self._to_last = False

    @property
    def player(self) -> PlayerBar:
        return self.query_one(PlayerBar)

    def starts_live(self) -> bool:
        return self.playhead.playing

    def activity(self, now: float) -> tuple[bool, str | None]:
        """Never live, however recently the recording's events seem to arrive: the player bar says whether it
        plays; the status bar, the state the recorded session was in at the playhead."""
        return False, self.timeline.store.session.state

    def compose_part(self) -> ComposeResult:
        yield PlayerBar(id="player")

    def on_mount(self) -> None:
        # Runs before SessionScreen.on_mount, which starts the feed.
        self.set_interval(1 / TICKS, unless_removing(self, self._tick))
        self.set_interval(0.5, unless_removing(self, self._check_loaded))
        self.player.show(self.playhead)

    # --- events in ---------------------------------------------------------------------

    def on_events_arrived(self, message: EventsArrived) -> None:
        """Every event goes to the playhead; the timeline gets those it says are due."""
        message.prevent_default()
        batch = message.feed.drain()
        if batch:
            self._apply(self.playhead.add(batch))
            self._loaded_if_complete()
            retained(len(batch))  # as the live screen does: the collector stops walking every event held

    def session_changed(self, info: SessionInfo) -> None:
        """The relay's summary: the file is read through once its source has ended."""
        self.info = info
        self._expected = None if info.followed else info.events
        self._loaded_if_complete()

    def _check_loaded(self) -> None:
        """Also asked on a timer, not only when the app passes a summary on."""
        if not self.playhead.loaded:
            info = next((i for i in self.relay.sessions() if i.session == self.session_id), None)
            if info is not None:
                self.session_changed(info)

    def _loaded_if_complete(self) -> None:
        if self._expected is not None and self.playhead.total >= self._expected and not self.playhead.loaded:
            self.playhead.loaded = True
            # A kept screen not drawn yet, or one whose widgets the closing app removed, has no bar to show it
            # in: mounting shows the playhead as it is.
            for bar in self.query(PlayerBar):
                bar.show(self.playhead)

    # --- the playhead moves -------------------------------------------------------------

    def _tick(self) -> None:
        try:
            timeline, bar = self.timeline, self.player
        except NoMatches:
            return  # the app is closing: the screen's widgets are gone already
        playhead = self.playhead
        reveal = playhead.tick(time.monotonic())
        self._apply(reveal)
        timeline.set_live(playhead.playing)
        if self._to_last and playhead.shown >= playhead.goal:
            self._to_last = False
        bar.show(playhead)

    def _apply(self, reveal: Reveal) -> None:
        if not reveal:
            return
        timeline = self.timeline
        if reveal.reset:
            timeline.restart(reveal.events)
        elif reveal.events:
            timeline.add_events(reveal.events)
        self.conversation.sync()
        if self._to_last:
            timeline.action_last()

    def _moved(self, reveal: Reveal) -> None:
        """After a step or a seek: show the rows up to the playhead, its newest row selected."""
        self._to_last = True
        self._apply(reveal)
        self.timeline.action_last()
        self.timeline.set_live(self.playhead.playing)
        self.player.show(self.playhead)
        self.refresh_status()

    # --- the person's controls -----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Space types a space in the search box and plays or pauses elsewhere."""
        if action == "toggle_play":
            return not isinstance(self.focused, Input)
        return super().check_action(action, parameters)

    def action_toggle_play(self) -> None:
        reveal = self.playhead.toggle(time.monotonic())
        if self.playhead.playing:
            self._apply(reveal)
            self.timeline.set_live(True)
            self.timeline.action_last()
        else:
            self.timeline.set_live(False)
        self.player.show(self.playhead)

    def action_step(self, n: int) -> None:
        self._moved(self.playhead.step(n))

    def action_skip(self, fraction: float) -> None:
        self._moved(self.playhead.skip(fraction))

    def action_seek_fraction(self, fraction: float) -> None:
        self._moved(self.playhead.seek_fraction(fraction))

    def action_speed(self, direction: int) -> None:
        speed = self.playhead.faster(direction)
        self.player.show(self.playhead)
        self.notify(f"Speed {speed_label(speed)}", timeout=1.5)

    def action_go_to(self) -> None:
        def chosen(text: str | None) -> None:
            if text is None:
                return
            reveal = parse_position(text, self.playhead)
            if reveal is None:
                self.notify(f"Not a position: {text!r}", severity="warning")
            else:
                self._moved(reveal)

        self.app.push_screen(GoTo(), chosen)

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            ("Play / pause", "Play the recording from the playhead, or pause it", self.action_toggle_play),
            ("Step forward", "Pause and show one more event", lambda: self.action_step(1)),
            ("Step back", "Pause and hide the newest event", lambda: self.action_step(-1)),
            ("Forward 10%", "Move the playhead forward by a tenth of the events", lambda: self.action_skip(0.1)),
            ("Back 10%", "Move the playhead back by a tenth of the events", lambda: self.action_skip(-0.1)),
            ("To the start", "Back to the first event", lambda: self.action_seek_fraction(0)),
            ("To the end", "Every event shown", lambda: self.action_seek_fraction(1)),
            ("Go to…", "An event number, a share (50%) or a time into the recording (1:30)", self.action_go_to),
            ("Faster", "Next speed up (up to as fast as possible)", lambda: self.action_speed(1)),
            ("Slower", "Next speed down", lambda: self.action_speed(-1)),
            *super().palette_commands(),
        ]
