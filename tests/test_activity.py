"""The time rules of a session (``protocol.activity``), with the time given instead of slept through;
and the relay's session list judged by them with an injected clock."""

from __future__ import annotations

import math
import threading

import pytest
from test_relay import ListSource
from waiting import until

from watchkeeper.protocol import make_event
from watchkeeper.protocol.activity import (
    IDLE_AFTER,
    LIVE_WINDOW,
    ago_text,
    duration_text,
    judge,
    may_run,
    next_change,
)
from watchkeeper.protocol.envelope import parse_ts
from watchkeeper.relay import Relay
from watchkeeper.relay.api import SessionInfo

T0 = "2026-11-27T10:00:00.000Z"
START = parse_ts(T0) or 0.0
WAIT = 10.0


def at(seconds: float) -> float:
    return START + seconds


def test_a_write_in_the_last_five_minutes_is_live_then_quiet_then_idle() -> None:
    assert judge("running", T0, at(0)).live
    assert judge("running", T0, at(LIVE_WINDOW)).live
    quiet = judge("running", T0, at(LIVE_WINDOW + 1))
    assert not quiet.live and quiet.state == "running" and quiet.calls_may_run
    idle = judge("running", T0, at(IDLE_AFTER + 1))
    assert (idle.live, idle.state, idle.calls_may_run) == (False, "idle", False)
    # "live idle 207h59m": followed since start, written to nine days ago.
    assert judge("idle", T0, at(207 * 3600)) == judge("idle", T0, at(IDLE_AFTER + 1))
    assert not judge("idle", T0, at(207 * 3600)).live


def test_an_open_channel_is_live_however_quiet_and_keeps_its_state() -> None:
    held = judge("waiting", T0, at(3 * 86400), channel=True)
    assert (held.live, held.state, held.calls_may_run) == (True, "waiting", True)
    assert judge(None, None, at(0), channel=True).state == "running"


def test_ended_or_no_longer_followed_is_never_live() -> None:
    assert judge("finished", T0, at(0), channel=True) == judge("finished", None, at(9e9))
    assert not judge("finished", T0, at(0)).live
    read = judge("running", T0, at(1), followed=False)
    assert not read.live and read.state == "running"
    assert not judge("running", T0, at(1), channel=True, followed=False).live
    assert judge(None, None, at(0)).state == "idle"


def test_a_clock_behind_the_writer_counts_as_just_written() -> None:
    assert judge("running", T0, at(-600)).live


def test_calls_run_on_only_while_the_session_may_run_them() -> None:
    assert may_run(True, "idle", True)
    assert may_run(False, "running", True) and may_run(False, "paused", True)
    assert not may_run(False, "idle", True) and not may_run(False, "finished", True)
    assert not may_run(True, "running", False)


def test_when_the_judgement_changes_by_itself() -> None:
    assert next_change(T0, at(60)) == LIVE_WINDOW - 60
    assert next_change(T0, at(LIVE_WINDOW + 60)) == IDLE_AFTER - LIVE_WINDOW - 60
    assert next_change(T0, at(IDLE_AFTER + 1)) is None
    assert next_change(None, at(0)) is None


@pytest.mark.parametrize(("seconds", "text"), [
    (0.45, "450ms"), (12.34, "12.3s"), (245, "4m05s"), (3 * 3600 + 12 * 60, "3h12m"),
    (48 * 3600 - 60, "47h59m"), (48 * 3600, "2d 0h"), (3 * 86400 + 4 * 3600 + 59, "3d 4h"),
    (6313 * 3600 + 36 * 60, "263d 1h"), (-5, "0ms"), (None, ""), (math.nan, ""),
])
def test_durations_roll_to_days_past_48_hours(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (2, "now"), (45, "45s ago"), (3 * 60 + 59, "3m ago"), (59 * 60 + 59, "59m ago"), (5 * 3600, "5h ago"),
    (47 * 3600, "47h ago"), (8 * 86400 + 3600, "8d ago"), (90 * 86400, "3mo ago"), (800 * 86400, "2y ago"),
    (-30, "now"), (None, "—"), (math.inf, "—"),
])
def test_relative_times(seconds: float | None, text: str) -> None:
    assert ago_text(seconds) == text


def test_the_relay_judges_its_sessions_by_its_clock() -> None:
    """A session followed by a running source: live, then quiet, then idle as the injected clock moves."""
    now = [at(60)]
    relay = Relay(clock=lambda: now[0], sessions_interval=0.01).start()
    try:
        gate = threading.Event()
        events = [make_event("s", "S", "session.started", {"agent_kind": "claude-code"}, ts=T0),
                  make_event("r", "S", "state", {"state": "running"}, ts=T0)]
        source = ListSource("tail", [events], gate=gate)  # runs until the gate opens: following
        relay.add_source(source)
        assert source.held.wait(WAIT)

        def info() -> SessionInfo:
            found = relay.session("S")
            assert found is not None
            return found

        until(lambda: (i := relay.session("S")) is not None and i.events == 2, what="both events in")
        assert (info().live, info().followed, info().channel, info().state) == (True, True, False, "running")
        now[0] = at(LIVE_WINDOW + 1)
        assert (info().live, info().state) == (False, "running")
        now[0] = at(IDLE_AFTER + 1)
        assert (info().live, info().state) == (False, "idle")
        gate.set()
        seen = threading.Event()
        relay.on_sessions(lambda infos: seen.set() if infos and not infos[0].followed else None)
        assert seen.wait(WAIT), "the source ended: the session is no longer followed"
    finally:
        relay.stop()


def test_watchers_are_told_when_a_quiet_session_stops_being_live() -> None:
    """No new write: the relay tells its watchers anyway once the five minutes are over."""
    now = [at(LIVE_WINDOW - 0.2)]
    relay = Relay(clock=lambda: now[0], sessions_interval=0.01).start()
    try:
        gate = threading.Event()
        source = ListSource("tail", [[make_event("s", "S", "state", {"state": "running"}, ts=T0)]], gate=gate)
        relay.add_source(source)
        assert source.held.wait(WAIT)
        told: list[bool] = []
        first, quiet = threading.Event(), threading.Event()

        def on_sessions(infos: list[SessionInfo]) -> None:
            if infos and infos[0].events == 1:
                told.append(infos[0].live)
                (first if infos[0].live else quiet).set()

        relay.on_sessions(on_sessions)
        assert first.wait(WAIT)
        now[0] = at(LIVE_WINDOW + 1)
        assert quiet.wait(WAIT), f"told {told}"
        assert told[0] and not told[-1]
        gate.set()
    finally:
        relay.stop()
