"""The replay's playhead, pure: play order, timing scaled, gaps capped, step, seek, speed; the player bar's text.

Wall time is passed in (``tick(wall)``), so these tests say exactly how far a
playhead gets in a given time without waiting for it.
"""

from __future__ import annotations

from conftest import SAMPLE_LOGS
from hypothesis import given, settings
from hypothesis import strategies as st
from test_viewer_support import Events

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.protocol import Event, make_event
from watchkeeper.viewer.model.playhead import Playhead, Reveal, parse_position
from watchkeeper.viewer.model.rows import parse_ts
from watchkeeper.viewer.widgets.player import offset, player_cells, progress

CLAUDE_SAMPLE = SAMPLE_LOGS / "claude-code" / "-home-dev-demo" / "b258fcd5-dddc-5674-bc87-3cbb11ebc230.jsonl"


def at(seconds: float, n: int, agent: str = "main") -> Event:
    """An event ``seconds`` into a recording that starts at 18:00:00."""
    m, s = divmod(seconds, 60)
    ts = f"2026-11-27T18:{int(m):02d}:{s:06.3f}Z"
    return make_event(f"e{n}", "s", "notice", {"text": str(n)}, ts=ts, agent=agent)


def ids(events: list[Event]) -> list[str]:
    return [e["id"] for e in events]


def loaded(events: list[Event], **kwargs: object) -> Playhead:
    playhead = Playhead(**kwargs)  # type: ignore[arg-type]
    playhead.add(events)
    playhead.loaded = True
    return playhead


def shown_after(playhead: Playhead, *walls: float) -> list[str]:
    out: list[str] = []
    for wall in walls:
        reveal = playhead.tick(wall)
        assert not reveal.reset
        out += ids(reveal.events)
    return out


def test_events_play_at_their_recorded_times_scaled() -> None:
    playhead = loaded([at(0, 0), at(1, 1), at(2, 2), at(4, 3)], speed=2.0)
    assert shown_after(playhead, 100.0) == ["e0"]
    assert shown_after(playhead, 100.4) == []  # 0.8 s into the recording
    assert shown_after(playhead, 100.5) == ["e1"]  # 1.0 s
    assert shown_after(playhead, 101.0, 101.9) == ["e2"]  # 2.0 s, then 3.8 s
    assert playhead.playing and not playhead.ended
    assert shown_after(playhead, 102.0) == ["e3"]
    assert playhead.ended and not playhead.playing


def test_a_long_idle_gap_plays_as_max_gap() -> None:
    playhead = loaded([at(0, 0), at(3000, 1)], speed=1.0, max_gap=3.0)
    assert shown_after(playhead, 0.0, 2.9) == ["e0"]
    assert shown_after(playhead, 3.1) == ["e1"]
    assert playhead.clock == parse_ts(at(3000, 1)["ts"])


def test_as_fast_as_possible_shows_everything_in_budgeted_slices() -> None:
    events = [at(i, i) for i in range(25)]
    playhead = loaded(events, speed=0.0, budget=10)
    assert len(playhead.tick(0.0).events) == 10
    assert len(playhead.tick(0.01).events) == 10
    assert len(playhead.tick(0.02).events) == 5
    assert playhead.shown == playhead.goal == 25 and playhead.ended


def test_late_events_merge_in_time_order_and_those_behind_the_playhead_show_at_once() -> None:
    """A subagent's file is read after its parent's: its events land in the middle of the recording."""
    playhead = Playhead(speed=1.0, playing=False)
    playhead.add([at(0, 0), at(10, 1), at(20, 2), at(30, 3)])
    playhead.seek(3)  # e0, e1, e2 shown; the clock at 20 s
    reveal = playhead.add([at(5, 10, "sub"), at(25, 11, "sub")])
    assert ids(reveal.events) == ["e10"] and not reveal.reset
    assert ids(playhead.events) == ["e0", "e10", "e1", "e2", "e11", "e3"]
    assert (playhead.shown, playhead.goal) == (4, 4)
    assert ids(playhead.step(1).events) == ["e11"]


def test_equal_times_keep_arrival_order_and_a_missing_time_follows_the_event_before() -> None:
    a, b, c = at(1, 0), at(1, 1), at(1, 2)
    c["ts"] = "garbage"
    playhead = loaded([at(2, 3), a, b, c])
    assert ids(playhead.events) == ["e0", "e1", "e2", "e3"]


def test_step_seek_and_skip_move_the_playhead_and_going_back_resets() -> None:
    events = [at(i, i) for i in range(20)]
    playhead = loaded(events, playing=True)
    playhead.tick(0.0)
    assert playhead.shown == 1
    reveal = playhead.step(3)
    assert not playhead.playing and ids(reveal.events) == ["e1", "e2", "e3"] and playhead.goal == 4
    reveal = playhead.step(-1)
    assert reveal.reset and ids(reveal.events) == ["e0", "e1", "e2"]
    assert playhead.clock == parse_ts(events[2]["ts"])
    reveal = playhead.skip(0.1)
    assert not reveal.reset and ids(reveal.events) == ["e3", "e4"] and playhead.goal == 5
    reveal = playhead.skip(-0.1)
    assert reveal.reset and playhead.goal == 3
    assert playhead.seek_fraction(1.0).events[-1]["id"] == "e19" and playhead.at_end
    reveal = playhead.seek_fraction(0.0)
    assert reveal.reset and reveal.events == [] and playhead.goal == 0
    assert playhead.step(-1) == Reveal(reset=False) and playhead.goal == 0
    playhead.seek(99)
    assert playhead.goal == 20 and playhead.ended


def test_a_seek_back_across_more_than_the_budget_rebuilds_in_slices() -> None:
    playhead = loaded([at(i / 10, i) for i in range(30)], playing=False, budget=8)
    playhead.seek(30)
    while playhead.shown < playhead.goal:
        playhead.tick(0.0)
    reveal = playhead.seek(20)
    assert reveal.reset and len(reveal.events) == 8
    assert [len(playhead.tick(0.0).events) for _ in range(3)] == [8, 4, 0]
    assert playhead.shown == playhead.goal == 20


def test_play_pause_and_play_again_from_the_end() -> None:
    playhead = loaded([at(0, 0), at(1, 1)], speed=1.0)
    assert shown_after(playhead, 0.0, 1.0) == ["e0", "e1"]
    assert playhead.ended and not playhead.playing
    reveal = playhead.toggle(5.0)
    assert playhead.playing and reveal.reset and playhead.goal == 0
    assert shown_after(playhead, 5.0) == ["e0"]
    playhead.toggle()
    assert not playhead.playing
    assert shown_after(playhead, 50.0) == []
    playhead.play(60.0)
    assert shown_after(playhead, 60.5, 61.0) == ["e1"]


def test_speed_changes_while_playing_take_effect_from_the_next_tick() -> None:
    playhead = loaded([at(0, 0), at(10, 1), at(20, 2)], speed=1.0, max_gap=60.0)
    assert shown_after(playhead, 0.0, 5.0) == ["e0"]
    assert playhead.faster() == 2.0 and playhead.playing
    assert shown_after(playhead, 7.5) == ["e1"]  # 5 s + 2.5 s × 2
    assert playhead.faster(-1) == 1.0 and playhead.faster(-1) == 0.5 and playhead.faster(-1) == 0.5
    playhead.speed = 100.0
    assert playhead.faster() == 0.0 and playhead.faster() == 0.0
    assert shown_after(playhead, 7.6) == ["e2"]
    playhead.speed = 3.0
    assert playhead.faster() == 5.0 and playhead.faster(-1) == 2.0


def test_go_to_answers() -> None:
    playhead = loaded([at(i, i) for i in range(100)], playing=False)
    assert parse_position("50%", playhead) is not None and playhead.goal == 50
    assert parse_position("12", playhead) is not None and playhead.goal == 12
    assert parse_position("1:05", playhead) is not None and playhead.goal == 66
    assert parse_position("30s", playhead) is not None and playhead.goal == 31
    assert parse_position("soon", playhead) is None and playhead.goal == 31


def test_a_real_recording_plays_in_time_order_with_every_event() -> None:
    events = list(convert_file(CLAUDE_SAMPLE))
    playhead = loaded(events, speed=0.0)
    out = playhead.tick(0.0).events
    assert sorted(ids(out)) == sorted(ids(events))
    times = [parse_ts(e["ts"]) or 0.0 for e in out]
    assert times == sorted(times)
    assert out[0]["kind"] == "session.started"


def test_the_player_bar_says_where_the_playhead_is() -> None:
    playhead = Playhead(speed=10.0)
    playhead.add([at(0, 0), at(30, 1), at(90, 2), at(120, 3)])
    text = "".join(t for t, _ in player_cells(playhead))
    assert "▶ playing" in text and "10×" in text and "event 0 / 4+" in text and "reading the file" in text
    playhead.loaded = True
    playhead.step(2)
    text = "".join(t for t, _ in player_cells(playhead))
    assert "⏸ paused" in text and "event 2 / 4 " in text and "0:30 / 2:00" in text
    assert "reading" not in text
    playhead.seek(4)
    playhead.speed = 0
    text = "".join(t for t, _ in player_cells(playhead))
    assert "■ ended" in text and "max" in text and "2:00 / 2:00" in text
    assert progress(2, 4, 10) == "━━━━━╸────" and progress(4, 4, 10) == "━" * 10
    assert offset(0.43, tenths=True) == "0:00.4" and offset(3725) == "1:02:05"


def test_a_whole_session_in_events_order() -> None:
    events = Events().whole_session()
    playhead = loaded(events, speed=0.0)
    assert ids(playhead.tick(0.0).events) == ids(events)


def test_an_event_far_behind_plays_where_it_arrived() -> None:
    """A file whose timestamps start over (two runs in one recording): no merge across the whole file."""
    playhead = Playhead(speed=0.0, merge_window=5)
    playhead.add([at(i, i) for i in range(10)])
    playhead.add([at(1.5, 20), at(8.5, 21)])
    assert ids(playhead.events)[-4:] == ["e8", "e21", "e9", "e20"]
    assert playhead.times == sorted(playhead.times)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 40), max_size=12), st.integers(0, 60)), max_size=8))
def test_batches_merge_in_time_order_and_what_is_shown_is_what_was_revealed(
    batches: list[tuple[list[int], int]],
) -> None:
    """However batches arrive, play order is time then arrival order, and the first ``shown`` events
    are exactly those handed to the timeline (a merge done in one C sort, checked against a plain one)."""
    playhead = Playhead(speed=1.0, playing=False)
    arrived: list[tuple[float, int]] = []
    on_screen: list[str] = []
    n = 0
    for seconds, seek_to in batches:
        batch = [at(s, n + i) for i, s in enumerate(seconds)]
        n += len(batch)
        arrived += [(float(s), len(arrived) + i) for i, s in enumerate(seconds)]
        on_screen += ids(playhead.add(batch).events)
        assert ids(playhead.events) == [f"e{i}" for _, i in sorted(arrived)]
        assert sorted(ids(playhead.events)[:playhead.shown]) == sorted(on_screen)
        assert playhead.shown == playhead.goal
        reveal = playhead.seek(seek_to)
        on_screen = ids(reveal.events) if reveal.reset else on_screen + ids(reveal.events)
