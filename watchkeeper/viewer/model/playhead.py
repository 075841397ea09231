"""A replay's playhead over a recording: which events are shown, and when the next ones are.

Pure (no Textual, no I/O, no clock of its own): the replay screen feeds it
the session's events as the relay delivers them (:meth:`Playhead.add`) and
the wall time on each timer tick (:meth:`Playhead.tick`); play, pause, step,
seek and speed are plain methods. Each returns a :class:`Reveal`: the events
to add to the timeline, or, after a move backwards, the events to rebuild it
from (a store never forgets an event, so going back starts it afresh).

Play order is the recording's time order: events sorted by timestamp, stable,
so a Claude Code subagent's file (read after its parent's) plays at the
moment it ran; an event without a usable timestamp keeps its place after the
one before it. An event that would land more than ``MERGE_WINDOW`` events
back plays where it arrived instead (at the latest time so far): merging is
then never more than that much work, even for a file whose timestamps start
over (a recording of several runs). The playhead is ``goal``, the number of events (in that order)
that should be on screen; ``shown`` trails it by at most ``budget`` events
per tick, so a seek across a million events never freezes the screen.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from ...protocol import Event
from ...protocol.pacing import MAX_GAP_S
from .rows import parse_ts

#: The speeds ``faster``/``slower`` step through; 0 is "as fast as possible".
SPEEDS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 0.0)
#: Events added to the timeline per tick at most: a slice the UI folds in well under a frame budget.
BUDGET = 5_000
#: How far back (in events) a late event is merged into time order; further back, it plays where it arrived.
MERGE_WINDOW = 50_000


def speed_label(speed: float) -> str:
    return "max" if speed <= 0 else f"{speed:g}×"


@dataclass(slots=True)
class Reveal:
    """What the screen must do: ``reset`` the timeline first (a move back), then add ``events``."""

    events: list[Event] = field(default_factory=list)
    reset: bool = False

    def __bool__(self) -> bool:
        return self.reset or bool(self.events)


class Playhead:
    """Play, pause, step, seek and speed over a recording that may still be loading."""

    def __init__(self, speed: float = 1.0, *, playing: bool = True, max_gap: float = MAX_GAP_S,
                 budget: int = BUDGET, merge_window: int = MERGE_WINDOW) -> None:
        self.events: list[Event] = []
        #: Recording seconds of each event, in play order (sorted).
        self.times: list[float] = []
        self.speed = speed
        self.playing = playing
        #: A pause longer than this (recording seconds) plays as this long: idle hours are skipped.
        self.max_gap = max_gap
        self.budget = budget
        self.merge_window = merge_window
        #: Events that should be on screen (the playhead), and events on screen now.
        self.goal = 0
        self.shown = 0
        #: The playhead's time in the recording; None until an event has arrived.
        self.clock: float | None = None
        #: Set by the screen once the relay has delivered the whole file.
        self.loaded = False
        self._wall: float | None = None
        self._last_t: float | None = None

    # --- what the player bar shows ------------------------------------------------

    @property
    def total(self) -> int:
        return len(self.events)

    @property
    def start(self) -> float | None:
        return self.times[0] if self.times else None

    @property
    def end(self) -> float | None:
        return self.times[-1] if self.times else None

    @property
    def at_end(self) -> bool:
        return self.goal >= len(self.events)

    @property
    def ended(self) -> bool:
        """Everything played and nothing more to come."""
        return self.loaded and self.at_end

    # --- the recording grows ----------------------------------------------------------

    def add(self, batch: list[Event]) -> Reveal:
        """Merge events in play order; those that land before the playhead are shown at once."""
        times, events = self.times, self.events
        latest = times[-1] if times else None
        keyed: list[tuple[float, Event]] = []
        for event in batch:
            t = parse_ts(event.get("ts"))
            if t is None:
                t = self._last_t if self._last_t is not None else _first_time(batch)
            self._last_t = t
            if latest is not None and t < latest and len(times) - bisect_right(times, t) > self.merge_window:
                t = latest
            keyed.append((t, event))
        if not keyed:
            return Reveal()
        keyed.sort(key=lambda pair: pair[0])
        if self.clock is None:
            self.clock = keyed[0][0]
        if not times or keyed[0][0] >= times[-1]:
            times.extend(t for t, _ in keyed)
            events.extend(e for _, e in keyed)
            return Reveal()
        at = bisect_right(times, keyed[0][0])
        old = len(times) - at
        merged_t = times[at:] + [t for t, _ in keyed]
        pool = events[at:] + [e for _, e in keyed]
        # Both runs are sorted, so this stable sort is a merge done in C; ties keep the events already
        # there first (they arrived first). Index ``old`` and up are the new events, in their order.
        order = sorted(range(len(merged_t)), key=merged_t.__getitem__)
        times[at:] = [merged_t[i] for i in order]
        events[at:] = [pool[i] for i in order]
        reveal = Reveal()
        before_goal = before_shown = 0
        for k, spot in enumerate([p for p, i in enumerate(order) if i >= old]):
            taken = at + spot - k  # events that were there before, placed ahead of this one
            if taken < self.shown:
                before_shown += 1
                reveal.events.append(events[at + spot])
            if taken < self.goal:
                before_goal += 1
        self.shown += before_shown
        self.goal += before_goal
        return reveal

    # --- time passes ------------------------------------------------------------------

    def tick(self, wall: float) -> Reveal:
        """Advance the clock by the wall time since the last tick × speed; show what it reached."""
        last, self._wall = self._wall, wall
        if self.playing and self.times and self.clock is not None:
            if self.speed <= 0:
                self.goal = len(self.times)
                self.clock = self.times[self.goal - 1]
            elif last is not None:
                self._advance((wall - last) * self.speed)
            self.goal = max(self.goal, bisect_right(self.times, self.clock))
            if self.ended:
                self.playing = False
        return self._catch_up()

    def _advance(self, seconds: float) -> None:
        times = self.times
        assert self.clock is not None
        reached = self.times[self.goal - 1] if self.goal else self.clock
        clock = self.clock + seconds
        if self.goal < len(times):
            if clock - reached >= self.max_gap and times[self.goal] > clock:
                clock = times[self.goal]
        else:
            clock = min(clock, reached + self.max_gap)
        self.clock = clock

    def _catch_up(self) -> Reveal:
        if self.shown > self.goal:
            upto = min(self.goal, self.budget)
            self.shown = upto
            return Reveal(self.events[:upto], reset=True)
        upto = min(self.goal, self.shown + self.budget)
        events = self.events[self.shown:upto]
        self.shown = upto
        return Reveal(events)

    # --- the person's controls ------------------------------------------------------------

    def play(self, wall: float | None = None) -> Reveal:
        """Play from here; from the end of a finished recording, play it again from the start."""
        reveal = self.seek(0) if self.ended else Reveal()
        self.playing = True
        self._wall = wall
        return reveal

    def pause(self) -> None:
        self.playing = False

    def toggle(self, wall: float | None = None) -> Reveal:
        if self.playing:
            self.pause()
            return Reveal()
        return self.play(wall)

    def step(self, n: int = 1) -> Reveal:
        """Pause and move ``n`` events (back when negative)."""
        self.pause()
        return self.seek(self.goal + n)

    def seek(self, position: int) -> Reveal:
        """Put the playhead after ``position`` events (clamped); the clock goes to the last one's time."""
        self.goal = max(0, min(position, len(self.events)))
        if self.times:
            self.clock = self.times[self.goal - 1] if self.goal else self.times[0]
        self._wall = None
        return self._catch_up()

    def seek_fraction(self, fraction: float) -> Reveal:
        """To a share of the recording's events (0.5: half-way)."""
        return self.seek(round(len(self.events) * max(0.0, min(1.0, fraction))))

    def skip(self, fraction: float) -> Reveal:
        """Forward (or back, when negative) by a share of the events: ±10% is ``skip(±0.1)``."""
        step = max(1, round(len(self.events) * abs(fraction)))
        return self.seek(self.goal + (step if fraction > 0 else -step))

    def seek_time(self, seconds: float) -> Reveal:
        """To ``seconds`` into the recording: every event up to that moment shown."""
        if not self.times:
            return Reveal()
        clock = self.times[0] + max(0.0, seconds)
        reveal = self.seek(bisect_right(self.times, clock))
        self.clock = clock
        return reveal

    def faster(self, direction: int = 1) -> float:
        """The next speed up (or down) the ladder; from an odd speed, the nearest step that way."""
        ladder = [s for s in SPEEDS if s > 0]
        if direction > 0:
            self.speed = 0.0 if self.speed <= 0 else next((s for s in ladder if s > self.speed), 0.0)
        elif self.speed <= 0:
            self.speed = ladder[-1]
        else:
            self.speed = next((s for s in reversed(ladder) if s < self.speed), ladder[0])
        return self.speed


def _first_time(batch: list[Event]) -> float:
    return next((t for e in batch if (t := parse_ts(e.get("ts"))) is not None), 0.0)


def parse_position(text: str, playhead: Playhead) -> Reveal | None:
    """A "go to" answer: ``120`` (event number), ``50%``, ``1:30`` / ``1:02:03`` / ``90s`` (time in)."""
    text = text.strip().lower()
    try:
        if text.endswith("%"):
            return playhead.seek_fraction(float(text[:-1]) / 100)
        if ":" in text:
            seconds = 0.0
            for part in text.split(":"):
                seconds = seconds * 60 + float(part)
            return playhead.seek_time(seconds)
        if text.endswith("s"):
            return playhead.seek_time(float(text[:-1]))
        return playhead.seek(int(text))
    except ValueError:
        return None
