"""Every session the relay knows: the ones needing attention and live ones first.

The list comes from ``relay.sessions()`` and is kept current by the relay's
(throttled) ``on_sessions`` notifications, which the app forwards here. The
columns fit the width (``model/session_columns.py``): state and last activity
always show; events, tokens and then the cwd give way on a narrow terminal;
a resize lays them out again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from ...protocol.display import visible
from ...relay.api import SessionInfo
from ..host import host
from ..model.session_columns import HEADINGS, Cells, cells, fitted, layout
from ..palette import PaletteCommand
from ..widgets.footer import KeyFooter
from .confirm import DEMO, Confirm


def order(infos: Sequence[SessionInfo]) -> list[SessionInfo]:
    """Needing attention, then live, then most recent activity first."""
    by_recent = sorted(infos, key=lambda i: i.last_ts or "", reverse=True)
    return sorted(by_recent, key=lambda i: (not i.needs_attention, not i.live))


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

● live: written to in the last 5 minutes, or connected (hooks, SDK, a
remote relay). ○ not live; idle after 30 minutes without a write.

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
        """Update cells in place while the columns and the order hold (the cursor and scroll stay); else rebuild."""
        table = self.query_one(SessionTable)
        now = host(self.app).clock()
        rows = [cells(info, now) for info in self.infos]
        room = table.scrollable_content_region.width or table.app.size.width
        widths = layout(rows, room, 2 * table.cell_padding)
        keys = [row.session for row in rows]
        shown = [(str(k.value), c.width) for k, c in table.columns.items()]
        if shown == list(widths.items()) and keys == [str(k.value) for k in table.rows]:
            for row in rows:
                for column, width in widths.items():
                    table.update_cell(row.session, column, self.cell(row, column, width))
        else:
            selected = self.selected
            table.clear(columns=True)
            for column, width in widths.items():
                table.add_column(HEADINGS[column], key=column, width=width)
            for row in rows:
                table.add_row(*(self.cell(row, c, w) for c, w in widths.items()), key=row.session)
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
    def cell(row: Cells, column: str, width: int) -> Text:
        """One cell: a Text (a str would be read as markup) of :func:`visible` text, cut to ``width``."""
        style = ""
        if column == "mark" and row.attention:
            style = "bold reverse"
        elif column == "state" and row.attention:
            style = "reverse"
        elif column in ("mark", "state") and not row.live:
            style = "dim"
        return Text(fitted(row, column, width), style=style, no_wrap=True, overflow="ellipsis", end="")

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
