"""The approvals inbox: every call held for the person, across sessions and agents, decided from one place.

Oldest first, each with its session, tool, input, why it is held and what
happens at its expiry, counting down (one timer for the whole list). The
list follows the relay's session list, which the app forwards here, so calls
appear as they are held and leave as they are let go. **y**, **n** (with a
reason, the deny dialog) and **s** go out through the relay's ``control()``,
as the session screen's do; their outcome is listed under the calls.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from ...protocol import MAIN_AGENT, Event, Kind, now_iso
from ...protocol.display import visible
from ...protocol.payloads import ControlOutcomeData, data_of
from ...protocol.session import SessionState
from ...relay.api import SessionInfo
from ..compat import unless_removing
from ..host import host
from ..model.control_availability import unavailable
from ..model.inbox import Entry, countdown, counting, entries
from ..model.origins import where_from
from ..model.rows import one_line, salient_input
from .deny import DenyDialog
from .option_choice import choose_option, needs_choice
from .session_steering import CONTROL_WAIT, who

#: Outcomes listed under the calls, newest last.
OUTCOMES = 4
EMPTY = ("Nothing is held: no call waits for you.\n\nCalls held by a pause, a step, a breakpoint rule, a "
         "permission prompt or an agent asking for approval are listed here, oldest first.")


class Decided(Message):
    """A decision sent from the inbox has its outcome (or could not be sent: ``error``)."""

    def __init__(self, entry: Entry, control: dict[str, Any], outcome: Event | None, error: str | None = None) -> None:
        super().__init__()
        self.entry, self.sent, self.outcome, self.error = entry, control, outcome, error


def cut(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` cells, ending in an ellipsis when cut."""
    text = one_line(text, max(width, 1) + 1)
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def entry_prompt(entry: Entry, now: float, width: int) -> Content:
    """Two lines, each cut to ``width``: the session, the tool and its input; why it is held, its countdown."""
    call = entry.call
    where = visible(cut(entry.title, max(width // 3, 12)))
    agent = "" if call.agent == MAIN_AGENT else visible(f"subagent {cut(call.agent, 12)} · ")
    edge = where_from(entry.origin)
    if edge is not None:
        agent = visible(cut(edge, max(width // 2, 16))) + " · " + agent
    tool = visible(cut(call.name or "?", 24))
    what = visible(cut(salient_input(call.name, call.input), max(width - len(where) - len(tool) - 5, 8)))
    left = countdown(call, now)
    why = visible(cut(call.describe(), max(width - len(left) - len(agent) - 3, 12)))
    return Content.assemble((where, "$text-muted"), " · ", (tool, "$text-accent bold"), "  ", (what, ""), "\n",
                            (agent, "$text-muted"), (why, "$text-warning"), " · ", (left, "bold"))


def outcome_line(entry: Entry, control: str, outcome: Event | None, error: str | None,
                 said: str | None = None) -> Content:
    """``✓ approve  Bash rm -rf build — approved: the call runs`` or ``✗ deny rejected — …``; ``said``: the
    reason the person gave the agent."""
    what = visible(cut(f"{entry.call.name or '?'} {salient_input(entry.call.name, entry.call.input)}", 40))
    if outcome is None and (error or "").startswith("TimeoutError"):
        return Content.assemble(("? ", "$text-warning"), f"{control}: no outcome yet  {what} — it may still "
                                "apply; the session's timeline shows its outcome when it comes")
    if outcome is None:
        return Content.assemble(("✗ ", "$text-error"), f"{control} not sent  {what} — ", visible(error or "?"))
    data = cast(ControlOutcomeData, data_of(outcome))
    reason = visible(one_line(str(data.get("reason") or ""), 160))
    if said:
        reason += visible(f"  “{cut(said, 80)}”")
    if outcome.get("kind") == Kind.CONTROL_APPLIED:
        return Content.assemble(("✓ ", "$text-success"), (control, "bold"), f"  {what} — {reason}")
    return Content.assemble(("✗ ", "$text-error"), (f"{control} rejected", "bold"), f"  {what} — {reason}")


class InboxScreen(Screen[None]):
    CSS_PATH = "inbox.tcss"

    HELP = """
## Held calls
Every call waiting for you, in every session, oldest first: why it is held and
what happens when its hold runs out. **y** approves the selected call, **n**
denies it with a reason the agent reads, **s** steps it; **Enter** opens its session.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "decide('approve')", "Approve", id="inbox.approve"),
        Binding("n", "decide('deny')", "Deny", id="inbox.deny"),
        Binding("s", "decide('step')", "Step", id="inbox.step"),
        Binding("enter", "open", "Open", id="inbox.open", priority=False),
        Binding("escape", "back", "Back", id="inbox.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[Entry] = []
        self.infos: dict[str, SessionInfo] = {}
        #: Calls a decision was sent for: their leaving the list is not news.
        self._decided: set[tuple[str, str]] = set()
        self._outcomes: deque[Content] = deque(maxlen=OUTCOMES)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="inbox-count")
        yield OptionList(id="held")
        yield Static(EMPTY, id="inbox-empty", markup=False)
        yield Static(id="outcomes")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Held calls"
        self.set_interval(1, unless_removing(self, self.tick))
        self.sessions_changed(host(self.app).sessions)

    # --- the list ------------------------------------------------------------------------

    @property
    def options(self) -> OptionList:
        return self.query_one("#held", OptionList)

    @property
    def selected(self) -> Entry | None:
        index = self.options.highlighted
        return self.entries[index] if index is not None and index < len(self.entries) else None

    def sessions_changed(self, infos: list[SessionInfo]) -> None:
        """The relay's latest session list: rebuild the list if its calls changed, keeping the selection."""
        self.infos = {i.session: i for i in infos}
        if not self.query("#held"):
            return
        new = entries(infos)
        if [e.key for e in new] == [e.key for e in self.entries] and self.options.option_count == len(new):
            self.entries = new
            self.tick()
            return
        still = {e.key for e in new}
        for entry in self.entries:
            if entry.key not in still and entry.key not in self._decided:
                self._note(Content.assemble(("⋯ ", "$text-muted"), visible(cut(
                    f"{entry.call.name or '?'} {salient_input(entry.call.name, entry.call.input)}", 40)),
                    " — no longer held (decided elsewhere, timed out or the session ended)"))
        keep = self.selected.key if self.selected else None
        at = self.options.highlighted
        self.entries = new
        options = self.options
        options.set_options([item for _ in new for item in (None, Option(Content(" ")))][1:])
        self._redraw()
        keys = [e.key for e in new]
        if new:
            options.highlighted = keys.index(keep) if keep in keys else self._next(keep, at, len(new))
        self.query_one("#inbox-count", Static).update(
            f"{len(new)} call{'s' if len(new) != 1 else ''} held for you, oldest first" if new else "")
        self.query_one("#inbox-empty").display = not new
        options.display = bool(new)
        self.refresh_bindings()

    def tick(self) -> None:
        """Once a second: the countdowns."""
        if counting(e.call for e in self.entries):
            self._redraw(only_counting=True)

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self, only_counting: bool = False) -> None:
        now = host(self.app).clock()
        options = self.options
        width = max((options.size.width or self.app.size.width) - 4, 20)
        for index, entry in enumerate(self.entries[: options.option_count]):
            if not only_counting or entry.call.expires_at is not None:
                options.replace_option_prompt_at_index(index, entry_prompt(entry, now, width))

    def _note(self, line: Content) -> None:
        self._outcomes.append(line)
        shown = self.query_one("#outcomes", Static)
        shown.update(Content("\n").join(self._outcomes))
        shown.display = True

    # --- actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("decide", "open"):
            return True if self.selected is not None else None
        return True

    def _next(self, gone: tuple[str, str] | None, at: int | None, count: int) -> int | None:
        """Where the highlight goes when the chosen call left the list: on to the next one if the person decided
        it here; none if it went another way (decided elsewhere, timed out), so no other call is chosen in
        its place under a key already on its way."""
        if gone is None:
            return 0
        if gone in self._decided and at is not None:
            return min(at, count - 1)
        return None

    def why_not(self, entry: Entry, control: str) -> str | None:
        info = self.infos.get(entry.session)
        state = SessionState(held={entry.call.call_id: entry.call})
        return unavailable(control, info.capabilities if info else {}, state,
                           blocked=host(self.app).steer_setup.blocked)

    def action_decide(self, control: str) -> None:
        entry = self.selected
        if entry is None:
            self.app.bell()
            return
        why = self.why_not(entry, control)
        if why is not None:
            self.notify(f"Cannot {control}: {why}", severity="warning")
            return
        if control == "approve" and needs_choice(entry.call, control):
            choose_option(self, entry.call, control, lambda option: self.send(entry, control, option=option))
            return
        if control != "deny":
            self.send(entry, control)
            return

        def reason_for(option: str | None) -> None:
            def chosen(reason: str | None) -> None:
                if reason is not None:
                    self.send(entry, "deny", reason=reason, **({"option": option} if option else {}))

            self.app.push_screen(DenyDialog(entry.call), chosen)

        if needs_choice(entry.call, "deny"):
            choose_option(self, entry.call, "deny", reason_for)
        else:
            reason_for(None)

    def send(self, entry: Entry, control: str, **fields: Any) -> None:
        body: dict[str, Any] = {"v": 1, "id": f"tui-{uuid.uuid4().hex[:12]}", "session": entry.session,
                                "control": control, "call_id": entry.call.call_id, "by": who(), "ts": now_iso(),
                                **fields}
        self._decided.add(entry.key)
        self._send(entry, body)

    @work(thread=True, group="inbox-controls", exit_on_error=False)
    def _send(self, entry: Entry, control: dict[str, Any]) -> None:
        try:
            outcome = host(self.app).relay.control(control).result(timeout=CONTROL_WAIT)
        except Exception as e:
            self.post_message(Decided(entry, control, None, f"{type(e).__name__}: {e}"))
            return
        self.post_message(Decided(entry, control, outcome))

    def on_decided(self, message: Decided) -> None:
        entry = message.entry
        if message.outcome is None or message.outcome.get("kind") != Kind.CONTROL_APPLIED:
            self._decided.discard(entry.key)
        sent = message.sent
        self._note(outcome_line(entry, str(sent["control"]), message.outcome, message.error, sent.get("reason")))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        entry = self.selected
        if entry is not None:
            host(self.app).open_session(entry.session)

    def action_back(self) -> None:
        self.dismiss()
