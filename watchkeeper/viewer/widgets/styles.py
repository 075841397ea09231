"""Component styles resolved against the widget's background, as the theme meant them.

Textual's partial component styles (``get_component_rich_style(partial=True)``)
drop what makes a theme variable relative: an ``auto`` colour (``$text-muted`` is
``auto 60%``) came out white whatever the background, white on white on a light
theme, and an alpha (``$error 20%``) came out solid. :func:`component_style`
blends them over the background they are drawn on instead, so every theme's
variables read as the theme meant them.
"""

from __future__ import annotations

from rich.style import Style
from textual.color import Color
from textual.widget import Widget


def component_style(widget: Widget, name: str, over: Color | None = None) -> Style:
    """The style of ``widget``'s component class ``name``, its colours opaque and resolved.

    ``over`` is the background it is drawn on (default: the widget's own); an
    ``auto`` colour takes the text colour that contrasts with it, a translucent one
    is blended over it. The style has a background only if the component sets one.
    """
    styles = widget.get_component_styles(name)
    under = over if over is not None else widget.background_colors[1]
    background = None
    if styles.has_rule("background") and styles.background.a > 0:
        under = background = under + styles.background
    color = None
    if styles.has_rule("color") and styles.color.a > 0:
        color = styles.color
        if styles.has_rule("auto_color") and styles.auto_color:
            color = under.get_contrast_text(color.a)
        color = under + color
    style = Style(color=color.rich_color if color is not None else None,
                  bgcolor=background.rich_color if background is not None else None)
    return style + styles.text_style


class RoleStyles:
    """A widget's component styles by role (``{prefix}--{role}``), resolved once and kept until the theme or
    the widget's styles change (:meth:`clear`); an unknown role is the null style."""

    def __init__(self, widget: Widget, prefix: str) -> None:
        self.widget, self.prefix = widget, prefix
        self._kept: dict[str, Style] = {}

    def __call__(self, role: str) -> Style:
        style = self._kept.get(role)
        if style is None:
            try:
                style = component_style(self.widget, f"{self.prefix}--{role}")
            except KeyError:
                style = Style.null()
            self._kept[role] = style
        return style

    def base(self) -> Style:
        """The widget's own style: ``rich_style`` walks the DOM on every call, so it is kept."""
        style = self._kept.get("")
        if style is None:
            style = self._kept[""] = self.widget.rich_style
        return style

    def clear(self) -> None:
        self._kept.clear()
