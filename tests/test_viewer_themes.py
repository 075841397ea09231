"""Readable themes: contrast measured on what the running app draws, and the chosen theme remembered.

The colours are read from the screen the app composes (every cell's final
foreground and background, after the theme's variables and the CSS resolve),
not from the theme's definition, so a style that drops its background or
resolves ``auto`` wrongly shows up here as it would in the terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import SAMPLE_LOGS
from test_tui_steering_snapshots import paused_session
from test_tui_steering_unit import LiveHooked, held_session
from test_viewer_support import SESSION, Events, relay_with, screen_text
from textual._ansi_theme import ALABASTER, MONOKAI
from textual.color import Color
from textual.pilot import Pilot
from textual.theme import BUILTIN_THEMES
from waiting import until_app

from watchkeeper import config
from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.commands.replay import first_session
from watchkeeper.relay import Relay
from watchkeeper.viewer import WatchkeeperApp
from watchkeeper.viewer.model.control_availability import SteerSetup
from watchkeeper.viewer.replay_app import ReplayApp
from watchkeeper.viewer.screens.replay import ReplayScreen
from watchkeeper.viewer.screens.session import SessionScreen
from watchkeeper.viewer.theme import (
    TEXT_CONTRAST,
    WATCHKEEPER,
    contrast,
    legible,
    load_theme,
    save_theme,
    syntax_theme,
)
from watchkeeper.viewer.widgets.controls import Controls
from watchkeeper.viewer.widgets.detail_pane import DetailPane
from watchkeeper.viewer.widgets.player import PlayerBar

SIZE = (100, 30)
SAMPLE = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"
#: WCAG AA for body text: what the selected row must reach.
SELECTED = 4.5
#: Below this, text is hard to make out at all (white on light grey is ~1.4).
LEGIBLE = 2.5


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = relay_with(Events().whole_session())
    yield relay
    relay.stop()


def text_contrasts(app: WatchkeeperApp, y: int, x0: int = 0, x1: int | None = None) -> list[tuple[float, str]]:
    """(contrast, text) of each run of visible text on screen line ``y`` between columns ``x0`` and ``x1``."""
    strip = app.screen._compositor.render_strips()[y]
    found, x = [], 0
    for segment in strip:
        text, style = segment.text, segment.style
        inside = x >= x0 and (x1 is None or x < x1)
        # Text, not the scrollbar's and borders' block glyphs.
        if inside and style is not None and text.strip() and not set(text.strip()) <= set("▁▂▃▄▅▆▇█▏▔▕"):
            fg, bg = Color.from_rich_color(style.color), Color.from_rich_color(style.bgcolor)
            if style.reverse:
                fg, bg = bg, fg
            found.append((contrast(fg, bg), text.strip()))
        x += segment.cell_length
    return found


async def open_session(app: WatchkeeperApp, pilot: Pilot[str | None]) -> SessionScreen:
    await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                    and len(app.screen.timeline.store.events) == len(Events().whole_session()))
    screen = app.screen
    assert isinstance(screen, SessionScreen)
    return screen


@pytest.mark.parametrize("theme", [WATCHKEEPER.name, "textual-light"])
async def test_the_selected_row_has_contrast_on_every_cell(relay: Relay, theme: str) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION, theme=theme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(app, pilot)
        timeline = screen.timeline
        # The tool rows: a tool name (accent), a summary and a status (error, ok) on the cursor.
        for needle in ("Bash", "Edit", "Task"):
            timeline.action_first()
            await until_app(pilot, lambda: timeline.cursor == 0)
            while needle not in "".join(c for c, _ in timeline.store.row(timeline.selected_head or 0).summary):
                await pilot.press("down")
            await pilot.pause()
            y = timeline.region.y + timeline.cursor - timeline.scroll_offset.y
            cells = text_contrasts(app, y, timeline.region.x, timeline.region.right - 1)
            assert any(needle in text for _, text in cells), cells
            worst = min(cells)
            assert worst[0] >= SELECTED, f"{theme}: {worst[1]!r} on the selected row at {worst[0]:.2f}:1"


@pytest.mark.parametrize("theme", ["textual-light", WATCHKEEPER.name])
async def test_no_text_on_the_session_screen_fades_into_its_background(relay: Relay, theme: str) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION, theme=theme)
    async with app.run_test(size=SIZE) as pilot:
        await open_session(app, pilot)
        await until_app(pilot, lambda: "events" in str(app.screen.query_one("#status").render()))
        await pilot.pause()
        cells = [c for y in range(SIZE[1]) for c in text_contrasts(app, y)]
        assert any(text.startswith("18:00:0") for _, text in cells)  # the time column is among them
        assert faint(cells) == [], f"{theme}: text nearly invisible on its background"


@pytest.mark.parametrize("theme", ["textual-light", WATCHKEEPER.name])
async def test_no_text_in_the_conversation_view_fades_into_its_background(relay: Relay, theme: str) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION, theme=theme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(app, pilot)
        await pilot.press("v")
        await until_app(pilot, lambda: screen.conversation.display and "You · " in screen_text(app))
        await pilot.pause()
        region = screen.conversation.region
        cells = [c for y in range(region.y, region.bottom) for c in text_contrasts(app, y, region.x,
                                                                                    region.right - 1)]
        assert any("You" in text for _, text in cells), cells
        assert faint(cells) == [], f"{theme}: conversation text nearly invisible on its background: {faint(cells)}"


@pytest.mark.parametrize(("first", "then"), [(WATCHKEEPER.name, "textual-light"), ("textual-light", WATCHKEEPER.name)])
async def test_the_detail_pane_reads_after_the_theme_changes_under_it(relay: Relay, first: str, then: str) -> None:
    """The pane keeps its role styles (resolved against its ground) between rows: a theme change must drop
    them, or the old theme's muted grey stays on the new ground."""
    app = WatchkeeperApp(relay, open_session=SESSION, theme=first)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(app, pilot)
        timeline = screen.timeline
        timeline.action_first()
        await until_app(pilot, lambda: timeline.cursor == 0)
        while "Bash" not in "".join(c for c, _ in timeline.store.row(timeline.selected_head or 0).summary):
            await pilot.press("down")
        detail = screen.query_one(DetailPane)
        await until_app(pilot, lambda: bool(detail._strips))
        app.theme = then
        await pilot.pause()
        region = detail.region
        cells = [c for y in range(region.y, region.bottom) for c in text_contrasts(app, y, region.x, region.right - 1)]
        assert len(cells) > 3, cells
        assert faint(cells) == [], f"{first} -> {then}: detail text nearly invisible: {faint(cells)}"
        everywhere = [c for y in range(SIZE[1]) for c in text_contrasts(app, y)]
        assert faint(everywhere) == [], f"{first} -> {then}: text nearly invisible: {faint(everywhere)}"


def faint(cells: list[tuple[float, str]]) -> list[tuple[float, str]]:
    return [(round(ratio, 2), text) for ratio, text in cells if ratio < LEGIBLE]


@pytest.mark.parametrize("theme", ["textual-light", WATCHKEEPER.name])
@pytest.mark.parametrize("held", [True, False], ids=["held", "paused"])
async def test_the_controls_line_and_the_player_bar_are_legible(theme: str, held: bool) -> None:
    """The controls line (a call held, or paused), and a replay's player bar, on their own backgrounds."""
    relay = Relay().start()
    relay.add_source(LiveHooked(held_session(Events(), "Clean the build") if held else paused_session()))
    relay.add_source(TranscriptSource(SAMPLE, follow=False))
    try:
        app = WatchkeeperApp(relay, open_session=SESSION, theme=theme, steer=SteerSetup(hooks_port=1))
        async with app.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen)
                            and (bool(app.screen.steer.held) if held else app.screen.steer.paused))
            controls = app.screen.query_one(Controls)
            key = "y approve" if held else "r resume"
            await until_app(pilot, lambda: key in str(controls.content))
            await pilot.pause()
            cells = text_contrasts(app, controls.region.y)
            assert any(key in text for _, text in cells)
            assert faint(cells) == [], f"{theme}: the controls line"
        replay = ReplayApp(relay, open_session=first_session(SAMPLE), paused=True, theme=theme)
        async with replay.run_test(size=SIZE) as pilot:
            await until_app(pilot, lambda: isinstance(replay.screen, ReplayScreen) and replay.screen.playhead.loaded)
            player = replay.screen.query_one(PlayerBar)
            await until_app(pilot, lambda: "? keys" in player.text)
            await pilot.pause()
            cells = text_contrasts(replay, player.region.y)
            assert any("? keys" in text for _, text in cells)
            assert faint(cells) == [], f"{theme}: the player bar"
    finally:
        relay.stop()


async def test_the_chosen_theme_is_remembered_in_the_config_directory(tmp_path: Path, relay: Relay,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "home"))
    prefs = config.preferences_path()
    assert prefs.parent == tmp_path / "home" and not prefs.exists()

    app = WatchkeeperApp(relay, preferences=prefs)
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == WATCHKEEPER.name
        await pilot.press("ctrl+p", *"theme")
        await until_app(pilot, lambda: app.screen.query("CommandList"))
        await pilot.press("enter")  # the palette's "Theme" command: a list of themes
        await pilot.press(*"textual-light")
        await pilot.pause()
        await pilot.press("enter")
        await until_app(pilot, lambda: app.theme == "textual-light")
    assert orjson.loads(prefs.read_bytes()) == {"theme": "textual-light"}
    assert load_theme(prefs) == "textual-light"

    again = WatchkeeperApp(relay, preferences=prefs)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.theme == "textual-light"
    # A theme given on the command line wins for that run, and is not remembered over the choice.
    given = WatchkeeperApp(relay, preferences=prefs, theme="nord")
    async with given.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert given.theme == "nord"
    assert load_theme(prefs) == "textual-light"


async def test_a_remembered_theme_that_is_gone_or_garbled_falls_back_to_the_default(tmp_path: Path,
                                                                                     relay: Relay) -> None:
    prefs = tmp_path / "viewer.json"
    assert save_theme(prefs, "no-such-theme") is None
    app = WatchkeeperApp(relay, preferences=prefs)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == WATCHKEEPER.name
    prefs.write_text("{not json")
    assert load_theme(prefs) is None
    # Saving keeps whatever else the file holds.
    prefs.write_bytes(orjson.dumps({"other": 1}))
    assert save_theme(prefs, "nord") is None
    assert orjson.loads(prefs.read_bytes()) == {"other": 1, "theme": "nord"}


@pytest.mark.parametrize("theme", sorted(BUILTIN_THEMES))
def test_every_text_colour_reads_on_its_backgrounds_in_every_builtin_theme(theme: str) -> None:
    """Textual's light theme draws tool names, warnings and footer keys at ~3:1; the app lifts them to AA."""
    given = {**BUILTIN_THEMES[theme].to_color_system().generate(), **BUILTIN_THEMES[theme].variables}
    shown = legible(given)
    for name in ("text-accent", "text-warning", "text-error", "text-success", "text-primary"):
        if Color.parse(given[name]).ansi is not None:
            assert shown[name] == given[name], "a terminal's own palette is left to the terminal"
            continue
        for ground in ("background", "surface", "panel"):
            ratio = contrast(Color.parse(shown[name]), Color.parse(shown[ground]))
            assert ratio >= TEXT_CONTRAST - 0.01, f"{theme}: ${name} on ${ground} at {ratio:.2f}:1"
    unchanged = [k for k in given if k not in ("text-accent", "text-warning", "text-error", "text-success",
                                               "text-primary", "footer-key-foreground")]
    assert all(shown[k] == given[k] for k in unchanged)


async def test_tool_names_and_footer_keys_reach_aa_on_the_light_theme(relay: Relay) -> None:
    app = WatchkeeperApp(relay, open_session=SESSION, theme="textual-light")
    async with app.run_test(size=SIZE) as pilot:
        await open_session(app, pilot)
        await until_app(pilot, lambda: "events" in str(app.screen.query_one("#status").render()))
        await pilot.pause()
        cells = [c for y in range(SIZE[1]) for c in text_contrasts(app, y)]
        tools = [(round(r, 2), t) for r, t in cells if t in ("Edit", "Glob", "Task", "Bash")]
        keys = [(round(r, 2), t) for r, t in text_contrasts(app, SIZE[1] - 1) if t in ("q", "?", "/", "e")]
        assert tools and keys, cells
        assert min(tools)[0] >= TEXT_CONTRAST and min(keys)[0] >= TEXT_CONTRAST, (tools, keys)


@pytest.mark.parametrize("theme", sorted(t for t in BUILTIN_THEMES if not BUILTIN_THEMES[t].ansi))
def test_every_syntax_colour_reads_on_the_detail_pane_in_every_builtin_theme(theme: str) -> None:
    """Under Textual's ANSI palettes, a light theme's JSON strings were yellow at 1.8:1 and a dark theme's
    bright magenta at ~2:1; the detail pane's syntax theme lifts each colour on the pane's own ground."""
    spec = BUILTIN_THEMES[theme]
    ground = Color.parse(legible(spec.to_color_system().generate())["surface"])
    palette = MONOKAI if spec.dark else ALABASTER
    built = syntax_theme(spec.dark, palette, ground)
    for token in (("Literal", "String"), ("Literal", "Number"), ("Name", "Tag"), ("Keyword",), ("Generic", "Deleted"),
                  ("Generic", "Inserted"), ("Name", "Variable"), ("Operator", "Word")):
        style = built.get_style_for_token(token)
        assert style.color is not None and style.color.triplet is not None, (token, style)
        ratio = contrast(Color.from_rich_color(style.color), ground)
        assert ratio >= TEXT_CONTRAST - 0.01, f"{theme}: {token} at {ratio:.2f}:1"


@pytest.mark.parametrize("theme", ["textual-light", "catppuccin-latte", WATCHKEEPER.name, "nord"])
async def test_json_in_the_detail_pane_reads_on_screen(relay: Relay, theme: str) -> None:
    """Measured on the cells the terminal gets: after Textual's filter turns ANSI colours into its palette's."""
    app = WatchkeeperApp(relay, open_session=SESSION, theme=theme)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(app, pilot)
        timeline = screen.timeline
        while "Bash" not in "".join(c for c, _ in timeline.store.row(timeline.selected_head or 0).summary):
            await pilot.press("down")
        pane = screen.query_one(DetailPane)
        await until_app(pilot, lambda: '"description"' in screen_text(app))
        await pilot.pause()
        strips = app.screen._compositor.render_strips()
        tokens: list[tuple[float, str]] = []
        for y in range(pane.region.y, pane.region.bottom):
            strip = strips[y]
            for screen_filter in app._filters:
                strip = strip.apply_filter(screen_filter, app.screen.background_colors[1])
            x = 0
            for segment in strip:
                text, style = segment.text.strip(), segment.style
                if pane.region.x <= x < pane.region.right - 1 and style is not None and text \
                        and text[0] == '"':
                    fg, bg = Color.from_rich_color(style.color), Color.from_rich_color(style.bgcolor)
                    tokens.append((round(contrast(fg, bg), 2), text))
                x += segment.cell_length
        assert any(text == '"description"' for _, text in tokens), tokens
        assert min(tokens)[0] >= TEXT_CONTRAST - 0.01, f"{theme}: {min(tokens)}"
