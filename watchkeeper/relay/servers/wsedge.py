"""The hub's side of edges: each edge (``serve --upstream``) is followed as ``attach`` follows a relay.

An edge dials out to the hub (it accepts no inbound connection), presents
an edge credential, says ``hello`` with role ``edge``, its name and host, and
then plays the served relay on that connection: it sends its own ``hello``
(its epoch) and answers what the hub asks, exactly as ``serve`` answers
``attach``. So the hub runs the attach side (:class:`RemoteSource`, its
tracker in ``adapters/remote/resume.py``) over the edge's connection:

- the hub's ``subscribe`` says, per session, the next seq it has, and so does
  its ``acked`` with every poll: that is the acknowledgement; on a reconnect
  the edge re-sends from there (older events read back with range reads, from
  disk when spilled), and what the edge owes is kept in its recordings,
  bounded, across its own restarts (``relay/owed.py``);
- a restarted edge is a new epoch: the hub reads everything again and its
  relay drops the repeats by event id; a restarted hub starts from nothing;
- the hub tells the edge how many people watch at the hub (``watching``, on
  every change and with each poll): the edge holds calls only while someone
  does, as for its own viewers;
- a control for an edge's session is forwarded down its connection and the
  edge's relay decides it (the edge holds the call); while the edge is not
  connected the control is rejected with that reason, and its sessions are
  not live (state ``unreachable``); one the edge got but had not answered
  when its connection ended is rejected then, not re-sent;
- a ``breakpoints`` request naming an ``edge`` is that edge's rules, listed
  and edited there (the edge checks them; the hub keeps none of its own for it).

One :class:`EdgeSource` per edge name lives for the hub's run, so what it
has acknowledged survives the edge's drops. An edge's credential lets it
report sessions only: the hub never lets it watch, list or steer, and a
session another edge already reports is refused to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ...adapters.remote.resume import Tracker
from ...adapters.remote.source import Forwarded, RemoteError, RemoteSource, _outcome
from ...credentials import Edge
from ...protocol import ControlModel, Event, Kind, make_event, wire
from ...protocol.origin import Origin, edge_name_problem
from .wsagent import forbid

log = logging.getLogger("watchkeeper.serve")

#: The state a session of an edge that is not connected shows on the hub.
UNREACHABLE = "unreachable"


class EdgeSource(RemoteSource):
    """One edge, as the hub follows it: connections are handed in by the server as the edge dials."""

    def __init__(self, edge: str, host: str, owners: dict[str, EdgeSource],
                 watchers: Callable[[], int] = lambda: 0, taken: Callable[[str], bool] = lambda s: False) -> None:
        super().__init__("ws://edge.invalid", name=f"edge {edge} ({host})")
        self.watchers = watchers
        #: ``taken(session)``: the hub has that session already (its own: an SDK agent, a hooked session).
        self._taken = taken
        self.edge = edge
        self.host = host
        self.tracker = Tracker(f"edge {edge}")
        self._owners = owners
        self._incoming: asyncio.Queue[tuple[ServerConnection, asyncio.Event]] = asyncio.Queue()
        self._current: ServerConnection | None = None
        #: connections handed in and not yet ended: the edge is live (its name is taken) while any is.
        self.handing = 0
        self.refused: set[str] = set()

    @property
    def origin(self) -> dict[str, str]:
        return {"edge": self.edge, "host": self.host}

    async def run(self, emit: Any) -> None:
        self._emit = emit
        self.loop = asyncio.get_running_loop()
        self.status = "waiting for the edge"
        while True:
            ws, done = await self._incoming.get()
            self._current = ws
            error: Exception | None = None
            try:
                await self._connected(ws)  # type: ignore[arg-type]
            except Exception as e:
                error = e
            finally:
                self._current = None
                done.set()
            self._dropped(f"the edge's connection ended ({error!r})" if error else "the edge left", error)
            self._status_changed()

    async def hand(self, ws: ServerConnection, host: str) -> None:
        """Follow the edge over ``ws`` (a newer connection replaces an older one); returns when it ends."""
        self.host = host
        self.handing += 1
        try:
            old = self._current
            if old is not None:
                old.transport.abort()
            done = asyncio.Event()
            self._incoming.put_nowait((ws, done))
            await done.wait()
        finally:
            self.handing -= 1

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # --- who watches here: the edge holds calls only while people watch at the hub -------

    async def _ask_sessions(self, ws: Any) -> None:
        told: dict[str, int] = {}
        with contextlib.suppress(ConnectionClosed):
            while True:
                acked = self.acked(told)
                if acked is not None:
                    await ws.send(wire.dumps(acked), text=True)
                await ws.send(wire.dumps({"t": "watching", "n": self.watchers()}), text=True)
                self.asked += 1
                await ws.send(wire.dumps({"t": "sessions", "id": f"sessions-{self.asked}"}), text=True)
                await asyncio.sleep(self.poll)

    def acked(self, told: dict[str, int]) -> dict[str, Any] | None:
        """What this hub has of the edge's sessions since it last said (``told``, updated): the edge's
        acknowledgement, so it keeps on disk only what the hub does not have (``relay/owed.py``)."""
        if "acked" not in self.capabilities:
            return None  # an edge of an earlier release, which would answer each with an error
        moved = {sid: s.next for sid, s in self.tracker.sessions.items() if told.get(sid) != s.next}
        if not moved:
            return None
        told.update(moved)
        return {"t": "acked", "epoch": self.tracker.epoch, "from": moved}

    def tell_watching(self) -> None:
        if self._ws is not None:
            task = asyncio.ensure_future(self._send({"t": "watching", "n": self.watchers()}))
            task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    # --- what the edge may report ------------------------------------------------------

    def _handle(self, msg: dict[str, Any]) -> tuple[list[Event], list[dict[str, Any]]]:
        events, out = super()._handle(msg)
        if not events:
            return events, out
        kept = [ev for ev in events if self._claim(str(ev.get("session")))]
        return kept, out

    def _lost(self) -> None:
        gone = [sid for sid in self.tracker.sessions if sid not in self._ended and self._owners.get(sid) is self]
        text = f"lost the connection to edge {self.edge} ({self.host}): its sessions are unreachable until it " \
               "connects again (nothing is lost: it resumes from here)"
        n = self.connections
        self._emit([make_event(f"edge:{self.edge}:{self.tracker.epoch}:lost:{n}", sid, Kind.NOTICE,
                               {"level": "warning", "text": text, "code": "edge-unreachable"}) for sid in gone])
        self._unanswered()

    def _unanswered(self) -> None:
        """Controls the edge got but did not answer before its connection ended: rejected now, not re-sent.

        An ``attach`` viewer re-sends them to the relay it follows, which keeps its held calls; an
        edge that went away has its own grace and failure policy decide them, and one that comes
        back may be a new process. The person is told at once, and the rejection is recorded here
        under the control's id, so an outcome the edge decided just before the drop is a repeat.
        """
        controls, self._controls = self._controls, {}
        reason = (f"lost the connection to edge {self.edge} ({self.host}) before it answered: not sent again "
                  "(its held calls follow the edge's grace and failure policy); send it again once it is back")
        events = []
        for control, future in controls.values():
            outcome = _outcome(control, Kind.CONTROL_REJECTED, reason)
            if not future.done():
                future.set_result(outcome)
            if outcome["session"] in self.tracker.sessions:
                events.append(outcome)
        if events:
            self._emit(events)

    def _claim(self, session: str) -> bool:
        """Whether this edge may report ``session``: the first edge to report it owns it, unless the hub had it
        before (its events and controls would be the edge's to write and answer)."""
        owner = self._owners.get(session)
        if owner is None and not self._taken(session):
            owner = self._owners[session] = self
        if owner is self:
            return True
        if session not in self.refused:
            self.refused.add(session)
            whose = f"edge {owner.edge}" if owner is not None else "the hub itself"
            log.warning("edge %s reported session %s, which %s reports: refused", self.edge, session, whose)
        return False

    def can_steer(self, session: str) -> bool:
        return self._owners.get(session) is self and self.tracker.known(session)

    # --- liveness and controls ---------------------------------------------------------

    def session_status(self, session: str) -> tuple[bool, str | None] | None:
        """Not connected: the edge's sessions are unreachable (not live); else the edge's own word."""
        if self._owners.get(session) is not self:
            return None
        if self._ws is None:
            return False, UNREACHABLE
        return super().session_status(session)

    def session_origin(self, session: str) -> Origin | None:
        """This edge, for the sessions it reports (their origin on the hub's own list)."""
        if self._owners.get(session) is not self:
            return None
        return Origin(self.edge, self.host, self.connected)

    def control(self, control: ControlModel) -> Forwarded:
        if self._ws is None:
            data = control.model_dump(exclude_none=True)
            reason = f"edge {self.edge} ({self.host}) is not connected to this hub: the control cannot reach it"
            return Forwarded(_outcome(data, Kind.CONTROL_REJECTED, reason))
        return super().control(control)


class Edges:
    """The edges a hub has seen, by name, and which of them reports each session."""

    def __init__(self, relay: Any, watchers: Callable[[], int]) -> None:
        self.relay = relay
        #: how many people watch at the hub: what each edge is told.
        self.watchers = watchers
        self.by_key: dict[tuple[int, str], EdgeSource] = {}
        #: the edge that took each name last (what a ``breakpoints`` request names): a live one is never
        #: replaced by another credential's edge of that name.
        self.by_name: dict[str, EdgeSource] = {}
        self.owners: dict[str, EdgeSource] = {}
        self._asking: set[asyncio.Future[None]] = set()

    async def connect(self, ws: ServerConnection, hello: wire.Hello, said: dict[str, Any], edge: Edge | None, *,
                      tokens: bool, named: frozenset[str] = frozenset()) -> None:
        """An edge pushes its sessions: only with an edge credential (or on a hub that checks no ``tokens``)."""
        if edge is not None and hello.role != "edge":
            await forbid(ws, "an edge credential may only push sessions (role 'edge'): it cannot watch, "
                              "list, read back, steer or edit breakpoints")
            return
        if edge is None and tokens:
            await forbid(ws, "only an edge credential (the hub's --edge-token-file) may push sessions")
            return
        peer = ws.remote_address[0] if ws.remote_address else "?"
        host = str(said.get("host") or peer)[:200]
        given = edge.name if edge is not None else None
        chosen = not given
        name = given or hello.name
        problem = edge_name_problem(name, chosen)
        if problem is not None:
            await forbid(ws, f"the edge name {ascii(name)[:80]} is refused: {problem} (serve --edge-name)")
            return
        if name in named and (edge is None or edge.name != name):
            await forbid(ws, f"the edge name {name!r} belongs to another edge credential")
            return
        who = (edge.key if edge is not None else -1, name)
        rival = self.by_name.get(name)
        if rival is not None and rival.handing and self.by_key.get(who) is not rival:
            await forbid(ws, f"an edge named {name!r} is connected to this hub already, with another credential: "
                              "give this one another --edge-name")
            return
        source = self.by_name[name] = self.source(who, host)
        await source.hand(ws, host)

    def source(self, who: tuple[int, str], host: str) -> EdgeSource:
        """The edge ``who`` (its credential, its name): one credential cannot take over another's edge."""
        found = self.by_key.get(who)
        if found is None:
            found = self.by_key[who] = EdgeSource(who[1], host, self.owners, self.watchers,
                                                  lambda s: self.relay.session(s) is not None)
            self.relay.add_source(found)
        return found

    def breakpoints(self, reply: Callable[[dict[str, Any]], None], msg: dict[str, Any]) -> None:
        """A ``breakpoints`` request for edge ``msg["edge"]``: the edge's rules, edited there; its reply."""
        req, name = msg.get("id"), str(msg["edge"])
        source = self.by_name.get(name)
        if source is None or not source.connected:
            reply({"t": "breakpoints", "id": req, "rules": [], "problems": [], "where": f"edge {name}",
                   "error": f"edge {name} is not connected to this hub"})
            return

        async def ask() -> None:
            try:
                answer = await source.ask({k: v for k, v in msg.items() if k not in ("id", "edge")})
            except (RemoteError, TimeoutError) as e:
                answer = {"t": "breakpoints", "rules": [], "problems": [], "where": f"edge {name}",
                          "error": f"edge {name} did not answer: {e or 'timed out'}"}
            where = f"edge {name}: {answer['where']}" if isinstance(answer.get("where"), str) else f"edge {name}"
            reply({**answer, "id": req, "edge": name, "where": where})

        task = asyncio.ensure_future(ask())
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    def listed(self, row: dict[str, Any]) -> dict[str, Any]:
        """A listing row with its origin; not steerable, and why, while its edge is not connected."""
        origin = self.origin(str(row.get("id")))
        if origin is None:
            return {**row, "origin": None}
        if not origin["connected"]:
            return {**row, "origin": origin, "steerable": False,
                    "reason": f"edge {origin['edge']} ({origin['host']}) is not connected to this hub"}
        return {**row, "origin": origin}

    def origin(self, session: str) -> dict[str, Any] | None:
        """Where ``session`` comes from: its edge's name and host, and whether that edge is connected."""
        source = self.owners.get(session)
        if source is None:
            return None
        return {**source.origin, "connected": source.connected}


class EdgesWatch:
    """The hub's grace, told to its edges: the one who left still counts, then nobody watches."""

    def __init__(self, tell: Callable[[], None]) -> None:
        self.tell = tell

    def grace_started(self, seconds: float) -> None:
        self.tell()

    def nobody_watching(self) -> None:
        self.tell()
