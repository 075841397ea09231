"""The footer: the screen's keys that fit, most important first (``model/keys.py`` ranks them).

Textual's footer lists every shown binding and lets the ones past the edge
fall off, so at 80 columns Search, Help and Quit went and dimmed keys that
could not act stayed. This one measures each key, keeps those the screen's
table ranks highest that fit, and draws them in the table's order; it draws
itself compact (one space less per key) when the terminal is narrow.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer

from ..compat import FooterKey, footer_ready
from ..model.keys import Shown, choose

#: Below this many columns the footer is compact.
COMPACT_BELOW = 120
#: Cells the command palette's key takes at the right ("▏^p palette"), compact and not.
PALETTE_W = {True: 12, False: 14}


class KeyFooter(Footer):
    """A footer that shows the keys of ``screen.KEYS``'s table that fit its width."""

    _width = 0

    def compose(self) -> ComposeResult:
        if not footer_ready(self):
            return
        width = self.size.width or self.app.size.width
        self._width = width
        compact = width < COMPACT_BELOW
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        active = self.screen.active_bindings
        seen: set[str] = set()
        found: list[tuple[Binding, bool, str]] = []
        for _node, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                found.append((binding, enabled, tooltip))
        palette = self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE \
            and self.app.COMMAND_PALETTE_BINDING in active
        room = width - (PALETTE_W[compact] if palette else 0)
        shown = [Shown(b.id or "", b.key, self._key_width(b, compact), enabled) for b, enabled, _ in found]
        for i in choose(str(getattr(self.screen, "KEYS", "")), shown, room):
            binding, enabled, tooltip = found[i]
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)
        if palette:
            _node, binding, enabled, tooltip = active[self.app.COMMAND_PALETTE_BINDING]
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    def _key_width(self, binding: Binding, compact: bool) -> int:
        """Cells a key takes: `` k Desc `` and no margin; compact ``k Desc`` and a margin of one."""
        return cell_len(self.app.get_key_display(binding)) + cell_len(binding.description) + (2 if compact else 3)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width and footer_ready(self):
            self.call_after_refresh(self.recompose)

    @property
    def keys(self) -> list[str]:
        """The keys shown, as their descriptions (what a test reads)."""
        return [k.description for k in self.query(FooterKey) if not k.has_class("-command-palette")]
