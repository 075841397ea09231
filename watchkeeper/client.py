"""A running watchkeeper, as the commands reach it: the loopback HTTP API, or a remote relay's websocket.

The commands (``ctl``, ``sessions``, ``run``, ``hooks status``) talk to a relay only through
here, so none of them imports another. The local API takes the person's token
from the config directory; a remote relay takes ``--token-file``, else
``$WATCHKEEPER_TOKEN``, else that same file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TIMEOUT = 10.0
#: Seconds ``ctl`` waits for a control's outcome: one passed on to another relay is answered with that
#: relay's own, or a rejection once the relay stops waiting for it (``relay.controls.FORWARD_TIMEOUT``).
OUTCOME_WAIT = 25.0


class ApiError(Exception):
    """The local API did not answer, or refused the request; ``str()`` says why, for the person."""


def hook_target_port() -> int:
    """The running relay's port (its runtime file), else the configured hook port."""
    from . import config

    info = config.read_runtime()
    return int(info["port"]) if info is not None else config.hook_port()


def api_port() -> int:
    """Where the person's token may go: the port the running relay wrote in its runtime file (in the 0700
    config directory), else one the person set (``$WATCHKEEPER_PORT``). Never the default port on a guess:
    whoever listens there first (another user, on a shared machine) would be sent the token."""
    import os

    from . import config

    info = config.read_runtime()
    if info is not None:
        return int(info["port"])
    if os.environ.get(config.ENV_PORT, "").isdigit():
        return config.hook_port()
    raise ApiError("no watchkeeper is running here (it writes where it listens when it starts: run "
                   "`watchkeeper`, or `watchkeeper serve`); or name its port with --port")


def api_request(method: str, path: str, body: Any = None, port: int | None = None,
                timeout: float = TIMEOUT) -> Any:
    """One request to the running watchkeeper's loopback API, with the token from the config dir.

    Whatever goes wrong (no token, no answer, an answer that is not HTTP or not JSON) is an ``ApiError``.
    """
    import http.client
    import urllib.error
    import urllib.request

    import orjson

    from . import config

    try:
        token = config.load_token(create=False)
    except (OSError, ValueError) as e:
        raise ApiError(f"cannot read the token at {config.token_path()}: {e}") from None
    if token is None:
        raise ApiError(f"no token at {config.token_path()}: is watchkeeper set up on this machine?")
    url = f"http://{config.LOOPBACK}:{port or api_port()}{path}"
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    where = url.rsplit("/", 1)[0]
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as e:
        try:
            detail = e.read()[:500].decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            detail = ""
        raise ApiError(f"{e.code} from watchkeeper: {detail}") from None
    except http.client.HTTPException as e:
        why = f"{type(e).__name__}: {str(e).strip()}"
        raise ApiError(f"{where} gave a broken HTTP answer ({why}): is it a watchkeeper?") from None
    except (OSError, ValueError, OverflowError) as e:
        raise ApiError(f"no watchkeeper answers at {where} ({error_text(getattr(e, 'reason', e))})") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ApiError(f"{where} did not answer with JSON ({e}): is it a watchkeeper?") from None


def error_text(error: object) -> str:
    """An error as a person reads it: its type's name when its text is empty (a timeout's often is)."""
    return str(error) or type(error).__name__


def match_session(given: str, listing: Any) -> str:
    """A unique prefix of a listed session id becomes the whole id; anything else stays as given."""
    rows = listing.get("sessions") if isinstance(listing, dict) else None
    ids = [row.get("session") for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
    if given in ids:
        return given
    matches = [sid for sid in ids if isinstance(sid, str) and sid.startswith(given)]
    return matches[0] if len(matches) == 1 else given


def listing_of(answer: Any, where: str) -> list[dict[str, Any]]:
    """The ``listing`` of a ``/sessions`` answer or a relay's ``sessions`` reply (``protocol.listing``)."""
    rows = answer.get("listing") if isinstance(answer, dict) else None
    if not isinstance(rows, list):
        raise ApiError(f"{where} does not list sessions with their held calls: it is an older watchkeeper")
    return [row for row in rows if isinstance(row, dict)]


def row_of(session: str, answer: Any) -> dict[str, Any] | None:
    """The listing object of ``session`` in an answer, if the answer has a listing and lists it."""
    rows = answer.get("listing") if isinstance(answer, dict) else None
    return next((r for r in rows if isinstance(r, dict) and r.get("id") == session), None) \
        if isinstance(rows, list) else None


def resolve_session(given: str, port: int | None) -> tuple[str, dict[str, Any] | None]:
    """``given`` resolved against the local relay's sessions, and its listing object (None: not listed)."""
    answer = api_request("GET", "/sessions", port=port)
    session = match_session(given, answer)
    return session, row_of(session, answer)


def local_listing(port: int | None) -> list[dict[str, Any]]:
    """The running watchkeeper's sessions, as ``watchkeeper sessions --json`` prints them."""
    return listing_of(api_request("GET", "/sessions", port=port), "the running watchkeeper")


def relay_listing(url: str, token_file: str | None) -> list[dict[str, Any]]:
    """A served relay's sessions, as ``watchkeeper sessions --json`` prints them.

    Raises ``ApiError``, ``RemoteError``, ``ValueError``, ``OSError`` or ``TimeoutError``.
    """
    import asyncio

    from . import config
    from .adapters.remote import request

    async def ask() -> Any:
        _, reply = await request(url, config.client_token(token_file), {"t": "sessions", "id": "sessions"})
        return reply

    reply = asyncio.run(ask())
    if isinstance(reply, dict) and reply.get("t") == "error":
        raise ApiError(str(reply.get("message")))
    return listing_of(reply, url)


def relay_control(url: str, token_file: str | None, given: str,
                  build: Callable[[str, dict[str, Any] | None], dict[str, Any]]) -> tuple[dict[str, Any], Any]:
    """One control through a remote relay, as a viewer that does not watch: (the control sent, the reply).

    ``build`` makes the control for the session ``given`` resolves to there, given its listing object
    (None if the relay does not list it). Raises ``RemoteError``, ``ValueError``, ``OSError`` or
    ``TimeoutError``, and whatever ``build`` raises.
    """
    import asyncio

    from . import config
    from .adapters.remote import request

    async def send() -> tuple[dict[str, Any], Any]:
        token = config.client_token(token_file)
        _, listing = await request(url, token, {"t": "sessions", "id": "sessions"})
        session = match_session(given, listing)
        control = build(session, row_of(session, listing))
        _, reply = await request(url, token, {"t": "control", "id": control["id"], "control": control})
        return control, reply

    return asyncio.run(send())
