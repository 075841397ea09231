"""The replay's player bar: playing or paused, speed, position / total, time in the recording.

``player_cells`` is pure (a playhead in, styled cells out), so it is tested
without an app; the widget only paints them.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from ..model.playhead import Playhead, speed_label
from ..model.rows import Cell, local_clock
from .styles import RoleStyles

BAR_W = 24
#: The narrowest the progress bar gets before the time into the recording gives way.
BAR_MIN = 8


def offset(seconds: float, tenths: bool = False) -> str:
    """``m:ss`` or ``h:mm:ss``; ``m:ss.s`` with ``tenths`` (a recording shorter than a minute)."""
    seconds = max(0.0, seconds)
    if tenths:
        m, s = divmod(round(seconds, 1), 60)
        return f"{int(m)}:{s:04.1f}"
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress(done: int, total: int, width: int = BAR_W) -> str:
    if total <= 0:
        return "─" * width
    filled = min(width, round(width * done / total))
    return "━" * filled + ("╸" if filled < width else "") + "─" * max(0, width - filled - 1)


def state_cell(playhead: Playhead) -> Cell:
    if playhead.ended:
        return ("■ ended  ", "dim")
    if playhead.playing:
        return ("▶ playing", "ok")
    return ("⏸ paused ", "warning")


def player_cells(playhead: Playhead, width: int | None = None) -> list[Cell]:
    """What the bar shows; "+" after the total while the file is still being read.

    Within ``width`` cells (None: no limit) it gives way in this order: the wall-clock
    time, the progress bar (down to ``BAR_MIN``), the time into the recording; the
    state, the position and ``? keys`` always show.
    """
    total = f"{playhead.total:,}{'' if playhead.loaded else '+'}"
    bar = BAR_W
    start, end, clock = playhead.start, playhead.end, playhead.clock
    times = at = None
    if start is not None and end is not None and clock is not None:
        short = end - start < 60
        times = f"  {offset(clock - start, short)} / {offset(end - start, short)}"
        at = f"  at {local_clock(clock) or '? (out of range)'}"

    def cells() -> list[Cell]:
        out: list[Cell] = [
            state_cell(playhead),
            (f"  {speed_label(playhead.speed)}", "accent"),
            (f"  {progress(playhead.goal, playhead.total, bar)} ", "dim"),
            (f"event {playhead.goal:,} / {total}", ""),
        ]
        if times is not None:
            out.append((times, ""))
        if at is not None:
            out.append((at, "dim"))
        if not playhead.loaded:
            out.append(("  reading the file…", "dim"))
        out.append(("  │ ? keys", "dim"))
        return out

    if width is None:
        return cells()
    shown = cells()
    over = sum(cell_len(t) for t, _ in shown) - width
    if over > 0 and at is not None:
        over -= cell_len(at)
        at = None
    if over > 0:
        give = min(over, bar - BAR_MIN)
        bar, over = bar - give, over - give
    if over > 0 and times is not None:
        times = None
    return cells()


class PlayerBar(Widget):
    """One line above the status bar of a replayed session.

    It changes up to a timer tick at a time while playing; it repaints
    (``render``) without the re-layout a ``Static.update`` would cost.
    """

    COMPONENT_CLASSES = {"player--ok", "player--dim", "player--warning", "player--accent"}

    DEFAULT_CSS = """
    PlayerBar {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
        & > .player--ok { color: $text-success; text-style: bold; }
        & > .player--dim { color: $text-muted; }
        & > .player--warning { color: $text-warning; text-style: bold; }
        & > .player--accent { color: $text-accent; text-style: bold; }
    }
    """

    _shown: list[Cell] | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._styles = RoleStyles(self, "player")

    def show(self, playhead: Playhead) -> None:
        cells = player_cells(playhead, self.content_size.width or None)
        if cells != self._shown:
            self._shown = cells
            self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for chunk, role in self._shown or []:
            text.append(chunk, self._styles(role) if role else "")
        return text


    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    @property
    def text(self) -> str:
        """The bar as plain text (what a test or a screen reader reads)."""
        return "".join(chunk for chunk, _ in self._shown or [])
