"""Every session the relay knows: the ones needing attention and live ones first.

The list comes from ``relay.sessions()`` and is kept current by the relay's
(throttled) ``on_sessions`` notifications, which the app forwards here.
Columns are as wide as their widest cell; only when the table is narrower than
that are the title and cwd shortened, each cut cell ending in an ellipsis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from ...protocol.display import visible
from ...relay.api import SessionInfo
from ..host import host
from ..model.rows import one_line, parse_ts
from ..palette import PaletteCommand
from ..widgets.footer import KeyFooter
from .confirm import DEMO, Confirm

COLUMNS = ("", "agent", "title", "cwd", "state", "last activity", "tokens", "events")
#: The columns that give way when the table is too narrow, in that order, and how narrow each may get:
#: the cwd first, the title (what tells sessions apart) last.
SHRINKABLE = {COLUMNS.index("cwd"): 8, COLUMNS.index("title"): 12}
#: Characters of a title or cwd kept at most (a title can be a whole prompt).
LONGEST = 200


def ago(ts: str | None, now: float) -> str:
    t = parse_ts(ts)
    if t is None:
        return "—"
    s = max(0.0, now - t)
    if s < 60:
        return f"{s:.0f}s ago"
    if s < 3600:
        return f"{s / 60:.0f}m ago"
    if s < 86400:
        return f"{s / 3600:.0f}h ago"
    return time.strftime("%Y-%m-%d", time.localtime(t))


def order(infos: Sequence[SessionInfo]) -> list[SessionInfo]:
    """Needing attention, then live, then most recent activity first."""
    by_recent = sorted(infos, key=lambda i: i.last_ts or "", reverse=True)
    return sorted(by_recent, key=lambda i: (not i.needs_attention, not i.live))


def tokens(info: SessionInfo) -> str:
    total = info.tokens_in + info.tokens_out + info.tokens_cache_read + info.tokens_cache_creation
    if total >= 1_000_000:
        return f"{total / 1_000_000:.1f}M"
    return f"{total / 1000:.1f}k" if total >= 1000 else str(total)


def fit(natural: Sequence[int], room: int, padding: int = 2) -> list[int]:
    """Column widths: ``natural`` if they fit in ``room``; else the ``SHRINKABLE`` ones give way, in order.

    ``padding`` is the space each column adds around its text. When even the
    shrinkable columns at their minimum do not fit, the table scrolls sideways.
    """
    widths = list(natural)
    excess = sum(widths) + padding * len(widths) - room
    for column, least in SHRINKABLE.items():
        if excess <= 0:
            break
        give = max(0, min(excess, widths[column] - least))
        widths[column] -= give
        excess -= give
    return widths


class SessionTable(DataTable[Text]):
    """The sessions table; it tells the screen when its width changes, so the columns can fit again."""

    def __init__(self, on_resize: Callable[[], None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._resized = on_resize

    def on_resize(self, event: events.Resize) -> None:
        self._resized()


class SessionsScreen(Screen[None]):
    CSS_PATH = "sessions.tcss"
    #: The footer's table (``model/keys.py``).
    KEYS = "sessions"

    HELP = """
## Sessions
Every agent session found: live ones first. **Enter** opens one.

A session with a call waiting for you (paused, stepping, a breakpoint hit)
is marked ⏸, listed first and counted in the header; **w** opens it.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="sessions.open", priority=False),
        Binding("w", "open_waiting", "Waiting", id="sessions.waiting"),
    ]

    def __init__(self, looked_in: Sequence[str] = ()) -> None:
        super().__init__()
        self.looked_in = list(looked_in)
        self.infos: list[SessionInfo] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield SessionTable(self._redraw, id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static(id="empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_interval(5, self._redraw)
        self.infos = order(self.infos or host(self.app).sessions)
        self._redraw()

    def sessions_changed(self, infos: list[SessionInfo]) -> None:
        self.infos = order(infos)
        if self.is_mounted and self.is_active:
            # Under another screen, each change would recompose its footer and repaint the screen above.
            self.refresh_bindings()
            self._redraw()

    def on_screen_resume(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        """Update cells in place while the order holds (the cursor and scroll stay); else rebuild."""
        table = self.query_one(SessionTable)
        now = host(self.app).clock()
        rows = [self.cells(info, now) for info in self.infos]
        widths = self.widths(table, rows)
        keys = [info.session for info in self.infos]
        if widths == [c.width for c in table.columns.values()] and keys == [str(k.value) for k in table.rows]:
            for key, cells in zip(keys, rows, strict=True):
                for column, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(key, column or "live", value)
        else:
            selected = self.selected
            table.clear(columns=True)
            for name, width in zip(COLUMNS, widths, strict=True):
                table.add_column(name, key=name or "live", width=width)
            for key, cells in zip(keys, rows, strict=True):
                table.add_row(*cells, key=key)
            if selected is not None and selected in table.rows:
                table.move_cursor(row=table.get_row_index(selected), animate=False)
        empty = not self.infos
        self.set_class(empty, "-empty")
        # Set directly: removing the screen's class alone left the text showing under the table.
        notice = self.query_one("#empty", Static)
        if notice.display != empty or table.display == empty:
            notice.display, table.display = empty, not empty
        if empty:
            notice.update(self.empty_text())

    @staticmethod
    def widths(table: DataTable[Text], rows: Sequence[Sequence[Text]]) -> list[int]:
        """Each column's width: its widest cell (or heading), fitted to the room the table has."""
        natural = [max([cell_len(name), *(r[i].cell_len for r in rows)]) for i, name in enumerate(COLUMNS)]
        room = table.scrollable_content_region.width or table.app.size.width
        return fit(natural, room, 2 * table.cell_padding)

    @staticmethod
    def cells(info: SessionInfo, now: float) -> tuple[Text, ...]:
        """One row: every cell a Text of :func:`visible` text (a str would be read as markup), cut with "…"."""
        def cell(text: str, style: str = "") -> Text:
            return Text(text, style=style, no_wrap=True, overflow="ellipsis", end="")

        return (
            cell("⏸", "bold reverse") if info.needs_attention else cell("●" if info.live else "○"),
            cell(visible(str(info.agent_kind))),
            cell(visible(one_line(info.title or "(untitled)", LONGEST))),
            cell(visible(one_line(info.cwd or "", LONGEST))),
            cell(visible(str(info.state)), "reverse" if info.needs_attention else ""),
            cell(ago(info.last_ts, now)),
            cell(tokens(info)),
            cell(f"{info.events:,}"),
        )

    def empty_text(self) -> Text:
        places = "\n".join(f"  {p}" for p in self.looked_in) or "  (nowhere: no discovery roots given)"
        return Text(visible(
            "No agent sessions found.\n\nLooked in:\n"
            f"{places}\n\n"
            "Start Claude Code or Codex and its session shows up here,\n"
            "or try the demo (watchkeeper demo): sample sessions played as if live, one to steer;\n"
            "Ctrl+P, then Demo, starts it from here."
        ))

    @property
    def selected(self) -> str | None:
        table = self.query_one(SessionTable)
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:
            return None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open(str(event.row_key.value))

    def action_open(self) -> None:
        if self.selected is not None:
            self.open(self.selected)

    def open(self, session: str) -> None:
        host(self.app).open_session(session)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_waiting":
            return any(i.needs_attention for i in self.infos)
        return True

    def action_open_waiting(self) -> None:
        """Open the first session that waits for the person (the list puts them first)."""
        waiting = next((i.session for i in self.infos if i.needs_attention), None)
        if waiting is not None:
            self.open(waiting)

    def action_demo(self) -> None:
        """Ask first: the demo ends this watch (the sessions, the hook endpoint) and starts its own."""
        def chosen(yes: bool | None) -> None:
            if yes:
                self.app.exit("demo")

        self.app.push_screen(Confirm(*DEMO), chosen)

    def palette_commands(self) -> list[PaletteCommand]:
        return [
            ("Open session", "Open the selected session", self.action_open),
            ("Open the waiting session", "The first session with a call waiting for you", self.action_open_waiting),
            ("Demo…", "Stop watching and play the sample sessions (watchkeeper demo); asks first", self.action_demo),
        ]
