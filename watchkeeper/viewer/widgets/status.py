"""The session's status bar: state, elapsed, tokens, cost, events, and what can be steered."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from ...protocol.display import visible
from ..model.rows import Cell, duration, parse_ts
from ..model.totals import Totals

CONTROLS = ("pause", "resume", "approve", "deny", "inject", "cancel", "step")


def capabilities_cells(caps: dict[str, Any]) -> list[Cell]:
    """What the person can steer; if nothing, why not (the source's own words)."""
    can = [name for name in CONTROLS if caps.get(name)]
    if can:
        return [("steer: ", "dim"), (" ".join(can), "ok")]
    why = caps.get("why") or "observe-only: this source cannot be steered"
    return [(str(why), "dim")]


def status_cells(
    totals: Totals, live: bool, now: float | None = None, shown: int | None = None
) -> list[Cell]:
    """The bar's content; ``now`` makes a live session's elapsed time run on."""
    state = totals.shown_state or ("running" if live else "idle")
    cells: list[Cell] = [("● live " if live else "○ ", "ok" if live else "dim"), (state, _state_role(state))]
    start, end = parse_ts(totals.first_ts), parse_ts(totals.last_ts)
    if live and now is not None:
        end = now
    if start is not None and end is not None:
        cells.append((f"  {duration(max(0.0, end - start) * 1000)}", "dim"))
    tokens = f"  in {totals.tokens_in:,} out {totals.tokens_out:,}"
    if totals.cache_read or totals.cache_creation:
        tokens += f" cache {totals.cache_read:,}r/{totals.cache_creation:,}w"
    cells.append((tokens, ""))
    if totals.cost_usd is not None:
        cells.append((f"  ${totals.cost_usd:.4f}", ""))
    count = f"  {totals.events:,} events"
    if shown is not None and shown != totals.rows:
        count += f" ({shown:,} of {totals.rows:,} rows shown)"
    cells.append((count, ""))
    if totals.raw:
        cells.append((f"  {totals.raw:,} raw", "warning"))
    if totals.errors:
        cells.append((f"  {totals.errors:,} errors", "error"))
    cells.append(("  │ ", "dim"))
    cells += capabilities_cells(totals.capabilities)
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

    def show(self, cells: list[Cell]) -> None:
        """Update only when the text changes: an update re-lays out the screen."""
        if cells == self._shown:
            return
        self._shown = cells
        text = Text(overflow="ellipsis")
        for chunk, role in cells:
            style = self.get_component_rich_style(f"status--{role}", partial=True) if role else ""
            text.append(visible(chunk), style)
        self.update(text)
