"""The steady scrollbar: draws what Textual's own draws, and draws again only when that changes."""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

from watchkeeper.viewer import compat
from watchkeeper.viewer.widgets.scrollbar import SteadyScrollBar, SteadyScrollView


class Plain(ScrollView):
    def render_line(self, y: int) -> Strip:
        return Strip.blank(self.size.width, self.rich_style)


class Steady(SteadyScrollView):
    def render_line(self, y: int) -> Strip:
        return Strip.blank(self.size.width, self.rich_style)


class Pair(App[None]):
    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Plain()
            yield Steady()


def drawn(bar: ScrollBar) -> list[list[tuple[str, object]]]:
    return [[(seg.text, seg.style) for seg in strip] for strip in bar.render_lines(Region(0, 0, *bar.size))]


def counting() -> tuple[type[ScrollBarRender], list[int]]:
    """A renderer (Textual's documented per-bar hook) that counts the times it is drawn."""
    calls = [0]

    class Counted(ScrollBarRender):
        def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
            calls[0] += 1
            yield from super().__rich_console__(console, options)

    return Counted, calls


def scroll_both(app: Pair, rows: int, y: int) -> tuple[ScrollBar, ScrollBar]:
    bars = []
    for view in (app.query_one(Plain), app.query_one(Steady)):
        compat.set_scroll_range(view, Size(view.size.width, rows))
        view.scroll_to(y=y, animate=False, immediate=True)
        bars.append(view.vertical_scrollbar)
    return bars[0], bars[1]


async def test_it_draws_exactly_what_textuals_scrollbar_draws() -> None:
    app = Pair()
    async with app.run_test(size=(40, 23)) as pilot:
        assert isinstance(app.query_one(Steady).vertical_scrollbar, SteadyScrollBar)
        assert not isinstance(app.query_one(Plain).vertical_scrollbar, SteadyScrollBar)
        cases = [(rows, y) for rows in (30, 97, 5_000, 1_000_000)
                 for y in (0, 1, 2, 7, rows // 3, rows // 2 + 1, rows - 40, rows)]
        for theme, ansi in (("textual-dark", False), ("textual-light", False)):
            app.theme = theme
            app.ansi_color = ansi
            await pilot.pause()
            for hover in (False, True):
                for rows, y in cases:
                    plain, steady = scroll_both(app, rows, max(0, y))
                    plain.mouse_over = steady.mouse_over = hover
                    await pilot.pause()
                    assert plain.size == steady.size
                    assert drawn(steady) == drawn(plain), (theme, hover, rows, y)
        # What it is drawn with changes while it stays where it is.
        for rows, y in ((97, 7), (1_000_000, 500_001)):
            plain, steady = scroll_both(app, rows, y)
            for theme, ansi in (("ansi-dark", True), ("ansi-dark", False), ("textual-dark", False),
                                ("textual-dark", True), ("textual-light", False)):
                app.theme = theme
                app.ansi_color = ansi
                await pilot.pause()
                assert drawn(steady) == drawn(plain), (theme, ansi, rows, y)
            # The view under it fades, and takes another ground: the bar's own styles stay as they were.
            for view in (app.query_one(Plain), app.query_one(Steady)):
                view.styles.opacity = 0.5
                view.styles.background = "rgba(200,40,40,0.5)"
            await pilot.pause()
            assert drawn(steady) == drawn(plain), ("faded", rows, y)
            for view in (app.query_one(Plain), app.query_one(Steady)):
                view.styles.clear_rule("opacity")
                view.styles.clear_rule("background")
            await pilot.pause()


async def test_over_a_million_rows_a_one_row_scroll_does_not_draw_it_again() -> None:
    app = Pair()
    async with app.run_test(size=(40, 23)) as pilot:
        plain, steady = scroll_both(app, 1_000_000, 500_000)
        await pilot.pause()
        counts: dict[str, list[int]] = {}
        for name, bar in (("plain", plain), ("steady", steady)):
            renderer, counts[name] = counting()
            bar.renderer = renderer
            bar.refresh()
        await pilot.pause()
        assert counts["plain"] == [1] and counts["steady"] == [1]
        for step in range(1, 51):
            scroll_both(app, 1_000_000, 500_000 + step)
            await pilot.pause()
        # Textual's draws its bar at every scroll; the thumb moved one eighth of a cell at most once.
        assert counts["plain"][0] >= 50
        assert counts["steady"][0] <= 2
        moved: dict[str, Any] = {}
        for name, bar in (("plain", plain), ("steady", steady)):
            moved[name] = drawn(bar)
        assert moved["steady"] == moved["plain"]
        scroll_both(app, 1_000_000, 0)
        await pilot.pause()
        assert drawn(steady) == drawn(plain) != moved["plain"]
