"""The session's status bar: state, elapsed, tokens, cost, events, and what can be steered."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ...protocol.controls import honoured
from ...protocol.display import plural, visible
from ...protocol.session import SessionState
from ..model.rows import Cell, duration, parse_ts
from ..model.timeline_store import TimelineStore
from .styles import component_style

#: The one badge of a session nothing can steer; why (the source's own words) is in the palette and help.
OBSERVE_ONLY = "⊘ observe-only"


def capabilities_cells(caps: dict[str, Any]) -> list[Cell]:
    """What the person can steer; if nothing, the short observe-only badge."""
    can = honoured(caps)
    if can:
        return [("steer: ", "dim"), (" ".join(can), "ok")]
    return [(OBSERVE_ONLY, "dim")]


def status_cells(store: TimelineStore, caps: dict[str, Any], live: bool, now: float | None = None,
                 state: str | None = None) -> list[Cell]:
    """The bar's content; ``caps`` what the session's sources honour; ``now`` makes a live session's
    elapsed time run on; ``state`` as judged by the time rules (default: the last one reported)."""
    session: SessionState = store.session
    state = state or session.state or ("running" if live else "idle")
    cells: list[Cell] = [("● live " if live else "○ ", "ok" if live else "dim"), (state, _state_role(state))]
    start, end = parse_ts(session.first_ts), parse_ts(session.last_ts)
    if live and now is not None:
        end = now
    if start is not None and end is not None:
        cells.append((f"  {duration(max(0.0, end - start) * 1000)}", "dim"))
    tokens_in, tokens_out, cache_read, cache_creation = session.tokens
    tokens = f"  in {tokens_in:,} out {tokens_out:,}"
    if cache_read or cache_creation:
        tokens += f" cache {cache_read:,}r/{cache_creation:,}w"
    cells.append((tokens, ""))
    if session.cost_usd is not None:
        cells.append((f"  ${session.cost_usd:.4f}", ""))
    count = f"  {plural(session.events, 'event')}"
    shown, rows = len(store.view), len(store.heads)
    if shown != rows:
        count += f" ({shown:,} of {plural(rows, 'row')} shown)"
    cells.append((count, ""))
    if session.raw:
        cells.append((f"  {session.raw:,} raw", "warning"))
    if store.errors:
        cells.append((f"  {plural(store.errors, 'error')}", "error"))
    cells.append(("  │ ", "dim"))
    cells += capabilities_cells(caps)
    return cells


def _state_role(state: str) -> str:
    return {"running": "ok", "waiting": "warning", "paused": "warning", "finished": "dim"}.get(state, "")


class StatusBar(Static):
    """One line at the bottom of the session screen, refreshed on a timer."""

    COMPONENT_CLASSES = {"status--ok", "status--dim", "status--warning", "status--error"}

    DEFAULT_CSS = """
    StatusBar {
        height: auto;
        max-height: 2;
        background: $panel;
        color: $foreground;
        padding: 0 1;
        & > .status--ok { color: $text-success; }
        & > .status--dim { color: $text-muted; }
        & > .status--warning { color: $text-warning; }
        & > .status--error { color: $text-error; text-style: bold; }
    }
    """

    _shown: list[Cell] | None = None
    #: The theme changed since the cells were drawn: their colours are stale.
    _stale = False

    def show(self, cells: list[Cell]) -> None:
        """Update only when the text (or the theme) changes: an update re-lays out the screen."""
        if cells == self._shown and not self._stale:
            return
        self._shown, self._stale = cells, False
        text = Text(overflow="ellipsis")
        for chunk, role in cells:
            style = component_style(self, f"status--{role}") if role else ""
            text.append(visible(chunk), style)
        self.update(text)

    def notify_style_update(self) -> None:
        """Another theme: the bar is drawn again in its colours (with the cells shown by then)."""
        super().notify_style_update()
        self._stale = True
        self.call_after_refresh(self._redraw)

    def _redraw(self) -> None:
        if self._stale and self._shown is not None:
            self.show(self._shown)
