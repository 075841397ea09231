"""A remote relay's breakpoint rules, as the viewer's palette edits them when it runs under ``attach``.

The rules live on the machine that runs ``serve`` (its config directory's
``breakpoints.toml``) and are checked there, by the hook endpoint that holds
the calls; this is the viewer's handle on them. Each change is a
``breakpoints`` request over the attach connection (``relay/servers/breakpoint_requests.py``
answers it), and its reply is the relay's whole rule list, kept here for the
palette to show. Any thread may call :meth:`RemoteBook.request`; the work
runs on the local relay's loop, where the connection lives.

Attached to a hub, an edge's sessions are held by the edge (``serve
--upstream``), so their rules are the edge's: a book made with ``edge``
names it in each request, the hub passes the request to that edge, and the
edge's own ``breakpoints.toml`` is read and changed (``relay/servers/wsedge.py``).
:class:`RemoteBooks` lists the hub's own book and one per edge it has reported.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from ...breakpoints import BookError, Rule, rule_from, rule_table
from .source import RemoteError, RemoteSource

#: Seconds a breakpoint request waits for the remote relay's answer.
REQUEST_TIMEOUT = 10.0


class RemoteBook:
    """The rules of the relay ``source`` follows: ``rules``/``problems``/``path`` as last read, and requests."""

    def __init__(self, source: RemoteSource, edge: str | None = None) -> None:
        self.source = source
        #: the edge of a hub whose rules these are (None: the remote relay's own).
        self.edge = edge
        #: whose rules, for the person: the relay, or the edge and the hub it is reached through.
        self.name = source.name if edge is None else f"edge {edge} (via {source.name})"
        self.rules: tuple[Rule, ...] = ()
        self.problems: list[str] = []
        #: where the rules are kept, as the remote relay says (its host name and file).
        self.path = f"{self.name} (not read yet)"

    def get(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def request(self, op: str, *, rule: Rule | None = None, name: str | None = None
                ) -> concurrent.futures.Future[str]:
        """``list``, ``add`` (``rule``), ``remove``/``enable``/``disable`` (``name``): what was done, or BookError."""
        msg: dict[str, Any] = {"t": "breakpoints", "op": op}
        if self.edge is not None:
            msg["edge"] = self.edge
        if rule is not None:
            msg["rule"] = rule_table(rule)
        if name is not None:
            msg["name"] = name
        loop = self.source.loop
        if loop is None or loop.is_closed():
            failed: concurrent.futures.Future[str] = concurrent.futures.Future()
            failed.set_exception(BookError(f"{self.name} is not connected yet"))
            return failed
        return asyncio.run_coroutine_threadsafe(self._ask(msg), loop)

    async def _ask(self, msg: dict[str, Any]) -> str:
        try:
            reply = await self.source.ask(msg, REQUEST_TIMEOUT)
        except (RemoteError, TimeoutError) as e:
            raise BookError(f"{self.name} did not answer: {e or 'timed out'}") from None
        self._take(reply)
        if reply.get("error"):
            raise BookError(str(reply["error"]))
        return str(reply.get("done") or f"{len(self.rules)} rule(s)")

    def _take(self, reply: dict[str, Any]) -> None:
        rules: list[Rule] = []
        problems = [str(p) for p in reply.get("problems") or () if isinstance(p, str)]
        for n, table in enumerate(reply.get("rules") or (), 1):
            rule, said = rule_from(table, n)
            if rule is not None:
                rules.append(rule)
            problems += said
        self.rules, self.problems = tuple(rules), problems
        if isinstance(reply.get("where"), str):
            self.path = reply["where"]


class RemoteBooks:
    """Under ``attach``, the rule books the palette offers: each relay's own, and each edge's of a hub.

    Called each time the palette opens, so an edge that started reporting since is offered too.
    """

    def __init__(self, sources: list[RemoteSource]) -> None:
        self.sources = sources
        self._books: dict[tuple[int, str | None], RemoteBook] = {}

    def __call__(self) -> list[RemoteBook]:
        out = []
        for n, source in enumerate(self.sources):
            for edge in (None, *source.edges):
                book = self._books.get((n, edge))
                if book is None:
                    book = self._books[(n, edge)] = RemoteBook(source, edge)
                out.append(book)
        return out
