"""Every session the relay knows: the ones needing attention and live ones first.

The list comes from ``relay.sessions()`` and is kept current by the relay's
(throttled) ``on_sessions`` notifications, which the app forwards here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from ...protocol.display import visible
from ...relay.api import SessionInfo
from ..rows import one_line, parse_ts

COLUMNS = ("", "agent", "title", "cwd", "state", "last activity", "tokens", "events")


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


class SessionsScreen(Screen[None]):
    CSS_PATH = "sessions.tcss"

    HELP = """
## Sessions
Every agent session found: live ones first. **Enter** opens one.

A session with a call waiting for you (paused, stepping, a breakpoint hit)
is marked ⏸, listed first and counted in the header; **w** opens it.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", id="sessions.open", priority=False),
        Binding("d", "demo", "Demo", id="sessions.demo"),
        Binding("w", "open_waiting", "Waiting", id="sessions.waiting"),
    ]

    def __init__(self, looked_in: Sequence[str] = ()) -> None:
        super().__init__()
        self.looked_in = list(looked_in)
        self.infos: list[SessionInfo] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static(id="empty")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name or "live")
        self.set_interval(5, self._redraw)
        self.infos = order(self.infos or getattr(self.app, "sessions", []))
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
        table = self.query_one(DataTable)
        now = getattr(self.app, "clock", time.time)()
        keys = [info.session for info in self.infos]
        if keys == [str(k.value) for k in table.rows]:
            for info in self.infos:
                for column, value in zip(COLUMNS, self.cells(info, now), strict=True):
                    table.update_cell(info.session, column or "live", value)
        else:
            selected = self.selected
            table.clear()
            for info in self.infos:
                table.add_row(*self.cells(info, now), key=info.session)
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
    def cells(info: SessionInfo, now: float) -> tuple[Text, ...]:
        """Every cell a Text of :func:`visible` text: a str cell would be parsed as markup."""
        state = Text(visible(str(info.state)), style="reverse" if info.needs_attention else "")
        return (
            Text("⏸", style="bold reverse") if info.needs_attention else Text("●" if info.live else "○"),
            Text(visible(str(info.agent_kind))),
            Text(visible(one_line(info.title or "(untitled)", 60))),
            Text(visible(one_line(info.cwd or "", 40))),
            state,
            Text(ago(info.last_ts, now)),
            Text(tokens(info)),
            Text(f"{info.events:,}"),
        )

    def empty_text(self) -> Text:
        places = "\n".join(f"  {p}" for p in self.looked_in) or "  (nowhere: no discovery roots given)"
        return Text(visible(
            "No agent sessions found.\n\nLooked in:\n"
            f"{places}\n\n"
            "Start Claude Code or Codex and its session shows up here,\n"
            "or press d for the demo (watchkeeper demo): sample sessions played as if live."
        ))

    @property
    def selected(self) -> str | None:
        table = self.query_one(DataTable)
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
        open_session = getattr(self.app, "open_session", None)
        if callable(open_session):
            open_session(session)

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
        self.app.exit("demo")

    def palette_commands(self) -> list[tuple[str, str, object]]:
        return [
            ("Open session", "Open the selected session", self.action_open),
            ("Open the waiting session", "The first session with a call waiting for you", self.action_open_waiting),
            ("Demo", "Quit and play the sample sessions (watchkeeper demo)", self.action_demo),
        ]
