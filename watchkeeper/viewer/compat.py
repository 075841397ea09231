"""Every private Textual call the viewer makes, in one place: the reason Textual is pinned exactly.

``tests/test_viewer_compat.py`` checks each entry of :data:`PRIVATE_API` against
the installed Textual (it exists, with the parameters used here), and that no
other viewer module reaches for a private Textual name, so an upgrade that
moves one fails there, by name, before any screen misbehaves.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App
from textual.dom import DOMNode
from textual.geometry import Size
from textual.scrollbar import ScrollBar
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey as FooterKey

#: (class, private attribute, its parameter names) for each private Textual API called below.
PRIVATE_API: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (Widget, "_scroll_update", ("self", "virtual_size")),
    (App, "_start_widget", ("self", "parent", "widget")),
)
#: (class, private attribute) for each private Textual state read below; ``FooterKey`` is imported from
#: the private ``textual.widgets._footer`` (the footer's key widget, not exported).
PRIVATE_STATE: tuple[tuple[type, str], ...] = (
    (Footer, "_bindings_ready"),
    (Widget, "_vertical_scrollbar"),
    (DOMNode, "_pruning"),
    (DOMNode, "_closing"),
    (DOMNode, "_closed"),
)


def footer_ready(footer: Footer) -> bool:
    """Whether the footer has its screen's bindings yet (before that, composing it shows nothing)."""
    return bool(footer._bindings_ready)


def set_scroll_range(widget: Widget, virtual_size: Size) -> None:
    """Give ``widget`` a new scroll range without a layout of the screen.

    ``virtual_size`` is a layout reactive: assigned, it re-arranges the whole
    screen (~10 ms) each time. Only the scroll range and the scrollbars depend
    on it for a widget whose height is not ``auto``; ``_scroll_update`` updates
    just those (Textual's own ``OptionList`` calls it the same way).
    """
    widget.set_reactive(Widget.virtual_size, virtual_size)
    widget._scroll_update(virtual_size)


def own_vertical_scrollbar(widget: Widget, make: Callable[[], ScrollBar]) -> ScrollBar:
    """``widget``'s vertical scrollbar, made by ``make`` the first time it is asked for.

    Textual makes a plain ``ScrollBar`` lazily inside ``Widget.vertical_scrollbar``
    and offers no factory; this is that property's body with ``make`` in its place.
    """
    if widget._vertical_scrollbar is None:
        bar = make()
        bar.display = False
        widget._vertical_scrollbar = bar
        widget.app._start_widget(widget, bar)
    return widget._vertical_scrollbar


def styles_pass_changes_nothing(widget: Widget) -> bool:
    """Whether Textual's styles pass would hand ``widget``'s lines on as they are, then filter them.

    ``Widget.render_lines`` sends every line, each frame, through ``StylesCache``:
    padding, border, outline, hatch, tint and opacity are drawn there, and the app's
    line filters (true colour for ANSI colours) applied, each step a new ``Strip``.
    With none of those styles set, a line leaves it as it came in, filtered: a
    widget that keeps its lines filtered can skip the pass (``test_viewer_timeline``
    checks the two agree, strip for strip).
    """
    styles = widget.styles
    return (
        not any(styles.gutter)
        and not any(edge for edge, _ in styles.outline)
        and not (styles.has_rule("hatch") and styles.hatch != "none")
        and not styles.tint.a
        and styles.text_opacity == 1.0
        and widget.opacity == 1.0
    )


def unless_removing(node: DOMNode, callback: Callable[[], object]) -> Callable[[], object]:
    """``callback`` for a timer of ``node``, skipped once ``node`` is being removed or closed, or the app exits.

    A timer ticks in its own task. At exit Textual closes a kept screen (installed,
    not shown) and its widgets in no set order: a tick of the screen in between
    queried a widget already gone (``NoMatches``), and the app stopped with it.
    """
    def tick() -> object:
        if node._pruning or node._closing or node._closed or not node.app.is_running:
            return None
        return callback()

    return tick
