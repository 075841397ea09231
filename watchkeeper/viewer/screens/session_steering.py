"""A live session's screen: the session screen with the controls as its part, their keys and outcomes.

Controls go out through the relay's ``control()`` from a thread worker (the UI
never waits on an agent); their outcomes come back in the session's stream as
``control.applied`` / ``control.rejected`` rows, and a rejection of one sent
from here is also a toast. A control the session cannot take now is dimmed in
the footer (``check_action``) and the controls area says why. A replay has a
player in that place instead, and none of these keys.
"""

from __future__ import annotations

import getpass
import socket
import uuid
from typing import Any, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from ...protocol import Event, Kind, now_iso
from ...protocol.controls import CONTROL_NAMES, CONTROLS, honoured
from ...protocol.payloads import ControlOutcomeData, data_of
from ...protocol.session import Held, SessionState
from ...relay.api import RelayAPI, SessionInfo
from ..host import host
from ..model.control_availability import SteerSetup, inject_note, source_reason, unavailable
from ..model.rows import one_line, salient_input
from ..palette import PaletteCommand
from ..widgets.controls import Controls
from .confirm import Confirm
from .deny import DenyDialog
from .inject import InjectDialog
from .option_choice import choose_option, needs_choice
from .session import SessionScreen

END_QUESTION = ("Stop this agent? A held request is answered cancelled, its turn ends, and the agent process "
                "is stopped: the session cannot be prompted again.")
#: Seconds a thread worker waits for a control's outcome from the relay.
CONTROL_WAIT = 15.0
#: What "always allow" asks, above the rule it would add.
ALWAYS_QUESTION = "Allows this call and adds this to the agent's own permission rules, so it stops asking:"
#: Action name -> the control it sends.
ACTIONS = {f"steer_{control}": control for control in CONTROL_NAMES}


class ControlDone(Message):
    """A control sent from this screen has its outcome (or could not be sent: ``error``)."""

    def __init__(self, control: dict[str, Any], outcome: Event | None, error: str | None = None) -> None:
        super().__init__()
        self.sent, self.outcome, self.error = control, outcome, error


class SteerableScreen(SessionScreen, inherit_bindings=False):
    """A live session's screen: it can steer the session, if its source can be steered.

    Its bindings are listed whole (not inherited) so that the footer keeps the steering keys first.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *(b for b in Screen.BINDINGS if not (isinstance(b, Binding) and b.key == "tab")),  # Tab: the session's
        *(Binding(c.key, f"steer_{c.kind}", c.kind.capitalize(), id=f"steer.{c.kind}") for c in CONTROLS),
        Binding("w", "steer_waiting", "Waiting", id="steer.waiting", show=False),
        Binding("Y", "steer_always", "Always allow…", id="steer.always", show=False),
        *SessionScreen.BINDINGS,
    ]

    def __init__(self, relay: RelayAPI, session: str, info: SessionInfo | None = None) -> None:
        super().__init__(relay, session, info)
        #: what the controls showed last: (the state folded, paused, step, the held calls).
        self._steer_shown: tuple[object, ...] = ()
        #: control -> why it cannot be sent now (None: it can); empty until first computed.
        self.why_not: dict[str, str | None] = {}
        self.whole_reason: str | None = None
        #: the controls this session's source honours and this viewer may send: their keys show.
        self.honoured: frozenset[str] = frozenset()
        self._sent: set[str] = set()
        self._toasted: set[str] = set()
        #: the held call the person selected (its row, not following): the keys act on it, and on no other
        #: once it is decided elsewhere.
        self._chosen: str | None = None
        #: the call the controls area names (what the keys act on), as last shown.
        self._target_shown: str | None = None

    @property
    def steer(self) -> SessionState:
        """The session's state as the timeline's store folded it: pause, step, the calls held."""
        return self.timeline.store.session

    @property
    def setup(self) -> SteerSetup:
        return host(self.app).steer_setup

    # --- the part ------------------------------------------------------------------------

    def compose_part(self) -> ComposeResult:
        yield Controls(id="controls")

    def took(self, batch: list[Event]) -> None:
        self.steer_batch(batch)

    def refresh_part(self) -> None:
        self.refresh_controls()

    def palette_commands(self) -> list[PaletteCommand]:
        return [*self.steering_commands(), *super().palette_commands()]

    def observe_only(self) -> str | None:
        """Why the source cannot be steered, with how to hook a live Claude Code session."""
        caps = self.capabilities()
        if honoured(caps):
            return None
        live = bool(self.info and self.info.live)
        agent_kind = (self.info.agent_kind if self.info else None) or self.timeline.store.session.agent_kind
        return source_reason(caps, agent_kind if live else None, self.setup.hooks_reason if live else None)

    # --- state in ------------------------------------------------------------------------

    def steer_batch(self, batch: list[Event]) -> None:
        """After the timeline took a batch: the controls follow held calls, pause and step; rejections
        of our controls are toasts."""
        state = self.steer
        shown = (id(state), state.paused, state.step, tuple(state.held))
        changed, self._steer_shown = shown != self._steer_shown, shown
        for ev in batch:
            if ev.get("kind") == Kind.CONTROL_REJECTED:
                data = cast(ControlOutcomeData, data_of(ev))
                if data.get("control_id") in self._sent:
                    self._toast_rejection(data)
        if changed:
            self.refresh_controls()

    def refresh_controls(self) -> None:
        """Recompute what can be sent and why not; the controls area and the footer follow."""
        shown = self.query(Controls)
        if not shown:
            return  # not composed yet (the app may pass a summary before)
        caps = self.capabilities()
        setup = self.setup
        agent_kind = (self.info.agent_kind if self.info else None) or self.timeline.store.session.agent_kind
        live = bool(self.info and self.info.live)
        blocked = setup.blocked
        hooks = setup.hooks_reason if live else None
        self.whole_reason = blocked or source_reason(caps, agent_kind if live else None, hooks)
        why_not = {c: unavailable(c, caps, self.steer, agent_kind=agent_kind if live else None, hooks=hooks,
                                  blocked=blocked) for c in CONTROL_NAMES}
        honoured = frozenset() if self.whole_reason is not None else frozenset(c for c in CONTROL_NAMES if caps.get(c))
        # A session its source cannot steer says so once, in the status bar's badge; a live one whose
        # source could but this viewer may not (no control rights, no hook endpoint) says why here.
        visible = self.whole_reason is None or (live and source_reason(caps) is None)
        target = self.target_call()
        self._target_shown = target.call_id if target else None
        shown.first().show(self.steer, why_not, self.whole_reason, visible, host(self.app).clock(), target)
        if why_not != self.why_not or honoured != self.honoured:
            self.why_not, self.honoured = why_not, honoured
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A steering key shows only for a control the session's source honours (none on an observe-only
        session); one with nothing to act on now (approve with no call held) is dimmed."""
        control = ACTIONS.get(action)
        if control is None:
            return True
        if control not in self.honoured:
            return False
        return True if self.why_not.get(control, "not known yet") is None else None

    # --- actions -----------------------------------------------------------------------------

    def _selected_call(self) -> str | None:
        """The call of the row the person selected; None while following (the cursor moves by itself there,
        onto whatever arrives: that is no one's choice)."""
        timeline = self.timeline
        if timeline.follow:
            return None
        head = timeline.selected_head
        call = timeline.store.call_of(head) if head is not None else None
        return call.call_id if call is not None else None

    def target_call(self) -> Held | None:
        """The call the keys act on, and the controls area names: the selected row's if it is held, else
        the oldest held call."""
        cid = self._selected_call()
        if cid is not None and cid in self.steer.held:
            return self.steer.held[cid]
        return self.steer.oldest

    def _chosen_gone(self) -> bool:
        """The person chose a held call and it was decided elsewhere since: say so, and act on no other."""
        cid = self._chosen
        if cid is None or cid in self.steer.held or self._selected_call() != cid:
            return False
        self.notify(f"The call you selected ({cid}) is no longer held: it was decided elsewhere. Nothing was "
                    "sent; select a held call (w goes to the oldest).", severity="warning", markup=False)
        return True

    def show_selected(self) -> None:
        super().show_selected()
        cid = self._selected_call()
        if cid is not None and cid in self.steer.held:
            self._chosen = cid
        elif cid != self._chosen:
            self._chosen = None
        target = self.target_call()
        if (target.call_id if target else None) != self._target_shown:
            self.refresh_controls()

    def action_steer_pause(self) -> None:
        self.send_control("pause")

    def action_steer_resume(self) -> None:
        self.send_control("resume")

    def action_steer_step(self) -> None:
        if self._chosen_gone():
            return
        held = self.target_call()
        self.send_control("step", call_id=held.call_id if held else None)

    def action_steer_approve(self) -> None:
        if self._chosen_gone():
            return
        held = self.target_call()
        if held is not None and needs_choice(held, "approve"):
            if self._can("approve"):
                choose_option(self, held, "approve",
                              lambda option: self.send_control("approve", call_id=held.call_id, option=option))
            return
        self.send_control("approve", call_id=held.call_id if held else None)

    def action_steer_cancel(self) -> None:
        self.send_control("cancel")

    def action_steer_end(self) -> None:
        """End the session, after the person confirms: the agent is stopped, not paused."""
        if not self._can("end"):
            return

        def chosen(yes: bool | None) -> None:
            if yes:
                self.send_control("end")

        title = self.info.title if self.info and self.info.title else self.session_id
        self.app.push_screen(Confirm("End this session", END_QUESTION, "End it",
                                     about=(one_line(title, 200),), focus_yes=False), chosen)

    def action_steer_deny(self) -> None:
        if self._chosen_gone():
            return
        held = self.target_call()
        if not self._can("deny") or held is None:
            return

        def reason_for(option: str | None) -> None:
            def chosen(reason: str | None) -> None:
                if reason is not None:
                    self.send_control("deny", call_id=held.call_id, reason=reason, option=option)

            self.app.push_screen(DenyDialog(held), chosen)

        if needs_choice(held, "deny"):
            choose_option(self, held, "deny", reason_for)
        else:
            reason_for(None)

    def action_steer_always(self) -> None:
        """Approve a permission prompt and add the rule it offers, after the person has read the rule."""
        if self._chosen_gone():
            return
        held = self.target_call()
        if not self._can("approve") or held is None:
            return
        if held.always_rule is None:
            self.notify("This call offers no rule to add: approve it once with y", severity="warning")
            return

        def chosen(add: bool | None) -> None:
            if add:
                self.send_control("approve", call_id=held.call_id, always=True)

        call = one_line(f"{held.name or '?'}  {salient_input(held.name, held.input)}", 200)
        self.app.push_screen(Confirm("Always allow", ALWAYS_QUESTION, "Add the rule and allow",
                                     about=(call, held.always_rule), focus_yes=False), chosen)

    def action_steer_inject(self) -> None:
        if not self._can("inject"):
            return
        sources = self.info.sources if self.info else []
        agent_kind = self.info.agent_kind if self.info else None
        where = inject_note(agent_kind, sources, self.steer)

        def chosen(text: str | None) -> None:
            if text:
                self.send_control("inject", text=text)

        self.app.push_screen(InjectDialog(where, self.info.title if self.info else None), chosen)

    def action_steer_waiting(self) -> None:
        held = self.target_call()
        store = self.timeline.store
        head = store.call_head.get(held.call_id) if held else None
        pos = store.position(head) if head is not None else None
        if pos is None:
            self.notify("No call is waiting" if held is None else "The waiting call is filtered out (x clears)")
            return
        self.timeline.follow = False
        self.timeline.cursor = pos
        self.timeline.focus()

    def _can(self, control: str) -> bool:
        why = self.why_not.get(control, "not known yet")
        if why is not None:
            self.notify(f"Cannot {control}: {why}", severity="warning")
        return why is None

    def send_control(self, control: str, **fields: Any) -> str | None:
        """Send one control to this session (if it can take it now); its id, or None if not sent."""
        if not self._can(control):
            return None
        body: dict[str, Any] = {"v": 1, "id": f"tui-{uuid.uuid4().hex[:12]}", "session": self.session_id,
                                "control": control, "by": who(), "ts": now_iso()}
        body.update({k: v for k, v in fields.items() if v is not None})
        self._sent.add(body["id"])
        self._send(body)
        return str(body["id"])

    @work(thread=True, group="steer-controls", exit_on_error=False)
    def _send(self, control: dict[str, Any]) -> None:
        try:
            outcome = self.relay.control(control).result(timeout=CONTROL_WAIT)
        except Exception as e:
            self.post_message(ControlDone(control, None, f"{type(e).__name__}: {e}"))
            return
        self.post_message(ControlDone(control, outcome))

    def on_control_done(self, message: ControlDone) -> None:
        if message.error is not None and message.error.startswith("TimeoutError"):
            self.notify(f"No outcome for {message.sent['control']} after {CONTROL_WAIT:g} s: it may still apply. "
                        "Its outcome shows in the timeline when it comes.", severity="warning",
                        title="No outcome yet")
        elif message.error is not None:
            self.notify(f"{message.sent['control']} was not sent: {message.error}", severity="error",
                        title="Control failed")
        elif message.outcome is not None and message.outcome.get("kind") == Kind.CONTROL_REJECTED:
            self._toast_rejection(cast(ControlOutcomeData, data_of(message.outcome)))

    def _toast_rejection(self, data: ControlOutcomeData) -> None:
        cid = data.get("control_id")
        if cid in self._toasted:
            return
        self._toasted.add(str(cid))
        self.notify(str(data.get("reason") or "no reason given"), severity="warning",
                    title=f"{data.get('control', 'control')} rejected", markup=False)

    def steering_commands(self) -> list[PaletteCommand]:
        """The controls for the command palette; an unavailable one says why in its help.

        None for a session that can never be steered (a finished transcript, a replay).
        """
        if self.whole_reason is not None and not (self.info and self.info.live):
            return []
        out: list[PaletteCommand] = []
        for spec in CONTROLS:
            why = self.why_not.get(spec.kind)
            help_text = spec.help if why is None else f"Unavailable: {why}"
            out.append((f"Steer: {spec.kind}", help_text, getattr(self, f"action_steer_{spec.kind}")))
        out.append(("Steer: go to the waiting call", "Select the call that waits for you", self.action_steer_waiting))
        out.append(("Steer: always allow…", "Approve a permission prompt and add the rule it offers (shown first)",
                     self.action_steer_always))
        return out


def who() -> str:
    """Who sends a control from this viewer: user@host (tui)."""
    try:
        return f"{getpass.getuser()}@{socket.gethostname()} (tui)"
    except Exception:
        return "tui"
