"""Breakpoints from the command palette, on every screen: add a rule of each kind, list them, remove one.

The rules live in the app's :class:`~watchkeeper.breakpoints.Book` (the
same object the hook endpoint's matcher reads, so a rule added here holds
the very next matching call) and are saved to ``breakpoints.toml``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.app import App
from textual.command import Hits, Provider

from ..breakpoints import KINDS, Book, BookError, Rule, rule_for
from .commands import discovery_hits, hits
from .screens.rule import RuleDialog


def book_of(app: App[Any]) -> Book | None:
    setup = getattr(app, "steer_setup", None)
    book = getattr(setup, "breakpoints", None)
    return book if isinstance(book, Book) else None


def add_breakpoint(app: App[Any], kind: str) -> None:
    """Ask for the rule's value (if it needs one), then keep it."""
    if kind not in KINDS or KINDS[kind][1] is None:
        keep(app, rule_for(kind))
        return

    def chosen(rule: Rule | None) -> None:
        if rule is not None:
            keep(app, rule)

    app.push_screen(RuleDialog(kind), chosen)


def keep(app: App[Any], rule: Rule) -> None:
    book = book_of(app)
    if book is None:
        app.notify("Breakpoints apply to sessions hooked to a local watchkeeper", severity="warning")
        return
    try:
        book.add(rule)
    except BookError as e:
        app.notify(str(e), severity="error", title="Breakpoint not added", markup=False)
        return
    app.notify(f"Holds {rule.describe()}", title=f"Breakpoint «{rule.name}» set", markup=False)


def remove_breakpoint(app: App[Any], name: str) -> None:
    book = book_of(app)
    if book is None:
        return
    try:
        removed = book.remove(name)
    except BookError as e:
        app.notify(str(e), severity="error", title="Breakpoint not removed", markup=False)
        return
    app.notify(f"Breakpoint «{name}» removed" if removed else f"No breakpoint «{name}»", markup=False)


def list_breakpoints(app: App[Any]) -> None:
    book = book_of(app)
    if book is None:
        app.notify("No breakpoints here: they apply to sessions hooked to a local watchkeeper")
        return
    lines = [f"«{r.name}»: {r.describe()}" for r in book.rules] or ["none (Ctrl+P, \"Breakpoint\" adds one)"]
    lines += [f"problem: {p}" for p in book.problems]
    app.notify("\n".join(lines), title=f"Breakpoints ({book.path})", timeout=15, markup=False)


class BreakpointCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        book = book_of(app)
        if book is None:
            return []
        out: list[tuple[str, str, Callable[[], object]]] = [
            (f"Breakpoint: hold on {what}" + ("…" if question else ""),
             question or "Hold file-tool calls whose path is outside the session's working folder",
             partial(add_breakpoint, app, kind))
            for kind, (what, question, _) in KINDS.items()
        ]
        out.append(("Breakpoints: list", "The rules in force, and where they are kept", partial(list_breakpoints, app)))
        out += [(f"Breakpoint: remove «{r.name}»", r.describe(), partial(remove_breakpoint, app, r.name))
                for r in book.rules]
        return out

    async def discover(self) -> Hits:
        for hit in discovery_hits(self._commands()):
            yield hit

    async def search(self, query: str) -> Hits:
        for hit in hits(self.matcher(query), self._commands()):
            yield hit
