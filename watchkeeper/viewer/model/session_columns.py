"""The sessions list's columns for a given width: which are shown, how wide, and each cell's text.

Pure (no Textual), so the layout is tested at any width without a terminal.
State and last activity are always shown, right after the agent and title;
as the room shrinks the events count goes first, then tokens, then the cwd
(a count says least to a person, the project most). The title and cwd share
what is left; a cut title ends in "…", a cut path starts with "…/" so the
project name stays (``…/work/myproject``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

from ...protocol.activity import ago_text
from ...protocol.display import visible
from ...protocol.envelope import parse_ts
from ...relay.api import SessionInfo
from .rows import one_line

#: Column keys, left to right, and their headings.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("mark", ""), ("agent", "agent"), ("title", "title"), ("cwd", "cwd"), ("state", "state"),
    ("activity", "active"), ("tokens", "tokens"), ("events", "events"),
)
HEADINGS = dict(COLUMNS)
#: The columns that go as the room shrinks, first to last.
DROPPED_FIRST = ("events", "tokens", "cwd")
#: The narrowest the shared columns get before another column goes.
LEAST = {"title": 20, "cwd": 16}
#: The widest a state is shown (an agent may report any text as its state).
STATE_MAX = 12
#: Characters of a title or cwd read at most (a title can be a whole prompt).
LONGEST = 200


@dataclass(frozen=True, slots=True)
class Cells:
    """One session's cells, uncut: the layout decides how much of the title and cwd fit."""

    session: str
    mark: str
    agent: str
    title: str
    cwd: str
    state: str
    activity: str
    tokens: str
    events: str
    attention: bool
    live: bool

    def text(self, key: str) -> str:
        return str(getattr(self, key))


def tokens(info: SessionInfo) -> str:
    total = info.tokens_in + info.tokens_out + info.tokens_cache_read + info.tokens_cache_creation
    if total >= 1_000_000:
        return f"{total / 1_000_000:.1f}M"
    return f"{total / 1000:.1f}k" if total >= 1000 else str(total)


def cells(info: SessionInfo, now: float) -> Cells:
    """The row of one session at ``now``; every text made :func:`visible`."""
    last = parse_ts(info.last_ts)
    return Cells(
        session=info.session,
        mark="⏸" if info.needs_attention else "●" if info.live else "○",
        agent=visible(str(info.agent_kind)),
        title=visible(one_line(info.title or "(untitled)", LONGEST)),
        cwd=visible(one_line(info.cwd or "", LONGEST)),
        state=cut_end(visible(one_line(str(info.state), LONGEST)), STATE_MAX),
        activity=ago_text(None if last is None else now - last),
        tokens=tokens(info),
        events=f"{info.events:,}",
        attention=info.needs_attention,
        live=info.live,
    )


def layout(rows: Sequence[Cells], room: int, padding: int = 2) -> dict[str, int]:
    """Column key -> width, for the columns shown in ``room`` cells (``padding`` around each)."""
    natural = {key: max([cell_len(heading), *(cell_len(r.text(key)) for r in rows)]) for key, heading in COLUMNS}
    shown = [key for key, _ in COLUMNS]
    for going in (None, *DROPPED_FIRST):
        if going is not None:
            shown.remove(going)
        fixed = sum(natural[k] for k in shown if k not in LEAST) + padding * len(shown)
        if fixed + sum(min(natural[k], LEAST[k]) for k in LEAST if k in shown) <= room:
            break
    widths = {k: natural[k] for k in shown}
    spare = room - fixed
    shared = [k for k in LEAST if k in shown]
    if sum(natural[k] for k in shared) > spare:
        if "cwd" in shared:
            # The cwd gets up to two fifths (its tail names the project); the title the rest.
            cwd = min(natural["cwd"], max(LEAST["cwd"], spare * 2 // 5, spare - natural["title"]))
            widths["cwd"] = cwd
            spare -= cwd
        widths["title"] = max(min(LEAST["title"], natural["title"]), spare)
    return widths


def cut_end(text: str, width: int) -> str:
    """``text`` in ``width`` cells, ending in "…" if cut."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)) + "…" if width > 0 else ""


def cut_path(path: str, width: int) -> str:
    """``path`` in ``width`` cells, cut from the left so its last parts stay: ``…/work/myproject``."""
    if cell_len(path) <= width:
        return path
    if width <= 1:
        return "…"[:width]
    sep = "\\" if "\\" in path and "/" not in path else "/"
    parts = path.rstrip(sep).split(sep)
    tail = ""
    for part in reversed(parts):
        longer = f"{sep}{part}{tail}"
        if cell_len(longer) + 1 > width:
            break
        tail = longer
    if tail:
        return "…" + tail
    # Not even the last part fits: its end, after an ellipsis.
    last = parts[-1]
    keep = width - 1
    while keep > 0 and cell_len(last[-keep:]) > width - 1:
        keep -= 1
    return "…" + (last[-keep:] if keep else "")


def fitted(row: Cells, key: str, width: int) -> str:
    """The cell's text cut to ``width``: paths from the left, the rest at the end."""
    text = row.text(key)
    return cut_path(text, width) if key == "cwd" else cut_end(text, width)
