"""The payload TypedDicts (``protocol.payloads``) name the same fields as the pydantic models of each kind.

The models validate and give the schema; the TypedDicts let mypy check the
hot path. A field added to one and not the other fails here.
"""

from __future__ import annotations

import typing

import pytest

from watchkeeper.protocol import Kind, make_event
from watchkeeper.protocol.models import EVENT_DATA
from watchkeeper.protocol.payloads import PAYLOADS, data_of

#: Fields the hot path writes that the models leave to ``extra="allow"``.
WRITTEN_BEYOND_THE_MODEL = {
    Kind.USAGE: {"request_id", "revision"},
    Kind.MESSAGE_USER: {"images", "control_id"},
    Kind.TOOL_STARTED: {"server"},
    Kind.TOOL_FINISHED: {"result", "exit_code"},
    Kind.AGENT_STARTED: {"sidechain", "prompt"},
    Kind.CONTROL_APPLIED: {"call_ids", "sent_ts", "text", "message"},
    Kind.CONTROL_REJECTED: {"call_ids", "sent_ts", "text", "message"},
}


def test_every_kind_has_a_payload() -> None:
    assert set(PAYLOADS) == set(EVENT_DATA) == {k.value for k in Kind}


@pytest.mark.parametrize("kind", sorted(EVENT_DATA))
def test_a_payload_names_the_models_fields(kind: str) -> None:
    typed = set(typing.get_type_hints(PAYLOADS[kind]))
    modelled = set(EVENT_DATA[kind].model_fields)
    assert typed == modelled | WRITTEN_BEYOND_THE_MODEL.get(kind, set())
    assert not PAYLOADS[kind].__required_keys__, "on the hot path every field may be missing"


def test_data_of_gives_a_dict_for_a_broken_event() -> None:
    ev = make_event("e", "s", "state", {"state": "running"})
    assert data_of(ev) == {"state": "running"}
    ev["data"] = ["not", "a", "dict"]  # type: ignore[typeddict-item]
    assert data_of(ev) == {}
