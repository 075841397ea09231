"""The ACP agent's permission requests, held for the person until they answer.

The answer is picked by option ``kind`` and sent with the agent's own
``optionId`` (ids differ per agent). Approve is ``allow_once``; deny is
``reject_once``; ``allow_always`` only when the person names it. Where the
agent offers no option of the wanted kind, the control is refused with the
options it does offer. A hold has no expiry; stopping answers ``cancelled``.

A breakpoint is checked when a call's input is known: the call's request is
then held as a breakpoint hit; a call that matched and ran without asking is
said to have "matched, could not hold".
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ...protocol import Event, Kind
from ...protocol.controls import hold_ended
from ...protocol.envelope import iso
from ...protocol.kinds import HoldWhy
from ...protocol.payloads import NoticeData, ToolWaitingData
from .translate import Translator

#: What each decision picks, by option kind.
KINDS = {"approve": "allow_once", "always": "allow_always", "deny": "reject_once", "deny_always": "reject_always"}
#: The option kinds each decision may send.
FITS = {"approve": ("allow_once", "allow_always"), "deny": ("reject_once", "reject_always")}


#: Turns of the event loop a permission request gives the messages received before it (see ``ask``).
YIELDS = 8


@dataclass
class Pending:
    call_id: str
    options: list[Any]
    future: asyncio.Future[Any]


class Host(Protocol):
    """What the holds need of their ACP source."""

    session: str | None
    cwd: str
    breakpoint: Callable[[dict[str, Any]], str | None] | None

    @property
    def translator(self) -> Translator: ...

    def emit(self, events: list[Event]) -> None: ...

    def event(self, what: str, kind: str, data: Any) -> Event: ...

    def flush_now(self) -> None: ...


class Holds:
    """The permission requests of one ACP session that wait for the person."""

    def __init__(self, source: Host) -> None:
        self.source = source
        self.pending: dict[str, Pending] = {}
        #: call id -> the breakpoint rule its input matched.
        self.matched: dict[str, str] = {}
        self._n = itertools.count(1)

    def seen(self, update: dict[str, Any]) -> list[Event]:
        """A tool call update: check breakpoints once its input is known; say when a match never asked."""
        tr = self.source.translator
        call = tr.get(update.get("toolCallId"))
        matcher = self.source.breakpoint
        if call is None or matcher is None:
            return []
        out: list[Event] = []
        if call.started and call.call_id not in self.matched and not call.asked:
            rule = matcher({"session_id": tr.session, "hook_event_name": "PreToolUse", "tool_name": call.name,
                            "tool_input": call.input, "tool_use_id": call.call_id, "cwd": self.source.cwd})
            self.matched[call.call_id] = rule or ""
        rule = self.matched.get(call.call_id)
        status = call.fields.get("status")
        if rule and not call.asked and status in ("in_progress", "completed", "failed"):
            self.matched[call.call_id] = ""
            data: NoticeData = {"level": "warning", "code": "breakpoint-not-held",
                                "text": f"breakpoint {rule!r} matched {call.name} ({call.call_id}), could not "
                                        "hold: the agent did not ask about this call"}
            out.append(self.source.event(f"{call.call_id}:unheld", Kind.NOTICE, data))
        return out

    async def ask(self, tool_call: dict[str, Any], options: list[Any]) -> Any:
        """Hold one ``session/request_permission`` until the person answers (or watchkeeper stops)."""
        from acp.schema import DeniedOutcome, RequestPermissionResponse

        source = self.source
        tr = source.translator
        # The agent's tool_call update sent just before this request may still wait in its own task (the
        # ACP connection runs each message as one): let it land first, so the held call has its real name.
        for _ in range(YIELDS):
            await asyncio.sleep(0)
        source.flush_now()
        asked = tr.get(tool_call.get("toolCallId"))
        if asked is not None and asked.finished:  # asked again after it ran: a new call, held as one
            tr.renew(tool_call["toolCallId"])
        call = tr.call(tool_call)
        if call is None:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        events = tr.start(call)
        if call.call_id not in self.matched:
            events += self.seen({"toolCallId": call.call_id})
        call.asked = True
        rule = self.matched.get(call.call_id) or None
        n = next(self._n)
        data: ToolWaitingData = {"call_id": call.call_id, "reason": "permission",
                                 "why": HoldWhy.BREAKPOINT if rule else HoldWhy.PERMISSION, "rule": rule,
                                 "name": call.name, "input": call.input, "since": iso(datetime.now(UTC)),
                                 "expires_at": None, "on_expiry": None,
                                 "always_rule": always_text(options),
                                 "options": [{"id": str(o.option_id), "name": str(o.name), "kind": str(o.kind)}
                                             for o in options]}
        events.append(source.event(f"{call.call_id}:permission:{n}", Kind.TOOL_WAITING, data))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # A second request for the same call replaces the first, which is answered ``cancelled``: left
        # unanswered, the agent's turn would wait on it for good.
        self.cancel(call.call_id)
        mine = self.pending[call.call_id] = Pending(call.call_id, options, future)
        source.emit(events)
        try:
            return await future
        finally:
            if self.pending.get(call.call_id) is mine:
                del self.pending[call.call_id]

    def options_text(self, p: Pending) -> str:
        return ", ".join(f"{o.name} ({o.kind}, id {o.option_id})" for o in p.options)

    def decide(self, call_id: str, decision: str, option: str | None = None) -> tuple[str | None, str]:
        """Answer one held request: (None, the kind of the option sent) when answered, else (why not, "").

        ``option`` names a kind (``allow_always``) or, failing that, one of the agent's option ids; the
        option must be of a kind the decision means (a deny never sends an ``allow_*`` option), so an
        agent's ids cannot pass one kind off as another.
        """
        from acp.schema import AllowedOutcome, RequestPermissionResponse

        p = self.pending.get(call_id)
        if p is None:
            return f"call {call_id} is not waiting for permission", ""
        wanted = option or KINDS[decision]
        if wanted in KINDS.values():
            chosen = next((o for o in p.options if o.kind == wanted), None)
        else:
            chosen = next((o for o in p.options if o.option_id == wanted), None)
        if chosen is None:
            return f"the agent offers no {wanted} option for this call; its options: {self.options_text(p)}", ""
        if chosen.kind not in FITS[decision]:
            return (f"option {chosen.option_id} is the agent's {chosen.kind} option: it does not {decision}; its "
                    f"options: {self.options_text(p)}"), ""
        if not p.future.done():
            p.future.set_result(RequestPermissionResponse(
                outcome=AllowedOutcome(outcome="selected", option_id=chosen.option_id)))
        self.pending.pop(call_id, None)
        return None, str(chosen.kind)

    def cancel(self, call_id: str) -> None:
        from acp.schema import DeniedOutcome, RequestPermissionResponse

        p = self.pending.pop(call_id, None)
        if p is not None and not p.future.done():
            p.future.set_result(RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled")))

    async def cancel_all(self, why: str) -> list[Event]:
        """Every pending request answered ``cancelled`` (never fail open); the events that say so."""
        events = []
        for cid in list(self.pending):
            self.cancel(cid)
            if self.source.session is not None:
                events.append(hold_ended(self.source.session, cid, "cancelled", why))
        self.source.emit(events)
        await asyncio.sleep(0)
        return events


def always_text(options: list[Any]) -> str | None:
    """The agent's own ``allow_always`` option, verbatim, for the person to read before picking it."""
    found = next((o for o in options if getattr(o, "kind", None) == "allow_always"), None)
    if found is None:
        return None
    return f"{getattr(found, 'name', '') or 'allow always'} (option {getattr(found, 'option_id', '?')})"
