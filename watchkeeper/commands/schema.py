"""``watchkeeper schema``: print the JSON Schema of the protocol (``--sessions``: of ``sessions --json``)."""

from __future__ import annotations

import argparse
import sys

HELP = "print the JSON Schema of protocol v1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compact", action="store_true", help="one line instead of indented")
    parser.add_argument("--sessions", action="store_true",
                        help="the schema of `watchkeeper sessions --json` (its root the list)")


def run(args: argparse.Namespace) -> int:
    import orjson

    from ..protocol import json_schema
    from ..protocol.schema import sessions_schema

    opts = orjson.OPT_SORT_KEYS | (0 if args.compact else orjson.OPT_INDENT_2)
    schema = sessions_schema() if args.sessions else json_schema()
    sys.stdout.buffer.write(orjson.dumps(schema, option=opts) + b"\n")
    return 0
