"""The kinds chooser (``f``) under the pilot, read as text: a hidden kind's box is empty, not an X in a dim
colour, so usage and state, hidden by default, read as hidden; ticking usage shows its rows."""

from __future__ import annotations

from test_viewer_support import Events, relay_with, screen_text
from test_viewer_timeline_calm import kinds_shown, session
from textual.widgets import SelectionList
from waiting import until_app

from watchkeeper.viewer.screens.kinds import KindChooser
from watchkeeper.viewer.screens.session import SessionScreen


def box(text: str, kind: str) -> str:
    """The chooser's box before ``kind``, as the screen shows it: ``X`` ticked, `` `` not."""
    line = next(line for line in text.splitlines() if f"▌ {kind}  (" in line)
    return line[line.index(f"▌ {kind}  (") - 1]


async def test_the_chooser_shows_usage_and_state_hidden_and_ticking_usage_shows_its_rows() -> None:
    ev = Events()
    events = [*ev.whole_session(), ev.ev("state", {"state": "idle", "reason": "turn finished"})]
    async with session(relay_with(events), events[0]["session"], size=(80, 24)) as (app, pilot, screen):
        assert not kinds_shown(screen) & {"usage", "state"}, "hidden by default"
        await pilot.press("f")
        chooser = await until_app(pilot, lambda: app.screen if isinstance(app.screen, KindChooser) else None)
        choices = chooser.query_one(SelectionList)
        kinds = [choices.get_option_at_index(i).value for i in range(choices.option_count)]
        assert {"user", "tool", "usage", "state"} <= set(kinds)
        text = await until_app(pilot, lambda: t if "▌ usage  (" in (t := screen_text(app)) else None)
        assert (box(text, "user"), box(text, "tool"), box(text, "usage"), box(text, "state")) == ("X", "X", " ", " ")

        choices.highlighted = kinds.index("usage")
        await pilot.press("space")
        await until_app(pilot, lambda: box(screen_text(app), "usage") == "X", seen=lambda: screen_text(app))
        assert box(screen_text(app), "state") == " "
        await pilot.press("escape")
        await until_app(pilot, lambda: isinstance(app.screen, SessionScreen) and "usage" in kinds_shown(screen))
        assert "state" not in kinds_shown(screen)
        await until_app(pilot, lambda: " usage " in screen_text(app), seen=lambda: screen_text(app))
