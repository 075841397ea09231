"""The command palette's own commands: whatever the current screen offers.

Each screen lists its commands in ``palette_commands()`` as (title, help,
callback); this provider searches them, so the palette and the footer
always offer the same things.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ScreenCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        get = getattr(self.screen, "palette_commands", None)
        return list(get()) if callable(get) else []

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, partial(callback), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(callback), help=help_text)
