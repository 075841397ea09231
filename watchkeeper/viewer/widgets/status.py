"""The session's status bar: state, elapsed, tokens, cost, events, and what can be steered."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from ...protocol.controls import CONTROLS, honoured
from ...protocol.display import plural, visible
from ...protocol.session import SessionState
from ..model.rows import Cell, duration, parse_ts
from ..model.timeline_store import TimelineStore
from .styles import component_style

#: The one badge of a session nothing can steer; why (the source's own words) is in the palette and help.
OBSERVE_ONLY = "⊘ observe-only"


def capabilities_cells(caps: dict[str, Any], narrow: bool = False) -> list[Cell]:
    """What the person can steer (narrow: by their keys); if nothing, the short observe-only badge."""
    can = honoured(caps)
    if can:
        keys = {c.kind.value: c.key for c in CONTROLS}
        return [("steer: ", "dim"), (" ".join(keys.get(c, c) for c in can) if narrow else " ".join(can), "ok")]
    return [(OBSERVE_ONLY, "dim")]


def status_cells(store: TimelineStore, caps: dict[str, Any], live: bool, now: float | None = None,
                 state: str | None = None, width: int | None = None) -> list[Cell]:
    """The bar's content; ``caps`` what the session's sources honour; ``now`` makes a live session's
    elapsed time run on; ``state`` as judged by the time rules (default: the last one reported).

    ``width``: the cells it has. What does not fit is said compactly — no cache counts, rows as
    ``15/17``, controls by their keys — and what still does not fit goes, least useful first (the event
    count, the cost, the tokens, the span), so that it stays one line."""
    parts = _parts(store, caps, live, now, state, narrow=False)
    if width is not None and _width(parts) > width:
        parts = _parts(store, caps, live, now, state, narrow=True)
        for drop in (6, 5, 4, 3, 2):
            if _width(parts) <= width:
                break
            parts = [(cell, p) for cell, p in parts if p != drop]
    return [cell for cell, _ in parts]


def _width(parts: list[tuple[Cell, int]]) -> int:
    return sum(cell_len(t) for (t, _), _ in parts)


def _parts(store: TimelineStore, caps: dict[str, Any], live: bool, now: float | None, state: str | None,
           narrow: bool) -> list[tuple[Cell, int]]:
    """The bar's cells with their priority (lower stays longer), full or compact."""
    session: SessionState = store.session
    state = state or session.state or ("running" if live else "idle")
    parts: list[tuple[Cell, int]] = [(("● live " if live else "○ ", "ok" if live else "dim"), 0),
                                     ((state, _state_role(state)), 0)]
    start, end = parse_ts(session.first_ts), parse_ts(session.last_ts)
    if live and now is not None:
        end = now
    if start is not None and end is not None:
        parts.append(((f"  {duration(max(0.0, end - start) * 1000)}", "dim"), 3))
    tokens_in, tokens_out, cache_read, cache_creation = session.tokens
    tokens = f"  in {tokens_in:,} out {tokens_out:,}"
    if (cache_read or cache_creation) and not narrow:
        tokens += f" cache {cache_read:,}r/{cache_creation:,}w"
    parts.append(((tokens, ""), 4))
    if session.cost_usd is not None:
        parts.append(((f"  ${session.cost_usd:.4f}", ""), 5))
    count = f"  {plural(session.events, 'event')}"
    shown, rows = len(store.view), len(store.heads)
    if shown != rows:
        count += f" ({shown:,}/{plural(rows, 'row')})" if narrow else f" ({shown:,} of {plural(rows, 'row')} shown)"
    parts.append(((count, ""), 6))
    if session.raw:
        parts.append(((f"  {session.raw:,} raw", "warning"), 2))
    if store.errors:
        parts.append(((f"  {plural(store.errors, 'error')}", "error"), 1))
    parts.append((("  │ ", "dim"), 0))
    parts += [(cell, 0) for cell in capabilities_cells(caps, narrow)]
    return parts


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
