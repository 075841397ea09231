"""The person's controls on an ACP session, applied: each maps onto what ACP offers.

approve/deny answer a held permission request (deny's reason becomes the
agent's next prompt: ACP has no deny message); pause queues prompts, and
since every permission request is held anyway, the next call the agent asks
about waits; resume sends what was queued; inject prompts the agent (now if
it is idle, else queued and shown as queued); cancel is ``session/cancel``
with every pending request answered ``cancelled``; end does that and stops
the agent, ending its session. Step is not offered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ...protocol import ControlModel
from ...protocol.controls import ENDED_REASON, ControlResult, hold_ended, outcome_event

#: The ACP source (``source.AcpSource``), which calls in here: typed loosely to keep the import one-way.
AcpSource = Any


def apply(source: AcpSource, c: ControlModel) -> ControlResult:
    """One control's one outcome; a control id seen before acts no more."""
    seen = source.outcomes.seen(c)
    if seen is not None:
        return ControlResult(seen, [])
    if source.ended.is_set():
        ok, reason, call = False, ENDED_REASON, c.call_id
    elif source.gone is not None:
        ok, reason, call = False, f"the agent is gone ({source.gone}): no control can reach it", c.call_id
    else:
        ok, reason, call = _apply(source, c)
    outcome = outcome_event(c, ok, reason, call)
    source.outcomes.keep(c, outcome)
    return ControlResult(outcome, [outcome])


def _apply(source: AcpSource, c: ControlModel) -> tuple[bool, str, str | None]:
    kind = c.control
    holds = source.holds
    if kind in ("approve", "deny"):
        cid = c.call_id
        if cid is None:
            if len(holds.pending) > 1:
                return False, "more than one call waits for permission: name the call", None
            cid = next(iter(holds.pending), None)
            if cid is None:
                return False, "no call is waiting for permission", None
        extra = c.model_extra or {}
        option = extra.get("option") if isinstance(extra.get("option"), str) else None
        if c.always and kind == "approve" and option is None:
            option = "allow_always"  # the person picked "always allow", having read the option's name
        why_not, sent = holds.decide(cid, str(kind), option)
        if why_not is not None:
            return False, why_not, cid
        if kind == "approve":
            return True, f"approved: the agent was answered {sent}", cid
        text = (c.reason or "").strip()
        source.denied[cid] = text
        if text:
            qid = source.submit(text)
            where = "queued as its next prompt" if qid else "sent as its next prompt"
            return True, f"denied ({sent}); the reason is {where}", cid
        return True, f"denied ({sent})", cid
    if kind == "pause":
        source.paused = True
        return True, "paused: prompts are queued and the next call the agent asks about waits", None
    if kind == "resume":
        source.paused = False
        source.resumed()
        held = len(holds.pending)
        more = f"; {held} permission request(s) still wait for approve or deny" if held else ""
        return True, "resumed: queued prompts go on" + more, None
    if kind == "inject":
        text = (c.text or "").strip()
        if not text:
            return False, "nothing to inject: the text is empty", None
        qid = source.submit(text)
        return True, ("queued: sent when the agent's turn ends" if qid else "sent as the agent's next prompt"), None
    if kind == "cancel":
        pending = list(holds.pending)
        for cid in pending:
            holds.cancel(cid)
        if source.session is not None:
            source.emit([hold_ended(source.session, cid, "cancelled", "the person cancelled the turn")
                         for cid in pending])
        asyncio.get_running_loop().create_task(source.cancel())
        return True, "cancel sent (session/cancel)" + (
            f"; {len(pending)} permission request(s) answered cancelled" if pending else ""), None
    if kind == "end":
        source.end_asked.set()
        held = len(holds.pending)
        return True, "ending: the turn is cancelled and the agent stopped" + (
            f"; {held} permission request(s) answered cancelled" if held else ""), None
    return False, f"an ACP agent cannot {kind}", None
