"""The command palette's own commands: whatever the current screen offers.

Each screen lists its commands in ``palette_commands()`` as (title, help,
callback); this provider searches them, so the palette and the footer
always offer the same things. Titles and help texts may hold data (a
breakpoint's name and pattern): :func:`hits` shows them as plain text,
never as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Protocol, cast, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content

from ..protocol.display import visible

#: (title, help, callback) for the command palette.
PaletteCommand = tuple[str, str, Callable[[], object]]


@runtime_checkable
class OffersCommands(Protocol):
    """A screen with commands of its own for the palette."""

    def palette_commands(self) -> list[PaletteCommand]: ...


def discovery_hits(commands: Iterable[PaletteCommand]) -> Iterator[DiscoveryHit]:
    for title, help_text, callback in commands:
        yield DiscoveryHit(Content(visible(title)), partial(callback), text=title, help=_help(help_text))


def hits(matcher: Matcher, commands: Iterable[PaletteCommand]) -> Iterator[Hit]:
    """The commands that match, best first by score; the matched letters highlighted in the plain title."""
    for title, help_text, callback in commands:
        shown = visible(title)
        score, offsets = matcher.fuzzy_search.match(matcher.query, shown)
        if score > 0:
            content = Content(shown)
            for offset in offsets:
                if not shown[offset].isspace():
                    content = content.stylize(matcher.match_style, offset, offset + 1)
            yield Hit(score, content, partial(callback), text=title, help=_help(help_text))


def _help(text: str) -> str:
    """The help as plain Content. The palette reads a help string as markup, and ``markup.escape`` leaves a
    ``[$variable]`` tag to style the rest and doubles a backslash; Content goes through it as it is (typed
    ``str``, ``Content.from_markup`` passes Content on unchanged)."""
    return cast(str, Content(visible(text)))


class CommandsProvider(Provider):
    """A palette provider over a list of commands (``_commands``), shown and matched as plain text."""

    def _commands(self) -> list[PaletteCommand]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for hit in discovery_hits(self._commands()):
            yield hit

    async def search(self, query: str) -> Hits:
        for hit in hits(self.matcher(query), self._commands()):
            yield hit


class ScreenCommands(CommandsProvider):
    def _commands(self) -> list[PaletteCommand]:
        screen = self.screen
        return list(screen.palette_commands()) if isinstance(screen, OffersCommands) else []
