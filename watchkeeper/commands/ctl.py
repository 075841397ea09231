"""``watchkeeper ctl pause|resume|approve|deny|inject|cancel|step SESSION ...``: steer through the local API.

Each control gets exactly one outcome, printed here: ``applied: …`` (exit 0)
or ``rejected: …`` (exit 1); 2 if no watchkeeper answers. A control re-sent
with the same ``--id`` acts once and reports its first outcome again.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
import uuid
from typing import Any

HELP = "steer a live session: pause, resume, approve, deny, inject, cancel, step"
TIMEOUT = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["pause", "resume", "approve", "deny", "inject", "cancel", "step"])
    parser.add_argument("session", help="the session id (or a unique prefix of it)")
    parser.add_argument("arg", nargs="?", default=None,
                        help="inject: the text; approve/deny/step: the held call's id (default: the oldest)")
    parser.add_argument("--reason", help="deny/cancel: what the agent is told")
    parser.add_argument("--id", help="the control's id (default: a new one); re-send an id to retry safely")
    parser.add_argument("--port", type=int, default=None, help="the running watchkeeper's port")
    parser.add_argument("--relay", metavar="URL", help="steer through a remote relay (`watchkeeper serve`), "
                        "ws[s]://HOST:PORT")
    parser.add_argument("--token-file", metavar="F", help="with --relay: the token (default: "
                        "$WATCHKEEPER_TOKEN, else this machine's token file)")


class ApiError(Exception):
    """The local API did not answer, or refused the request; ``str()`` says why, for the person."""


def api_request(method: str, path: str, body: Any = None, port: int | None = None) -> Any:
    """One request to the running watchkeeper's loopback API, with the token from the config dir."""
    import urllib.error
    import urllib.request

    import orjson

    from .. import config
    from .run import hook_target_port

    token = config.load_token(create=False)
    if token is None:
        raise ApiError(f"no token at {config.token_path()}: is watchkeeper set up on this machine?")
    url = f"http://{config.LOOPBACK}:{port or hook_target_port()}{path}"
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as e:
        detail = e.read()[:500].decode("utf-8", "replace")
        raise ApiError(f"{e.code} from watchkeeper: {detail}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ApiError(f"no watchkeeper answers at {url.rsplit('/', 1)[0]} ({reason})") from None


def run(args: argparse.Namespace) -> int:
    from ..protocol.display import visible

    if getattr(args, "relay", None):
        from .attach import ctl_over_relay

        return ctl_over_relay(args, build_control)
    try:
        session = resolve_session(args.session, args.port)
        control = build_control(args, session)
        answer = api_request("POST", "/control", control, args.port)
    except ApiError as e:
        print(visible(f"watchkeeper ctl: {e}"), file=sys.stderr)
        return 2
    outcome = answer.get("outcome") if isinstance(answer, dict) else None
    if not isinstance(outcome, dict):
        print(visible(f"watchkeeper ctl: unexpected answer {answer!r}"), file=sys.stderr)
        return 2
    applied = outcome.get("kind") == "control.applied"
    data = outcome.get("data") or {}
    call = f" [{data['call_id']}]" if data.get("call_id") else ""
    verdict = "applied" if applied else "rejected"
    print(visible(f"{verdict}{call}: {data.get('reason') or ''} (control {control['id']})"))
    return 0 if applied else 1


def build_control(args: argparse.Namespace, session: str) -> dict[str, Any]:
    from ..protocol import now_iso

    control: dict[str, Any] = {"v": 1, "id": args.id or f"ctl-{uuid.uuid4().hex[:12]}", "session": session,
                               "control": args.action, "by": _who(), "ts": now_iso()}
    if args.action == "inject":
        control["text"] = args.arg or ""
    elif args.arg:
        control["call_id"] = args.arg
    if args.reason:
        control["reason"] = args.reason
    return control


def resolve_session(given: str, port: int | None) -> str:
    """A unique prefix of a known session id becomes the whole id; anything else is sent as given."""
    answer = api_request("GET", "/sessions", port=port)
    ids = [row.get("session") for row in answer.get("sessions", [])] if isinstance(answer, dict) else []
    if given in ids:
        return given
    matches = [sid for sid in ids if isinstance(sid, str) and sid.startswith(given)]
    return matches[0] if len(matches) == 1 else given


def _who() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()} (ctl)"
    except Exception:
        return "ctl"
