"""``watchkeeper ctl pause|resume|approve|deny|inject|cancel|step SESSION ...``: steer through the local API.

Each control gets exactly one outcome, printed here: ``applied: …`` (exit 0)
or ``rejected: …`` (exit 1); 2 if no watchkeeper answers. A control re-sent
with the same ``--id`` acts once and reports its first outcome again.

approve, deny and step decide a held call: named by its id (``watchkeeper
sessions`` lists them), or, with none named, the one the session holds. With
several held and none named the control is refused here (exit 1), listing
them: a script must not decide a call it never saw.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
import uuid
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from ..protocol.payloads import ControlOutcomeData

HELP = "steer a live session: pause, resume, approve, deny, inject, cancel, step, end"
#: The controls that decide a held call.
DECIDING = ("approve", "deny", "step")


class Unnamed(Exception):
    """approve/deny/step without a call id while the session holds several calls; ``str()`` says which."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["pause", "resume", "approve", "deny", "inject", "cancel", "step", "end"])
    parser.add_argument("session", help="the session id (or a unique prefix of it)")
    parser.add_argument("arg", nargs="?", default=None,
                        help="inject: the text; approve/deny/step: the held call's id (needed when several are held)")
    parser.add_argument("--reason", help="deny/cancel: what the agent is told")
    parser.add_argument("--always", action="store_true",
                        help="approve a permission prompt and add the rule it offers (`watchkeeper sessions "
                             "--json` shows it as always_rule), so the agent stops asking")
    parser.add_argument("--option", metavar="KIND",
                        help="approve an ACP agent's permission request with this option, by kind or id "
                             "(e.g. allow_always: the agent remembers the rule); default allow_once")
    parser.add_argument("--id", help="the control's id (default: a new one); re-send an id to retry safely")
    parser.add_argument("--port", type=int, default=None, help="the running watchkeeper's port")
    parser.add_argument("--relay", metavar="URL", help="steer through a remote relay (`watchkeeper serve`), "
                        "ws[s]://HOST:PORT")
    parser.add_argument("--token-file", metavar="F", help="with --relay: the token (default: "
                        "$WATCHKEEPER_TOKEN, else this machine's token file)")


def run(args: argparse.Namespace) -> int:
    from ..client import OUTCOME_WAIT, ApiError, api_request, resolve_session
    from ..protocol.display import visible

    if getattr(args, "relay", None):
        return _over_relay(args)
    try:
        session, row = resolve_session(args.session, args.port)
        control = build_control(args, session, row)
        answer = api_request("POST", "/control", control, args.port, timeout=OUTCOME_WAIT)
    except Unnamed as e:
        print(visible(f"watchkeeper ctl: refused: {e}"), file=sys.stderr)
        return 1
    except ApiError as e:
        print(visible(f"watchkeeper ctl: {e}"), file=sys.stderr)
        return 2
    return _report(answer, control, "watchkeeper ctl")


def _over_relay(args: argparse.Namespace) -> int:
    """``--relay URL``: the same control through a remote relay's websocket; the same output and exit codes."""
    from ..adapters.remote import RemoteError
    from ..client import error_text, relay_control
    from ..protocol.display import visible

    try:
        control, reply = relay_control(args.relay, args.token_file, args.session,
                                       lambda session, row: build_control(args, session, row))
    except Unnamed as e:
        print(visible(f"watchkeeper ctl: refused: {e}"), file=sys.stderr)
        return 1
    except (RemoteError, ValueError, OSError, TimeoutError) as e:
        print(visible(f"watchkeeper ctl: {args.relay}: {error_text(e)}"), file=sys.stderr)
        return 2
    if isinstance(reply, dict) and reply.get("t") == "error":
        print(visible(f"watchkeeper ctl: {args.relay}: {reply.get('message')}"), file=sys.stderr)
        return 2
    return _report(reply, control, f"watchkeeper ctl: {args.relay}")


def _report(answer: Any, control: dict[str, Any], who: str) -> int:
    """The outcome ``answer`` carries, printed (exit 0 or 1); an answer without one is said to be odd (exit 2)."""
    from ..protocol.display import visible

    outcome = answer.get("outcome") if isinstance(answer, dict) else None
    given = (outcome.get("data") or {}) if isinstance(outcome, dict) else None
    if not isinstance(outcome, dict) or not isinstance(given, dict):
        print(visible(f"{who}: unexpected answer {answer!r}"), file=sys.stderr)
        return 2
    applied = outcome.get("kind") == "control.applied"
    data = cast("ControlOutcomeData", given)
    call = f" [{data['call_id']}]" if data.get("call_id") else ""
    verdict = "applied" if applied else "rejected"
    print(visible(f"{verdict}{call}: {data.get('reason') or ''} (control {control['id']})"))
    return 0 if applied else 1


def build_control(args: argparse.Namespace, session: str, row: dict[str, Any] | None = None) -> dict[str, Any]:
    """The control to send; ``row`` is the session's listing object (its held calls), None if not listed.

    Raises :class:`Unnamed` for approve/deny/step with no call id while several calls are held, and for
    approve/deny while none is (it would decide a call held after the listing, one nobody saw); with one
    held, the control names it, so it decides the call the listing showed even if another comes first.
    """
    from ..protocol import now_iso
    from ..protocol.listing import held_of

    control: dict[str, Any] = {"v": 1, "id": args.id or f"ctl-{uuid.uuid4().hex[:12]}", "session": session,
                               "control": args.action, "by": _who(), "ts": now_iso()}
    if args.action == "inject":
        control["text"] = args.arg or ""
    elif args.arg:
        control["call_id"] = args.arg
    elif args.action in DECIDING and row is not None:
        held = held_of(row)
        if len(held) > 1:
            raise Unnamed(f"session {session} holds {len(held)} calls: {', '.join(held)}; name the one to "
                          f"{args.action}: watchkeeper ctl {args.action} {session} CALL_ID")
        if held:
            control["call_id"] = held[0]
        elif args.action != "step" and row.get("steerable"):
            # Step mode needs no call; a decision sent unnamed would take whichever call is held next.
            raise Unnamed(f"session {session} holds no call: nothing to {args.action}")
    if args.reason:
        control["reason"] = args.reason
    if getattr(args, "always", False):
        if args.action != "approve":
            raise Unnamed("--always goes with approve only")
        control["always"] = True
    if getattr(args, "option", None):
        control["option"] = args.option
    return control


def _who() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()} (ctl)"
    except Exception:
        return "ctl"
