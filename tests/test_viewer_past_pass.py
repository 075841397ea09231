"""The timeline and the detail pane draw their lines past Textual's styles pass only where it would change
nothing but their sides (``compat.lines_past_pass``).

Each keeps its lines filtered and makes one Strip a line; Textual's own
``Widget.render_lines`` (the styles pass, then the app's line filters) is the
reference: every line, crop, theme, colour mode, focus, cursor row and scroll
must come out the same, segment for segment. Where the widget's styles draw
more (vertical padding, a border, a tint) the pass is taken.
"""

from __future__ import annotations

from test_viewer_support import SESSION, Events, relay_with
from textual.geometry import Region
from textual.widget import Widget
from waiting import until_app

from watchkeeper.viewer import WatchkeeperApp, compat
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.widgets.detail_pane import DetailPane

SIZE = (120, 40)
#: Lines the detail pane is scrolled down its long output.
SCROLLED = 30


def segments(strips: list) -> list[list[tuple[str, object, object]]]:
    return [[(seg.text, seg.style, seg.control) for seg in strip] + [("|", strip.cell_length, None)]
            for strip in strips]


def both(widget: Widget, crop: Region) -> tuple[list, list]:
    """(past the pass, as a frame draws it: from what the widget kept; through it, from nothing kept).

    The timeline's reference goes through its own ``render_line``, which keeps rows unfiltered: its cache
    starts over each time. The pane's reference does not touch what it kept past the pass, so that is
    read across cursor moves and scrolls, as frames read it.
    """
    widget._styles_cache.clear()  # lines Textual kept, for a call outside a frame after a style changed
    ours = widget.render_lines(crop)
    widget._styles_cache.clear()
    textuals = Widget.render_lines(widget, crop)
    return segments(ours), segments(textuals)


async def test_the_lines_are_what_textuals_styles_pass_would_draw() -> None:
    ev = Events()
    long_output = "\n".join(f"line {i}: {'x' * (i % 70)}" for i in range(120))
    relay = relay_with([*ev.started(),
                        *ev.call("c1", "Bash", {"command": "pytest"}, "boom", "error", duration_ms=1500),
                        *ev.call("c2", "Bash", {"command": "seq 120"}, long_output),
                        *ev.bash_calls(0, 80)])
    app = WatchkeeperApp(relay, open_session=SESSION)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                            and len(app.screen.timeline.store.view) > 60)
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            timeline = screen.timeline
            pane = screen.query_one(DetailPane)
            width, height = timeline.region.size
            crops = [Region(0, 0, width, height), Region(0, 3, width, 5), Region(4, 0, width - 10, height),
                     Region(0, height - 1, width, 1)]
            # A widget's lines span its region (its border and padding too), as a frame asks for them.
            outer = pane.region.size
            pane_crops = [Region(0, 0, *outer), Region(0, 2, outer.width, 4),
                          Region(1, 0, outer.width - 3, outer.height)]
            store = timeline.store
            long_row = next(row for row, head in enumerate(store.view)
                            if (call := store.call_of(head)) is not None and call.call_id == "c2")
            compared = 0
            for theme, ansi in (("textual-dark", False), ("textual-light", False), ("textual-dark", True),
                                ("ansi-dark", True), ("ansi-light", False), ("nord", False)):
                app.theme, app.ansi_color = theme, ansi
                await pilot.pause()
                assert compat.styles_pass_sides(timeline) is not None
                assert compat.styles_pass_sides(pane) is not None
                for focused in (True, False):
                    if focused:
                        timeline.focus()
                    else:
                        screen.set_focus(None)
                    for cursor, top, pane_top in ((0, 0, 0), (1, 0, 0), (long_row, 0, 0), (long_row, 0, SCROLLED),
                                                  (30, 12, 0), (len(timeline.store.view) - 1, 10_000, 0)):
                        timeline.cursor = cursor
                        timeline.scroll_to(y=top, animate=False, immediate=True)
                        await pilot.pause()
                        if pane_top:  # the long output is in the pane before it is scrolled
                            await until_app(pilot, lambda: pane.max_scroll_y >= SCROLLED)
                        pane.scroll_to(y=pane_top, animate=False, immediate=True)
                        await pilot.pause()
                        assert pane.scroll_offset.y == pane_top  # the long output is shown, and scrolled
                        for widget, its_crops in ((timeline, crops), (pane, pane_crops)):
                            for crop in its_crops:
                                ours, textuals = both(widget, crop)
                                assert ours == textuals, (type(widget).__name__, theme, ansi, focused, cursor, crop)
                                compared += len(ours)
            assert compared > 2000
            # The last screen shows the end of the view and blank lines below it: the past-the-end line too.
            assert timeline.scroll_offset.y + height > len(timeline.store.view) - 1
    finally:
        relay.stop()


async def test_styles_that_draw_more_than_the_sides_take_textuals_pass() -> None:
    ev = Events()
    relay = relay_with([*ev.started(), *ev.bash_calls(0, 20)])
    app = WatchkeeperApp(relay, open_session=SESSION)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                            and len(app.screen.timeline.store.view) > 20)
            timeline = app.screen.timeline  # type: ignore[attr-defined]
            whole = Region(0, 0, *timeline.region.size)
            for rule, value, past in (("padding", (0, 2), True), ("padding", (1, 0), False), ("tint", "red 30%", False),
                                      ("opacity", 0.5, False), ("text_opacity", 0.5, False),
                                      ("outline", ("heavy", "red"), False), ("border", ("round", "red"), False),
                                      ("hatch", ("right", "red"), False)):
                setattr(timeline.styles, rule, value)
                await pilot.pause()
                assert (compat.styles_pass_sides(timeline) is not None) is past, rule
                assert (timeline.lines.strips(whole) is not None) is past, rule
                ours, textuals = both(timeline, Region(0, 0, *timeline.region.size))
                assert len(ours) == timeline.region.height
                assert ours == textuals, rule
                for name in (rule, *(f"{rule}_{edge}" for edge in ("top", "right", "bottom", "left"))):
                    timeline.styles.clear_rule(name)
                await pilot.pause()
                assert compat.styles_pass_sides(timeline) is not None, rule
    finally:
        relay.stop()
