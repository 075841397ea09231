"""Every private Textual call the viewer makes, in one place: the reason Textual is pinned exactly.

``tests/test_viewer_compat.py`` checks each entry of :data:`PRIVATE_API` against
the installed Textual (it exists, with the parameters used here), and that no
other viewer module reaches for a private Textual name, so an upgrade that
moves one fails there, by name, before any screen misbehaves.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from textual._border import get_box
from textual.app import App
from textual.color import Color
from textual.dom import DOMNode
from textual.filter import LineFilter
from textual.geometry import Region, Size
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey as FooterKey

#: (class, private attribute, its parameter names) for each private Textual API called below.
PRIVATE_API: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (Widget, "_scroll_update", ("self", "virtual_size")),
    (App, "_start_widget", ("self", "parent", "widget")),
)
#: (class, private attribute) for each private Textual state read below; ``FooterKey`` is imported from
#: the private ``textual.widgets._footer`` (the footer's key widget, not exported), and ``get_box`` from the
#: private ``textual._border`` (the side borders its styles pass draws, ``styles_pass_sides``).
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


#: A widget's content lines for one frame, given (line filters, ground, width): ``y`` -> line ``y``'s segments
#: through those filters (``filtered``), which the widget keeps, so a scroll filters nothing again.
FrameLines = Callable[[tuple[LineFilter, ...], Color, int], Callable[[int], list[Segment]]]


def filtered(segments: list[Segment], filters: tuple[LineFilter, ...], ground: Color) -> list[Segment]:
    """``segments`` through the app's line filters, as Textual's styles pass applies them to each line."""
    for line_filter in filters:
        segments = line_filter.apply(segments, ground)
    return segments


def styles_pass_sides(widget: Widget) -> tuple[list[Segment], list[Segment]] | None:
    """What Textual's styles pass puts either side of each of ``widget``'s lines; None if it draws more.

    ``Widget.render_lines`` sends every line, each frame, through ``StylesCache``:
    padding, border, outline, hatch, tint and opacity are drawn there, and the app's
    line filters (true colour for ANSI colours) applied, each step a new ``Strip``.
    With no vertical padding or border and none of the rest, a line leaves it as it
    came in, between its side borders and padding (and the ground under a vertical
    scrollbar), filtered. The side borders are Textual's own (``get_box``).
    """
    styles = widget.styles
    top, right, bottom, left = styles.padding
    (border_top, _), (border_right, right_color), (border_bottom, _), (border_left, left_color) = styles.border
    if (top or bottom or border_top or border_bottom or any(edge for edge, _ in styles.outline)
            or (styles.has_rule("hatch") and styles.hatch != "none") or styles.tint.a
            or styles.text_opacity != 1.0 or widget.opacity != 1.0):
        return None
    under, ground = widget.background_colors
    inner, outer = Style(background=under + ground), Style(background=under)
    fill = widget.content_region.width - widget.scrollable_content_region.width
    before = [Segment(" " * left, inner.rich_style)] if left else []
    after = [Segment(" " * fill, inner.rich_style)] if fill > 0 else []
    if right:
        after.append(Segment(" " * right, inner.rich_style))
    if border_left:
        before.insert(0, get_box(border_left, inner, outer, Style(foreground=under + left_color))[1][0])
    if border_right:
        after.append(get_box(border_right, inner, outer, Style(foreground=under + right_color))[1][2])
    return before, after


def lines_past_pass(widget: Widget, crop: Region, frame: FrameLines) -> list[Strip] | None:
    """``widget``'s lines in ``crop`` as Textual's styles pass would give them, drawn past it: one Strip a
    line, over the filtered lines ``frame`` gives for this frame, between the filtered sides.
    None if the pass draws more than the sides (``styles_pass_sides``): then it must draw them.
    ``tests/test_viewer_past_pass.py`` checks the two agree, strip for strip.
    """
    sides = styles_pass_sides(widget)
    if sides is None:
        return None
    filters, ground = tuple(widget.get_line_filters()), widget.background_colors[1]
    before, after = (filtered(side, filters, ground) for side in sides)
    width, full = widget.scrollable_content_region.width, widget.region.width
    line = frame(filters, ground, width)
    strips = [Strip(before + line(y) + after, full) for y in crop.line_range]
    x1, x2 = crop.column_span
    if (x1, x2) != (0, full):
        strips = [strip.crop(x1, x2) for strip in strips]
    return strips


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
