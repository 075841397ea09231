"""Breakpoints from the command palette, on every screen: add a rule of each kind, list them, remove one.

Locally the rules live in the app's :class:`~watchkeeper.breakpoints.Book`
(the same object the hook endpoint's matcher reads, so a rule added here
holds the very next matching call) and are saved to ``breakpoints.toml``.
Under ``attach`` they are the remote relay's own (a
:class:`RemoteRules` per relay, which ``attach`` builds, and per edge of a
hub, whose rules the edge keeps and checks): the palette sends each change
there and says what was answered; with several books each command names the
one it acts on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, Protocol, runtime_checkable

from textual.app import App

from ..breakpoints import BUILTIN_NAME, KINDS, Book, BookError, Rule, rule_for
from ..guard import Guard
from .host import host
from .palette import CommandsProvider
from .screens.rule import RuleDialog


@runtime_checkable
class RemoteRules(Protocol):
    """A remote relay's rules as last read, changed by request: under ``attach``, one per relay."""

    rules: tuple[Rule, ...]
    problems: list[str]
    path: str
    #: whose rules: the relay, or a hub's edge (whose rules it checks).
    name: str

    def request(self, op: str, *, rule: Rule | None = None, name: str | None = None) -> Future[str]:
        """``list``, ``add`` (``rule``), ``remove`` (``name``): what was done, or BookError."""
        ...


AnyBook = Book | RemoteRules


def books_of(app: App[Any]) -> list[AnyBook]:
    found = host(app).steer_setup.breakpoints
    if callable(found) and not isinstance(found, Book | RemoteRules):
        found = found()
    books = found if isinstance(found, list) else [found]
    return [b for b in books if isinstance(b, Book | RemoteRules)]


def book_of(app: App[Any]) -> AnyBook | None:
    books = books_of(app)
    return books[0] if books else None


def add_breakpoint(app: App[Any], kind: str, book: AnyBook | None = None) -> None:
    """Ask for the rule's value (if it needs one), then keep it."""
    if kind not in KINDS or KINDS[kind][1] is None:
        keep(app, rule_for(kind), book)
        return

    def chosen(rule: Rule | None) -> None:
        if rule is not None:
            keep(app, rule, book)

    app.push_screen(RuleDialog(kind), chosen)


def keep(app: App[Any], rule: Rule, book: AnyBook | None = None) -> None:
    book = book or book_of(app)
    if book is None:
        app.notify("Breakpoints apply to sessions hooked to a local watchkeeper", severity="warning")
        return
    said = (f"Holds {rule.describe()}", f"Breakpoint «{rule.name}» set", "Breakpoint not added")
    if isinstance(book, RemoteRules):
        app.run_worker(_remote(app, book, book.request("add", rule=rule), *said), group="breakpoints")
        return
    try:
        book.add(rule)
    except BookError as e:
        app.notify(str(e), severity="error", title=said[2], markup=False)
        return
    app.notify(said[0], title=said[1], markup=False)


def remove_breakpoint(app: App[Any], name: str, book: AnyBook | None = None) -> None:
    book = book or book_of(app)
    if book is None:
        return
    if isinstance(book, RemoteRules):
        app.run_worker(_remote(app, book, book.request("remove", name=name), f"Breakpoint «{name}» removed", None,
                               "Breakpoint not removed"), group="breakpoints")
        return
    try:
        removed = book.remove(name)
    except BookError as e:
        app.notify(str(e), severity="error", title="Breakpoint not removed", markup=False)
        return
    app.notify(f"Breakpoint «{name}» removed" if removed else f"No breakpoint «{name}»", markup=False)


def list_breakpoints(app: App[Any], book: AnyBook | None = None) -> None:
    book = book or book_of(app)
    if book is None:
        app.notify("No breakpoints here: they apply to sessions hooked to a local watchkeeper")
        return
    if isinstance(book, RemoteRules):
        app.run_worker(_remote(app, book, book.request("list"), None, None, "Breakpoints not read"),
                       group="breakpoints")
        return
    _show(app, book)


def _show(app: App[Any], book: AnyBook) -> None:
    if isinstance(book, RemoteRules):
        builtin = "input names that machine's watchkeeper config directory, a token file or its ports " \
                  "(built in, always on, cannot be removed)"
    else:
        builtin = Guard.here(host(app).steer_setup.hooks_port or 0).describe()
    lines = [f"«{BUILTIN_NAME}»: {builtin}"]
    lines += [f"«{r.name}»: {r.describe()}" for r in book.rules] or ["no rules of yours (Ctrl+P, \"Breakpoint\" "
                                                                     "adds one)"]
    lines += [f"problem: {p}" for p in book.problems]
    app.notify("\n".join(lines), title=f"Breakpoints ({book.path})", timeout=15, markup=False)


async def _remote(app: App[Any], book: RemoteRules, sent: Any, ok: str | None, title: str | None,
                  failed: str) -> None:
    """Wait for the remote relay's answer without holding up the screen; then say it (or list the rules)."""
    try:
        await asyncio.wrap_future(sent)
    except BookError as e:
        app.notify(str(e), severity="error", title=failed, markup=False)
        return
    if ok is None:
        _show(app, book)
    else:
        app.notify(ok, title=title or f"Breakpoints on {book.name}", markup=False)


class BreakpointCommands(CommandsProvider):
    async def startup(self) -> None:
        """Read each remote relay's rules afresh, so the palette offers to remove the ones there now."""
        remote = [b.request("list") for b in books_of(self.app) if isinstance(b, RemoteRules)]
        if remote:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in remote), return_exceptions=True)

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        books = books_of(app)
        out: list[tuple[str, str, Callable[[], object]]] = []
        for book in books:
            on = f" on {book.name}" if isinstance(book, RemoteRules) and len(books) > 1 else ""
            out += [
                (f"Breakpoint{on}: hold on {what}" + ("…" if question else ""),
                 question or "Hold file-tool calls whose path is outside the session's working folder",
                 partial(add_breakpoint, app, kind, book))
                for kind, (what, question, _) in KINDS.items()
            ]
            out.append((f"Breakpoints{on}: list", "The rules in force, and where they are kept",
                        partial(list_breakpoints, app, book)))
            out += [(f"Breakpoint{on}: remove «{r.name}»", r.describe(), partial(remove_breakpoint, app, r.name, book))
                    for r in book.rules]
        return out

