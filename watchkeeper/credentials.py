"""Who may do what: the people's steering tokens and the agents' hook-only and agent credentials.

Three kinds of credential, never interchangeable:

- a **person token** steers: the control API, websocket viewers, SDK agents.
  A server may accept several, each with a name; the name, not what the
  client claims, is recorded as who sent a control.
- a **hook credential** reaches the hook endpoint only. ``run`` mints one per
  session, bound to the first session id a hook request carries; ``hooks
  install`` keeps one for the installed hooks. Only a hash of each is stored
  (``hook-credentials/`` in the config directory), so listing that directory
  gives nobody a credential.
- an **agent credential** is for an SDK agent (``watchkeeper token --agent``):
  on the websocket it may only connect as an agent, report one session (the
  first it reports binds it) and receive that session's controls and
  decisions. It is registered beside the hook credentials, by hash.

An agent is handed a hook or agent credential, never a person token: with it,
it can report its own run and nothing else.

A hub (``serve --edge-token-file``) also accepts **edge credentials**: an
edge (``serve --upstream``) pushes its sessions with one and receives the
controls for them; it can neither watch, list nor steer anything on the hub.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

#: Hook credentials start so (a person reading a settings file or an environment knows what it is).
HOOK_PREFIX = "wkh_"
#: Agent credentials (for SDK agents) start so.
AGENT_PREFIX = "wka_"
#: The kinds that bind to the first session they report.
_BINDING = ("session", "agent")
#: ``run``'s credentials no session used for this long are pruned when the next one is minted.
SESSION_CREDENTIAL_AGE = 30 * 24 * 3600
#: A ``name=token`` line: a name (a letter or digit first), ``=``, then a token that does not start with
#: ``=``; anything else is one bare token, ``=`` and all (base64's ``==`` padding is never a name and a token).
_NAMED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.@+-]{0,63})=([^=\s]\S*)$")


@dataclass(frozen=True)
class Person:
    """An accepted person token; ``name`` is None for an unnamed one (then the client's ``by`` stands)."""

    name: str | None


@dataclass(frozen=True)
class HookCredential:
    """A registered agent-side credential: ``kind`` is ``session`` (``run``), ``install`` (``hooks install``)
    or ``agent`` (an SDK agent's, with the ``name`` the person gave it)."""

    digest: str
    kind: str
    session: str | None
    name: str | None = None


@dataclass(frozen=True)
class Edge:
    """An accepted edge credential; ``name`` (the file's ``name=``) names the edge, else the edge says."""

    name: str | None
    #: which credential of the keyring (an edge name is only unique within one credential).
    key: int = 0


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_tokens(text: str) -> list[tuple[str | None, str]]:
    """A token file's people: ``name=token`` lines, or one bare token (unnamed); ``#`` lines are comments.

    Client and server read a file alike, so ``attach --token-file F`` sends what ``serve --token-file F``
    accepts, and a base64 token ending in ``==`` is one token, not a name with the secret ``=``."""
    out: list[tuple[str | None, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        named = _NAMED.match(line)
        out.append((named.group(1), named.group(2)) if named else (None, line))
    return out


class Keyring:
    """The credentials one server checks: its people's tokens, and the hook credentials registered on disk."""

    def __init__(self, people: Iterable[tuple[str | None, str]], hook_dir: Path | None = None,
                 edges: Iterable[tuple[str | None, str]] = ()) -> None:
        self.people = [(name, token.encode()) for name, token in people if token]
        if not self.people:
            raise ValueError("a keyring needs at least one person token")
        self.edges = [(name, token.encode()) for name, token in edges if token]
        if any(self.person(token.decode()) is not None for _, token in self.edges):
            raise ValueError("an edge credential must differ from every person token")
        self.hook_dir = hook_dir
        self._bound: dict[str, str] = {}

    def person(self, given: str) -> Person | None:
        """The person whose token ``given`` is (every token compared, in constant time), or None."""
        raw = given.encode()
        found: Person | None = None
        for name, token in self.people:
            if hmac.compare_digest(raw, token) and found is None:
                found = Person(name)
        return found

    def edge(self, given: str) -> Edge | None:
        """The edge whose credential ``given`` is (compared in constant time), or None."""
        raw = given.encode()
        found: Edge | None = None
        for key, (name, token) in enumerate(self.edges):
            if hmac.compare_digest(raw, token) and found is None:
                found = Edge(name, key)
        return found

    def hook(self, given: str) -> HookCredential | None:
        """The hook credential ``given`` is, or None. A person token is never one."""
        return self._registered(given, HOOK_PREFIX, ("session", "install"))

    def agent(self, given: str) -> HookCredential | None:
        """The agent credential ``given`` is, or None. A person token or hook credential is never one."""
        return self._registered(given, AGENT_PREFIX, ("agent",))

    def _registered(self, given: str, prefix: str, kinds: tuple[str, ...]) -> HookCredential | None:
        if self.hook_dir is None or not given.startswith(prefix):
            return None
        key = digest(given)
        try:
            record = orjson.loads((self.hook_dir / f"{key}.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(record, dict) or record.get("kind") not in kinds:
            return None
        session = self._bound.get(key) or record.get("session")
        name = record.get("name")
        return HookCredential(key, str(record["kind"]), session if isinstance(session, str) else None,
                              name if isinstance(name, str) else None)

    def bound(self, credential: HookCredential) -> str | None:
        """The session ``credential`` is bound to, if it is yet."""
        return self._bound.get(credential.digest) or credential.session

    def admits(self, credential: HookCredential, session: str) -> bool:
        """May ``credential`` report ``session``? A session or agent credential's first session binds it."""
        if credential.kind not in _BINDING:
            return True
        bound = self._bound.get(credential.digest) or credential.session
        if bound is not None:
            return hmac.compare_digest(bound.encode(), session.encode())
        if not session or session == "unknown":
            return False
        self._bound[credential.digest] = session
        if self.hook_dir is not None:
            _write_record(self.hook_dir / f"{credential.digest}.json",
                          {"kind": credential.kind, "session": session, "name": credential.name,
                           "bound": time.time()})
        return True


# --- minting (``run``, ``hooks install``, ``token --agent``) -----------------------------------


def mint(hook_dir: Path, kind: str = "session", name: str | None = None) -> str:
    """A new credential of ``kind``, registered (by its hash) in ``hook_dir``; the secret is returned, not stored."""
    if kind in _BINDING:
        prune(hook_dir)
    secret = (AGENT_PREFIX if kind == "agent" else HOOK_PREFIX) + secrets.token_urlsafe(32)
    register(hook_dir, secret, kind, name)
    return secret


def register(hook_dir: Path, secret: str, kind: str, name: str | None = None) -> None:
    """Accept ``secret`` as a credential of ``kind`` (kept as it is if registered already)."""
    path = hook_dir / f"{digest(secret)}.json"
    if not path.exists():
        _write_record(path, {"kind": kind, "session": None, "name": name, "created": time.time()})


def prune(hook_dir: Path, age: float = SESSION_CREDENTIAL_AGE) -> None:
    """Forget ``run``'s and agents' credentials untouched for ``age`` seconds (their sessions are long over)."""
    cutoff = time.time() - age
    try:
        entries = list(hook_dir.glob("*.json"))
    except OSError:
        return
    for path in entries:
        try:
            if path.stat().st_mtime < cutoff and orjson.loads(path.read_bytes()).get("kind") in _BINDING:
                path.unlink()
        except (OSError, orjson.JSONDecodeError, AttributeError):
            continue


def _write_record(path: Path, record: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(record))
    tmp.replace(path)
