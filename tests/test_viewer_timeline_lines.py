"""The timeline draws its lines past Textual's styles pass only where that pass would change nothing.

``RowLines.strips`` keeps rows filtered and makes one Strip a line; Textual's
own ``Widget.render_lines`` (the styles pass, then the app's line filters) is
the reference: every line, crop, theme, colour mode, focus and cursor row must
come out the same, segment for segment. Where the widget's styles draw
something (padding, a border, a tint) the pass is taken.
"""

from __future__ import annotations

from test_viewer_support import SESSION, Events, relay_with
from textual.geometry import Region
from textual.widget import Widget
from waiting import until_app

from watchkeeper.viewer import WatchkeeperApp, compat
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.widgets.timeline import Timeline

SIZE = (120, 40)


def segments(strips: list) -> list[list[tuple[str, object, object]]]:
    return [[(seg.text, seg.style, seg.control) for seg in strip] + [("|", strip.cell_length, None)]
            for strip in strips]


def both(timeline: Timeline, crop: Region) -> tuple[list, list]:
    """(past the pass, through it); the row cache cleared before each, so neither reads what the other kept."""
    timeline.lines.clear()
    ours = timeline.render_lines(crop)
    timeline.lines.clear()
    timeline._styles_cache.clear()
    textuals = Widget.render_lines(timeline, crop)
    return segments(ours), segments(textuals)


async def test_the_lines_are_what_textuals_styles_pass_would_draw() -> None:
    ev = Events()
    relay = relay_with([*ev.started(),
                        *ev.call("c1", "Bash", {"command": "pytest"}, "boom", "error", duration_ms=1500),
                        *ev.bash_calls(0, 80)])
    app = WatchkeeperApp(relay, open_session=SESSION)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                            and len(app.screen.timeline.store.view) > 60)
            screen = app.screen
            assert isinstance(screen, SessionScreen)
            timeline = screen.timeline
            width, height = timeline.size
            crops = [Region(0, 0, width, height), Region(0, 3, width, 5), Region(4, 0, width - 10, height),
                     Region(0, height - 1, width, 1)]
            compared = 0
            for theme, ansi in (("textual-dark", False), ("textual-light", False), ("textual-dark", True),
                                ("ansi-dark", True), ("ansi-light", False), ("nord", False)):
                app.theme, app.ansi_color = theme, ansi
                await pilot.pause()
                assert compat.styles_pass_changes_nothing(timeline)
                for focused in (True, False):
                    if focused:
                        timeline.focus()
                    else:
                        screen.set_focus(None)
                    for cursor, top in ((0, 0), (1, 0), (30, 12), (len(timeline.store.view) - 1, 10_000)):
                        timeline.cursor = cursor
                        timeline.scroll_to(y=top, animate=False, immediate=True)
                        await pilot.pause()
                        for crop in crops:
                            ours, textuals = both(timeline, crop)
                            assert ours == textuals, (theme, ansi, focused, cursor, crop)
                            compared += len(ours)
            assert compared > 1000
            # The last screen shows the end of the view and blank lines below it: the past-the-end line too.
            assert timeline.scroll_offset.y + height > len(timeline.store.view) - 1
    finally:
        relay.stop()


async def test_styles_that_draw_something_take_textuals_pass() -> None:
    ev = Events()
    relay = relay_with([*ev.started(), *ev.bash_calls(0, 20)])
    app = WatchkeeperApp(relay, open_session=SESSION)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                            and len(app.screen.timeline.store.view) > 20)
            timeline = app.screen.timeline  # type: ignore[attr-defined]
            for rule, value in (("padding", (0, 2)), ("tint", "red 30%"), ("opacity", 0.5),
                                ("text_opacity", 0.5), ("outline", ("heavy", "red")), ("border", ("round", "red")),
                                ("hatch", ("right", "red"))):
                setattr(timeline.styles, rule, value)
                await pilot.pause()
                assert not compat.styles_pass_changes_nothing(timeline), rule
                assert timeline.lines.strips(Region(0, 0, *timeline.size)) is None
                lines = timeline.render_lines(Region(0, 0, *timeline.size))
                assert len(lines) == timeline.size.height
                for name in (rule, *(f"{rule}_{edge}" for edge in ("top", "right", "bottom", "left"))):
                    timeline.styles.clear_rule(name)
                await pilot.pause()
                assert compat.styles_pass_changes_nothing(timeline), rule
    finally:
        relay.stop()
