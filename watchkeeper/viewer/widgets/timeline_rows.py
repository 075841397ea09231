"""How one timeline row is drawn: its columns, the roles of its cells and their styles.

Pure over a :class:`~watchkeeper.viewer.model.rows.Row` and a style per role,
so the widget keeps only the cache and the scrolling.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style

from ..model.rows import Cell, Row, cut_to

TIME_W, AGENT_W, KIND_W = 8, 10, 9
#: From this width on the agent column is wider, for a subagent's description.
WIDE, AGENT_WIDE_W = 90, 16

ROLES = (
    "time",
    "agent",
    "kind",
    "tool",
    "summary",
    "user",
    "assistant",
    "dim",
    "ok",
    "error",
    "error-row",
    "running",
    "waiting",
    "denied",
    "warning",
    "notice",
    "raw",
    "cursor",
)

#: The timeline's stylesheet: one component class per role.
TIMELINE_CSS = """
Timeline {
    background: $surface;
    scrollbar-size-vertical: 1;
    overflow-x: hidden;
    & > .timeline--time { color: $text-muted; }
    & > .timeline--agent { color: $text-secondary; }
    & > .timeline--kind { color: $text-muted; }
    & > .timeline--tool { color: $text-accent; text-style: bold; }
    & > .timeline--summary { color: $foreground; }
    & > .timeline--user { color: $text-primary; text-style: bold; }
    & > .timeline--assistant { color: $foreground; }
    & > .timeline--dim { color: $text-muted; }
    & > .timeline--ok { color: $text-success; }
    & > .timeline--error { color: $text-error; text-style: bold; }
    & > .timeline--error-row { background: $error 12%; }
    & > .timeline--running { color: $text-warning; }
    & > .timeline--waiting { color: $text-warning; text-style: bold reverse; }
    & > .timeline--denied { color: $text-error; }
    & > .timeline--warning { color: $text-warning; }
    & > .timeline--notice { color: $text-secondary; }
    & > .timeline--raw { color: $text-warning; text-style: italic; }
    & > .timeline--cursor {
        color: $block-cursor-blurred-foreground;
        background: $block-cursor-blurred-background;
    }
    &:focus > .timeline--cursor { color: $block-cursor-foreground; background: $block-cursor-background; }
}
"""


def draw_row(row: Row, width: int, base: Style, style: Callable[[str], Style]) -> list[Segment]:
    """``row`` as segments ``width`` cells wide: time, agent, kind, summary, status.

    Segments, not a strip: every strip allocates seven caches, and a live stream
    draws every row on screen anew each frame.
    """
    status_w = sum(cell_len(text) for text, _ in row.status)
    agent_w = AGENT_WIDE_W if width >= WIDE else AGENT_W
    summary_w = max(0, width - (TIME_W + agent_w + KIND_W + 3) - (status_w + 1 if status_w else 0))
    segments = [
        Segment(set_cell_size(row.time, TIME_W) + " ", base + style("time")),
        Segment(cut(row.agent, agent_w) + " ", base + style("agent")),
        Segment(set_cell_size(row.kind, KIND_W) + " ", base + style("kind")),
        *fit(row.summary, summary_w, base, style),
    ]
    if status_w:
        segments.append(Segment(" ", base))
        segments += [Segment(text, base + style(role)) for text, role in row.status]
    return Segment.adjust_line_length(segments, width, base)


def cut(text: str, width: int) -> str:
    """``text`` in exactly ``width`` cells, with an ellipsis where it was cut."""
    return set_cell_size(text, width) if cell_len(text) <= width else set_cell_size(text, width - 1) + "…"


def fit(cells: list[Cell], width: int, base: Style, style: Callable[[str], Style]) -> list[Segment]:
    """``cells`` cut to ``width`` (an ellipsis where cut), padded to it."""
    shown, used = cut_to(cells, width)
    out = [Segment(text, base + style(role)) for text, role in shown]
    left = width - used
    if left > 0:
        out.append(Segment(" " * left, base))
    return out
