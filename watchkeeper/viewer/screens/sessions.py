"""Every session the relay knows: the ones needing attention and live ones first.

The list comes from ``relay.sessions()`` and is kept current by the relay's
(throttled) ``on_sessions`` notifications, which the app forwards here. The
columns fit the width (``model/session_columns.py``): state and last activity
always show; events, tokens and then the cwd give way on a narrow terminal;
a resize lays them out again. Sessions from more than one place (a hub's
edges, several relays under ``attach``) are grouped under a header row per
origin (``model/origins.py``), and ``O`` narrows the list to one origin.
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
from ..compat import unless_removing
from ..host import host
from ..model.origins import EVERY, Group, choices, group_key, grouped, header_cells, header_title
from ..model.session_columns import HEADINGS, Cells, cells, cut_end, fitted, layout
from ..palette import PaletteCommand
from ..widgets.footer import KeyFooter
from .confirm import DEMO, Confirm
from .picker import Picker


def order(infos: Sequence[SessionInfo]) -> list[SessionInfo]:
    """Needing attention, then live, then most recent activity first."""
    by_recent = sorted(infos, key=lambda i: i.last_ts or "", reverse=True)
    return sorted(by_recent, key=lambda i: (not i.needs_attention, not i.live))


class SessionTable(DataTable[Text]):
    """The sessions table; it tells the screen when its width changes, so the columns can fit again.

    Enter is bound here, not on the screen: the table's own Enter (hidden) took the key first, so the
    footer never showed Open.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "screen.open", "Open", id="sessions.open")]

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

Sessions from more than one place (the edges of a hub you attached to) are
grouped by origin: a header row names the edge, its host and how many
sessions it has, and says *unreachable* while the edge is not connected.
**O** (or Enter on a header) shows one origin only; **O** again, every origin.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "open_waiting", "Waiting", id="sessions.waiting"),
        Binding("O", "filter_origin", "Origin", id="sessions.origin"),
    ]

    def __init__(self, looked_in: Sequence[str] = ()) -> None:
        super().__init__()
        self.looked_in = list(looked_in)
        self.infos: list[SessionInfo] = []
        #: The origin (group key) the list is narrowed to; None: every origin.
        self.origin: str | None = None
        #: Row key -> the group whose header row it is, as last drawn.
        self.headers: dict[str, Group] = {}
        #: How many origins the sessions come from (the filter is offered from two on).
        self.origins = 0
        self._placed = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield SessionTable(self._redraw, id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static(id="empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_interval(5, unless_removing(self, self._redraw))
        self.infos = order(self.infos or host(self.app).sessions)
        self.origins = len({group_key(i.origin) for i in self.infos})
        self._redraw()

    def sessions_changed(self, infos: list[SessionInfo]) -> None:
        self.infos = order(infos)
        self.origins = len({group_key(i.origin) for i in self.infos})
        if self.is_mounted and self.is_active:
            # Under another screen, each change would recompose its footer and repaint the screen above.
            self.refresh_bindings()
            self._redraw()

    def on_screen_resume(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        """Update cells in place while the columns and the order hold (the cursor and scroll stay); else rebuild."""
        tables = self.query(SessionTable)
        if not tables:
            return  # the app is closing: the screen's widgets are gone already
        table = tables.first()
        rows = self._rows(host(self.app).clock())
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
            if not self._placed:
                # The cursor starts on the first session, not on its group's header.
                selected = next((k for k in keys if k not in self.headers), None)
                self._placed = selected is not None
            if selected is not None and selected in table.rows:
                table.move_cursor(row=table.get_row_index(selected), animate=False)
        empty = not rows
        self.set_class(empty, "-empty")
        # Set directly: removing the screen's class alone left the text showing under the table.
        notice = self.query_one("#empty", Static)
        if notice.display != empty or table.display == empty:
            notice.display, table.display = empty, not empty
        if empty:
            notice.update(self.empty_text())

    def groups(self) -> list[Group]:
        return grouped(self.infos)

    def _rows(self, now: float) -> list[Cells]:
        """The rows to show: each session's, under its group's header when there is more than one origin."""
        groups = self.groups()
        if self.origin is not None:
            groups = [g for g in groups if g.key == self.origin]
        headed = len(groups) > 1 or self.origin is not None
        self.sub_title = f"from {groups[0].label()}" if self.origin is not None and groups else ""
        taken = {i.session for i in self.infos}
        self.headers = {}
        rows: list[Cells] = []
        for group in groups:
            if headed:
                key = f"\0origin {group.key}"
                while key in taken:
                    key += "\0"
                self.headers[key] = group
                rows.append(header_cells(group, key))
            rows += (cells(info, now) for info in group.sessions)
        return rows

    def cell(self, row: Cells, column: str, width: int) -> Text:
        """One cell: a Text (a str would be read as markup) of :func:`visible` text, cut to ``width``."""
        group = self.headers.get(row.session)
        if group is not None:
            text = header_title(group, width) if column == "title" else cut_end(row.text(column), width)
            return Text(text, style="bold reverse" if column == "state" and text else "bold", no_wrap=True,
                        overflow="ellipsis", end="")
        style = ""
        if column == "mark" and row.attention:
            style = "bold reverse"
        elif column == "state" and row.attention:
            style = "reverse"
        elif column in ("mark", "state") and not row.live:
            style = "dim"
        return Text(fitted(row, column, width), style=style, no_wrap=True, overflow="ellipsis", end="")

    def empty_text(self) -> Text:
        if self.origin is not None and self.infos:
            return Text("No sessions from that origin now.\n\n"
                        "O (or Ctrl+P, then Filter by origin) shows every origin.")
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
        """Open ``session``; a group's header row narrows the list to that group (or widens it again)."""
        group = self.headers.get(session)
        if group is not None:
            self.narrow(None if self.origin == group.key else group.key)
        else:
            host(self.app).open_session(session)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_waiting":
            return any(i.needs_attention for i in self.infos)
        if action == "filter_origin":
            return self.origin is not None or self.origins > 1
        return True

    def action_filter_origin(self) -> None:
        """Pick the origin to show (or every origin); while narrowed, ``O`` shows every origin again."""
        if self.origin is not None:
            self.narrow(None)
            return
        values, labels = choices(self.groups())

        def chosen(value: str | None) -> None:
            if value is not None:
                self.narrow(None if value == EVERY else value)

        self.app.push_screen(Picker("Only the sessions from…", values, labels, values=False), chosen)

    def narrow(self, origin: str | None) -> None:
        """Show the sessions of ``origin`` only (a group key), or of every origin (None)."""
        self.origin = origin
        self.refresh_bindings()
        self._redraw()

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
            ("Filter by origin…", "Only the sessions of one edge (or relay, or this machine); again: all",
             self.action_filter_origin),
            ("Demo…", "Stop watching and play the sample sessions (watchkeeper demo); asks first", self.action_demo),
        ]
