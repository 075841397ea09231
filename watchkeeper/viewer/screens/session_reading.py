"""What the person does to read a session: its views, the filter and search, and the detail pane.

The base of :class:`~watchkeeper.viewer.screens.session.SessionScreen`, which
composes the widgets these actions act on and owns the subscription.
"""

from __future__ import annotations

from textual import on
from textual.widgets import Input

from ..model.rows import KIND_LABELS
from ..model.timeline_filter import QUIET, Filter
from ..widgets.conversation import Conversation
from ..widgets.detail_pane import DetailPane
from ..widgets.timeline import Timeline
from ..widgets.timeline_reads import RowsRead
from .kinds import KindChooser
from .picker import Picker
from .session_copy import RowCopyScreen

#: The picker's first choice: no filter on that field.
ANY = "(any)"


class ReadingScreen(RowCopyScreen):
    """A session's views and the person's filter over them."""

    filter: Filter

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    @property
    def reader(self) -> Timeline | Conversation:
        """The view shown: the timeline, or the conversation (v)."""
        return self.conversation if self.conversation.display else self.timeline

    @property
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    def show_selected(self) -> None:
        """The detail pane shows the row selected now (the session screen's)."""

    def on_rows_read(self, message: RowsRead) -> None:
        """Rows were read: the detail pane waiting for the selected row shows it, a copy waiting for it is made."""
        if self.detail.waiting:
            self.show_selected()
        if self._after_read is not None and self._after_read[0] == message.chunk:
            (_, head, retry), self._after_read = self._after_read, None
            if self.timeline.selected_head == head:
                retry()
            else:
                self.notify("Not copied: another row was selected while it was read", severity="warning")

    # --- filters and search ------------------------------------------------------------

    def apply_filter(self, flt: Filter) -> None:
        self.filter = flt
        self.timeline.set_filter(flt)

    def action_errors(self) -> None:
        self.apply_filter(self.filter.with_(errors=not self.filter.errors))

    def _pick(self, title: str, choices: list[tuple[str, int]], field: str,
              labels: dict[str, str] | None = None) -> None:
        def chosen(value: str | None) -> None:
            if value is not None:
                self.apply_filter(self.filter.with_(**{field: None if value == ANY else value}))

        self.app.push_screen(Picker(title, [(ANY, len(self.timeline.store.heads)), *choices], labels), chosen)

    def action_pick_tool(self) -> None:
        self._pick("Only calls of the tool…", self.timeline.store.tools.most_common(), "tool")

    def action_pick_agent(self) -> None:
        store = self.timeline.store
        self._pick("Only rows of the agent…", store.agent_rows.most_common(), "agent", store.agent_names)

    def action_pick_kind(self) -> None:
        self._pick("Only rows of the kind…", self.timeline.store.kinds.most_common(), "kind")

    def action_toggle_quiet(self) -> None:
        """Show the usage and state rows, or hide them again (any other hidden kind stays hidden)."""
        hide = self.filter.hide
        self.apply_filter(self.filter.with_(hide=hide - QUIET if hide & QUIET else hide | QUIET))

    def action_choose_kinds(self) -> None:
        """Which kinds of rows are shown: every kind seen so far, and those hidden."""
        counts = self.timeline.store.kinds
        known = dict.fromkeys(KIND_LABELS.values())
        kinds = [k for k in known if k in counts or k in self.filter.hide]
        kinds += sorted(k for k in counts if k not in known)

        def chosen(hide: frozenset[str] | None) -> None:
            if hide is not None and hide != self.filter.hide:
                self.apply_filter(self.filter.with_(hide=hide))

        self.app.push_screen(KindChooser([(k, counts[k]) for k in kinds], self.filter.hide), chosen)

    def action_clear_filters(self) -> None:
        search = self.query_one("#search", Input)
        search.remove_class("-visible")
        with search.prevent(Input.Changed):
            search.value = ""
        self.apply_filter(self.filter.cleared())
        self.reader.focus()

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("-visible")
        search.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.apply_filter(self.filter.with_(text=event.value.strip()))

    @on(Input.Submitted, "#search")
    def _search_done(self) -> None:
        self.reader.focus()

    def action_toggle_detail(self) -> None:
        self.detail.display = not self.detail.display
        if not self.detail.display:
            self._unzoom()

    def action_zoom_detail(self) -> None:
        """The detail pane over the whole width (the timeline hidden), and back."""
        if self.has_class("-zoom"):
            self._unzoom()
            return
        self.detail.display = True
        self.add_class("-zoom")
        self.detail.focus()

    def _unzoom(self) -> None:
        if self.has_class("-zoom"):
            self.remove_class("-zoom")
            self.timeline.focus()

    def action_focus_pane(self) -> None:
        """Tab: the detail pane (to scroll it, unfold output) or back to the timeline."""
        if self.detail.has_focus or not self.detail.display:
            if not self.has_class("-zoom"):
                self.timeline.focus()
        else:
            self.detail.focus()
