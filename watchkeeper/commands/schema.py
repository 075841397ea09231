"""``watchkeeper schema``: print the JSON Schema of the protocol."""

from __future__ import annotations

import argparse
import sys

HELP = "print the JSON Schema of protocol v1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compact", action="store_true", help="one line instead of indented")


def run(args: argparse.Namespace) -> int:
    import orjson

    from ..protocol import json_schema

    opts = orjson.OPT_SORT_KEYS | (0 if args.compact else orjson.OPT_INDENT_2)
    sys.stdout.buffer.write(orjson.dumps(json_schema(), option=opts) + b"\n")
    return 0
