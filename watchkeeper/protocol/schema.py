"""The JSON Schema of protocol v1 (draft 2020-12), built from the pydantic models.

An event's ``data`` is checked against its kind's model by an ``if``/``then``
per known kind, so an event of a kind this version does not know still
validates: v1 grows by addition only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .kinds import PROTOCOL_VERSION
from .listing import SessionRow
from .models import EVENT_DATA, ControlModel, EventModel

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    models: list[type[BaseModel]] = [EventModel, ControlModel, SessionRow]
    models += sorted(set(EVENT_DATA.values()), key=lambda m: m.__name__)
    _, top = models_json_schema(
        [(m, "validation") for m in models],
        ref_template="#/$defs/{model}",
    )
    defs: dict[str, Any] = top["$defs"]
    event = defs["EventModel"]
    event["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"properties": {"data": {"$ref": f"#/$defs/{model.__name__}"}}},
        }
        for kind, model in EVENT_DATA.items()
    ]
    defs["SessionList"] = {"title": "SessionList", "type": "array", "items": {"$ref": "#/$defs/SessionRow"},
                           "description": "What `watchkeeper sessions --json` prints: one object per session."}
    return {
        "$schema": DIALECT,
        "$id": f"https://watchkeeper.dev/schema/v{PROTOCOL_VERSION}.json",
        "title": f"watchkeeper protocol v{PROTOCOL_VERSION}",
        "description": "One message: an event (has 'kind') or a control (has 'control').",
        "oneOf": [{"$ref": "#/$defs/EventModel"}, {"$ref": "#/$defs/ControlModel"}],
        "$defs": defs,
    }


def sessions_schema() -> dict[str, Any]:
    """The schema of ``watchkeeper sessions --json`` alone, its root the list (the same ``$defs``)."""
    whole = json_schema()
    return {
        "$schema": DIALECT,
        "$id": f"https://watchkeeper.dev/schema/v{PROTOCOL_VERSION}/sessions.json",
        "title": "watchkeeper sessions --json",
        "$ref": "#/$defs/SessionList",
        "$defs": whole["$defs"],
    }
