"""The controls table in ``protocol.controls`` is the one list every layer reads.

Each place that offers controls is checked against it through its real
surface: the CLI's parser, the session screen's bindings and palette, the
status bar and the controls area.
"""

from __future__ import annotations

import argparse

from watchkeeper.commands import ctl
from watchkeeper.protocol import ControlKind
from watchkeeper.protocol.controls import CONTROL_NAMES, CONTROLS, HELD_ORDER, ON_A_CALL, honoured, released
from watchkeeper.protocol.session import SessionState
from watchkeeper.viewer.screens.session_steering import ACTIONS, SteerableScreen
from watchkeeper.viewer.widgets.controls import controls_content
from watchkeeper.viewer.widgets.status import capabilities_cells


def test_the_table_names_every_control_once_with_a_distinct_key() -> None:
    assert sorted(CONTROL_NAMES) == sorted(k.value for k in ControlKind)
    assert len({c.key for c in CONTROLS}) == len(CONTROLS)
    assert sorted(HELD_ORDER) == sorted(CONTROL_NAMES)
    assert {"approve", "deny"} == ON_A_CALL


def test_ctl_offers_exactly_the_table() -> None:
    parser = argparse.ArgumentParser()
    ctl.add_arguments(parser)
    action = next(a for a in parser._actions if a.dest == "action")
    assert sorted(action.choices or ()) == sorted(CONTROL_NAMES)


def test_the_session_screen_binds_each_control_to_its_key() -> None:
    bound = {b.action: b.key for b in SteerableScreen.BINDINGS if not isinstance(b, tuple)}
    for spec in CONTROLS:
        assert bound[f"steer_{spec.kind}"] == spec.key
        assert ACTIONS[f"steer_{spec.kind}"] == spec.kind


def test_the_status_bar_and_the_controls_area_follow_the_table() -> None:
    caps = {name: name not in ("step", "end") for name in CONTROL_NAMES}
    assert honoured(caps) == ["pause", "resume", "approve", "deny", "inject", "cancel"]
    assert capabilities_cells(caps)[1][0] == "pause resume approve deny inject cancel"
    area = controls_content(SessionState(), dict.fromkeys(CONTROL_NAMES), None).plain
    assert "p pause  r resume  y approve  n deny…  s step  i inject…  C cancel  E end…" in area


def test_released_names_each_let_go_call_once_in_order() -> None:
    assert released({"call_id": "a", "call_ids": ["a", "b", 3, "b"]}) == ["a", "b"]
    assert released({"call_id": None}) == []
    assert released({"call_ids": ["c"]}) == ["c"]
