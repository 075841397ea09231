"""One session: the timeline, the selected row in detail, and the status bar.

The screen subscribes to its session through the relay (history first, then
live; a long history is read apart, its newest events shown meanwhile:
``model/history_reload.py``) and owns the filter the person asked for; the
timeline applies it. Above
the status bar is a part of its own: the steering controls of a live session
(:class:`~watchkeeper.viewer.screens.session_steering.SteerableScreen`) or the
player of a replay (:class:`~watchkeeper.viewer.screens.replay.ReplayScreen`).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Header, Input, Static
from textual.worker import get_current_worker

from ...protocol import Event
from ...protocol.activity import judge, may_run
from ...protocol.controls import honoured
from ...protocol.display import plural, visible
from ...protocol.kinds import State
from ...protocol.session import merge_capabilities
from ...relay.api import ReadCancelled, RelayAPI, SessionInfo, cancellable
from ...retention import retained, settle
from ..compat import unless_removing
from ..host import host
from ..model.event_log import NotRead
from ..model.feed import EventFeed, EventsArrived, HistoryRebuilt
from ..model.history_reload import BULK, TAIL_FIRST, HistoryReload, history_note, load_store, read_store, relay_store
from ..model.origins import where_from
from ..model.timeline_filter import Filter
from ..model.timeline_store import TimelineStore
from ..palette import PaletteCommand
from ..widgets.conversation import Conversation
from ..widgets.detail_pane import DetailPane
from ..widgets.footer import KeyFooter
from ..widgets.status import StatusBar, status_cells
from ..widgets.timeline import Timeline
from .session_reading import ReadingScreen

#: While the timeline follows a live session, the detail pane shows the newest row at most this
#: often (seconds): a flood of events would re-render it every frame, faster than anyone reads.
DETAIL_EVERY = 0.25
#: A session that ended stays followed until its last events are in, or this long (seconds) at most.
ENDED_GRACE = 2.0
#: Below this many columns the detail pane goes under the timeline instead of beside it.
NARROW = 100
#: From this many columns on the detail pane takes two fifths of the width, not a third: output wraps less.
WIDE = 140
#: Seconds after the session screen mounts that the process settles (``retention.settle``).
SETTLE_AFTER = 1.0


class NewEventsMarker(Static):
    """``↓ N new events``: shown while the person reads history of a live session."""

    class Jump(Message):
        pass

    def on_click(self) -> None:
        self.post_message(self.Jump())


def following(info: SessionInfo) -> bool:
    """The timeline follows the session while more of it may come: followed, not finished."""
    return info.followed and info.state != State.FINISHED


def calls_run(info: SessionInfo) -> bool:
    """Its calls without a result run on while it may still run them (not ended, not long idle)."""
    return may_run(info.live, info.state, info.followed)


class SessionScreen(ReadingScreen):
    """The session view a live session and a replay share; each adds its part (``compose_part``)."""

    CSS_PATH = "session.tcss"
    #: The footer's table (``model/keys.py``).
    KEYS = "session"

    HELP = """
## Session
Every event of one session. Tool calls show their status as they run.

Filters combine; **x** clears them all. **Ctrl+P** lists every command.

`usage` and `state` rows are hidden (their totals are in the status bar):
**u** shows or hides them, **f** chooses which kinds are shown.

**c** copies the selected row's text: a call's command and output, a
message. A terminal never confirms a copy; if it does not arrive (tmux with
`set-clipboard` off), **Ctrl+P** offers "Write row text to a file", the
command or output alone, and the row as JSON lines. Text from the session is
shown, never obeyed: terminal controls in it read as `␛[2J`, `⟨U+009B⟩`…,
in a copy too; **W** writes the row as received (raw) to a new file.

**Tab** moves between the timeline and the detail pane; **m** zooms the
detail pane to the full width and back.

A steerable session (started with `watchkeeper run -- claude`, or after
`watchkeeper hooks install`) takes controls: **p** pause, **r** resume,
**y** approve / **n** deny the selected waiting call, **s** step mode,
**i** inject a message, **C** cancel the turn, **w** go to the waiting call.
Each outcome shows in the timeline; only the controls the session's source
honours have keys, one with nothing to act on now is dimmed. A session that
cannot be steered at all is marked **⊘ observe-only** in the status bar;
**Ctrl+P**, "Why observe-only", says why and how to make it steerable.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Sessions", id="session.back"),
        Binding("slash", "search", "Search", id="session.search"),
        Binding("e", "errors", "Errors", id="session.errors"),
        Binding("t", "pick_tool", "Tool", id="session.tool"),
        Binding("a", "pick_agent", "Agent", id="session.agent"),
        Binding("f", "choose_kinds", "Kinds", id="session.kind"),
        Binding("u", "toggle_quiet", "Usage/state", id="session.quiet"),
        Binding("x", "clear_filters", "Clear", id="session.clear"),
        Binding("c", "copy", "Copy", id="session.copy"),
        Binding("W", "write_raw", "Write raw", id="session.write_raw", show=False),
        Binding("d", "toggle_detail", "Detail", id="session.detail", show=False),
        Binding("v", "toggle_view", "Conversation", id="session.view"),
        Binding("m", "zoom_detail", "Zoom", id="session.zoom"),
        Binding("tab", "focus_pane", "Pane", id="session.pane"),
    ]

    #: The first focus goes to the timeline: left to Textual it went to the (hidden) search box for a frame,
    #: and a footer drawn then lost every printable key.
    AUTO_FOCUS = "#timeline"

    #: A long history is read apart (``_open_history``); a replay takes every event through its playhead.
    history_apart = True

    def __init__(self, relay: RelayAPI, session: str, info: SessionInfo | None = None) -> None:
        super().__init__()
        self.relay = relay
        self.session_id = session
        self.info = info
        self.filter = Filter()
        self.feed: EventFeed | None = None
        #: A rebuilt history being loaded off the UI loop, and the live events shown meanwhile.
        self._reload: HistoryReload | None = None
        self._reload_live: list[Event] = []
        self._detail_at = 0.0
        self._ended_at: float | None = None
        self._detail_due: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield Input(placeholder="search: text in rows, inputs and outputs", id="search")
                yield Static(id="filters")
                timeline = Timeline(relay_store(self.relay, self.session_id), live=self.starts_live(), id="timeline")
                timeline.calls_run = calls_run(self.info) if self.info else True
                yield timeline
                yield Conversation(timeline, id="conversation")
                yield NewEventsMarker(id="marker")
            yield DetailPane(id="detail")
        yield from self.compose_part()
        yield StatusBar(id="status")
        yield KeyFooter()

    def starts_live(self) -> bool:
        """Whether the timeline follows from the start."""
        # A session the relay has not seen yet is on its way: follow it until the relay says otherwise.
        return following(self.info) if self.info else True

    def activity(self, now: float) -> tuple[bool, str | None]:
        """(live, state) for the status bar: the session's state judged by the time rules at ``now``."""
        timeline = self.timeline
        session = timeline.store.session
        if self.info is None:
            return timeline.live, session.state
        judged = judge(session.state, session.last_ts, now, channel=self.info.channel, followed=self.info.followed)
        return judged.live, judged.state

    def compose_part(self) -> ComposeResult:
        """What goes above the status bar: the controls of a live session, a replay's player."""
        yield from ()

    def took(self, batch: list[Event]) -> None:
        """The timeline has just taken ``batch``; the part may fold it too."""

    def refresh_part(self) -> None:
        """The session's summary or status changed; the part may follow."""

    def capabilities(self) -> dict[str, Any]:
        """What the session's sources honour: the relay's merged view and the stream's own announcement."""
        info_caps = dict(self.info.capabilities) if self.info is not None else {}
        return merge_capabilities(info_caps, self.timeline.store.session.capabilities)

    def on_mount(self) -> None:
        # The first session opens: what the app has built lives as long as it runs. A full collection
        # (~50 ms) after the first screen, not before it.
        self.set_timer(SETTLE_AFTER, settle)
        self.sub_title = self._sub_title()
        self.watch(self.timeline, "unseen", self._show_marker)
        self.watch(self.conversation, "unseen", self._show_marker)
        # The person's moves are watched, not only messaged: the detail pane changes in the same frame.
        self.watch(self.timeline, "cursor", self.show_selected, init=False)
        self.set_interval(0.5, unless_removing(self, self.refresh_status))
        self.timeline.focus()
        self.feed = EventFeed(self.relay, self, self.session_id, self._open_history(), reloads=True).start()
        self.refresh_status()

    def _open_history(self) -> int:
        """Where the feed starts: a long history shows its newest events at once, the rest is read in a worker."""
        info = self.info
        if not self.history_apart or info is None or info.last_seq + 1 - info.history_from <= BULK:
            return 0
        start = info.last_seq + 1 - TAIL_FIRST
        self._reload, self._reload_live = HistoryReload(info.history_from, start), []
        self._read_history(self._reload)
        return start

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW, "-narrow")
        self.set_class(self.size.width >= WIDE, "-wide")

    def on_unmount(self) -> None:
        if self.feed is not None:
            self.feed.close()
        if self._reload is not None:
            self._reload.cancel()

    # --- data in ---------------------------------------------------------------------

    def on_events_arrived(self, message: EventsArrived) -> None:
        batch = message.feed.drain()
        if batch:
            self.timeline.add_events(batch)
            self.conversation.sync()
            if self._reload is not None:
                self._reload_live += batch
            if self._ended_at is not None:
                self.follow_liveness()
            self.took(batch)
            retained(len(batch))  # events live as long as the screen: out of the collector's sight

    class HistoryLoaded(Message):
        def __init__(self, reload: HistoryReload, store: TimelineStore) -> None:
            super().__init__()
            self.reload, self.store = reload, store

    def on_history_rebuilt(self, message: HistoryRebuilt) -> None:
        """The relay swapped in the session's whole history (see ``viewer/model/history_reload.py``)."""
        if self._reload is not None:
            self._reload.cancel()
        self._reload, self._reload_live = message.reload, []
        self._load_history(message.reload)
        self.refresh_status()

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def _load_history(self, reload: HistoryReload) -> None:
        worker = get_current_worker()
        store = load_store(reload, lambda: worker.is_cancelled, relay_store(self.relay, self.session_id))
        if store is not None and not worker.is_cancelled:
            self.post_message(self.HistoryLoaded(reload, store))

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def _read_history(self, reload: HistoryReload) -> None:
        worker = get_current_worker()
        with cancellable(lambda: worker.is_cancelled):
            try:
                store = read_store(self.relay, self.session_id, reload, lambda: worker.is_cancelled)
            except ReadCancelled:
                return
        if store is not None and not worker.is_cancelled:
            self.post_message(self.HistoryLoaded(reload, store))

    def on_session_screen_history_loaded(self, message: HistoryLoaded) -> None:
        if message.reload is not self._reload:
            return
        if message.store.add(self._reload_live).rebuild:
            message.store.rebuild()
        self._reload, self._reload_live = None, []
        self.timeline.adopt_store(message.store)
        self.conversation.sync()
        self.follow_liveness()
        self.refresh_status()

    def _sub_title(self) -> str:
        """The session's title, and the edge it runs on when a hub passed it on (``edge alpha on build-3``)."""
        title = (self.info.title if self.info else None) or self.timeline.store.session.title or self.session_id
        where = where_from(self.info.origin) if self.info is not None else None
        return title if where is None else f"{title} · {where}"

    def session_changed(self, info: SessionInfo) -> None:
        """The app passes the relay's latest summary of this session."""
        self.info = info
        if not self.query(Timeline):
            return  # the app is closing: the screen's widgets are gone already
        self.follow_liveness()
        self.refresh_part()

    def follow_liveness(self) -> None:
        """The timeline is live when the relay says so; a session that has just ended stays live (and
        followed) until its last events are in: the relay may announce the end before it flushes them."""
        info, timeline = self.info, self.timeline
        if info is None:
            return
        if timeline.calls_run != calls_run(info):
            timeline.calls_run = calls_run(info)
            timeline.refresh()
        events = timeline.store.events
        newest = events[-1].get("seq", -1) if events else -1
        if following(info) or newest >= info.last_seq:
            self._ended_at = None
            timeline.set_live(following(info))
        elif self._ended_at is None:
            self._ended_at = time.monotonic()
        elif time.monotonic() - self._ended_at > ENDED_GRACE:
            self._ended_at = None
            timeline.set_live(False)

    def refresh_status(self) -> None:
        if self._ended_at is not None:
            self.follow_liveness()
        timeline = self.timeline
        now = host(self.app).clock()
        live, state = self.activity(now)
        bar = self.query_one(StatusBar)
        cells = status_cells(timeline.store, self.capabilities(), live, now, state,
                             width=(bar.content_size.width or self.size.width - 2) - 1)
        note = history_note(self.info, self._reload)
        if note is not None:
            cells.insert(2, note)
        bar.show(cells)
        self.refresh_part()
        self.sub_title = self._sub_title()

    # --- selection -----------------------------------------------------------------------

    def on_timeline_selected(self, message: Timeline.Selected) -> None:
        """Show the selected row in detail; for rows that arrived while following, at most every ``DETAIL_EVERY``."""
        if message.following:
            if self._detail_due is not None:
                return
            wait = self._detail_at + DETAIL_EVERY - time.monotonic()
            if wait > 0:
                self._detail_due = self.set_timer(wait, unless_removing(self, self.show_selected))
                return
        self.show_selected()

    def show_selected(self) -> None:
        """The detail pane shows the row selected now."""
        if self._detail_due is not None:
            self._detail_due.stop()
            self._detail_due = None
        self._detail_at = time.monotonic()
        timeline = self.timeline
        store, head = timeline.store, timeline.selected_head
        if head is None:
            self.detail.show([], None)
            return
        now = host(self.app).clock() if timeline.live and timeline.calls_run else None
        try:
            with store.events.no_wait():
                self.detail.show(store.row_events(head), store.call_of(head), now)
        except NotRead as missing:  # shown when it lands (``on_rows_read``)
            self.detail.show_note(*timeline.reads.note(head, missing))

    def on_timeline_view_changed(self) -> None:
        self.conversation.sync()
        label = self.query_one("#filters", Static)
        flt = self.timeline.store.filter
        label.set_class(flt.active, "-visible")
        shown, rows = len(self.timeline.store.view), len(self.timeline.store.heads)
        label.update(Text(visible(f"filter: {flt.describe()} — {shown:,} of {plural(rows, 'row')}  (x clears)")))
        self.refresh_status()

    def _show_marker(self, _: int = 0) -> None:
        """The marker counts what the shown view (timeline or conversation) has not shown yet."""
        unseen = self.reader.unseen
        marker = self.query_one(NewEventsMarker)
        marker.set_class(unseen > 0, "-visible")
        marker.update(f"↓ {unseen:,} new event{'s' if unseen != 1 else ''} — End (or click) to follow")

    def on_new_events_marker_jump(self) -> None:
        self.reader.action_last()
        self.reader.focus()

    def action_back(self) -> None:
        if self.has_class("-zoom"):
            self._unzoom()
            return
        search = self.query_one("#search", Input)
        if search.has_focus:
            if search.value:
                search.value = ""
            search.remove_class("-visible")
            self.reader.focus()
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    # --- other actions ---------------------------------------------------------------------

    def action_toggle_view(self) -> None:
        """The conversation instead of the timeline, or back; the same event stays selected."""
        if self.conversation.display:
            self.conversation.close()
        else:
            self.conversation.open()
        self._show_marker()

    def observe_only(self) -> str | None:
        """Why nothing can steer this session (the source's own words), or None when something can."""
        caps = self.capabilities()
        if honoured(caps):
            return None
        return str(caps.get("why") or "observe-only: this source cannot be steered")

    def action_why_observe_only(self) -> None:
        self.notify(self.observe_only() or "This session can be steered.", title="Observe-only", timeout=20)

    def palette_commands(self) -> list[PaletteCommand]:
        """This screen's own commands, for the command palette."""
        timeline = self.timeline
        return [
            ("Search", "Show only rows that contain some text", self.action_search),
            ("Errors only", "Toggle: only failed calls, error notices, raw records", self.action_errors),
            ("Filter by tool", "Show only the calls of one tool", self.action_pick_tool),
            ("Filter by agent", "Show only the main agent or one subagent", self.action_pick_agent),
            ("Show or hide kinds", "Choose the kinds of rows shown (f)", self.action_choose_kinds),
            ("Usage and state rows", "Show or hide them; their totals stay in the status bar (u)",
             self.action_toggle_quiet),
            ("Filter by kind", "Show only one kind of event", self.action_pick_kind),
            ("Clear filters", "Every row again, but the kinds hidden (u, f)", self.action_clear_filters),
            ("Follow", "Jump to the newest event and keep following", timeline.action_last),
            ("Subagents", "Collapse or expand them under the selected call", timeline.action_toggle_collapse),
            *self.copy_commands(),
            ("Toggle detail pane", "Show or hide the detail pane", self.action_toggle_detail),
            *([("Why observe-only", why, self.action_why_observe_only)] if (why := self.observe_only()) else []),
            ("Conversation", "Read the session as a conversation, or go back to the timeline (v)",
             self.action_toggle_view),
            ("Zoom detail pane", "The detail pane over the whole width, and back (m)", self.action_zoom_detail),
            ("Back to sessions", "The list of sessions", self.action_back),
        ]
