"""The ``--otlp…`` flags ``export``, ``watch`` and ``serve`` share, and the sender they describe."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..relay.api import RelayAPI
    from .mapping import Content
    from .otlp import OtlpSender
    from .stream import ContinuousExport

#: Characters of one text kept on a span with ``--otlp-content`` (default).
CONTENT_LIMIT = 4096


def add_otlp_arguments(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    parser.add_argument("--otlp", metavar="URL", required=required, default=None,
                        help="send the sessions as OpenTelemetry GenAI traces to this OTLP/HTTP endpoint "
                             "(e.g. http://127.0.0.1:4318; /v1/traces is added); needs watchkeeper[otel]")
    parser.add_argument("--otlp-header", metavar="K=V", action="append", default=[],
                        help="an HTTP header for the endpoint (repeatable); ps shows it, so keep a secret "
                             "in $OTEL_EXPORTER_OTLP_HEADERS instead")
    parser.add_argument("--otlp-content", action="store_true",
                        help="also send tool arguments and results, deny reasons, injected text and prompts "
                             "(off by default: they may hold secrets)")
    parser.add_argument("--otlp-content-limit", type=int, default=CONTENT_LIMIT, metavar="N",
                        help=f"cut each text sent with --otlp-content to N characters (default {CONTENT_LIMIT})")


def content_of(args: argparse.Namespace) -> Content | None:
    from .mapping import Content

    if not getattr(args, "otlp_content", False):
        return None
    if args.otlp_content_limit < 1:
        raise ValueError("--otlp-content-limit: give a positive number of characters")
    return Content(args.otlp_content_limit)


def sender_of(args: argparse.Namespace) -> OtlpSender:
    """The sender for ``--otlp``; ValueError (a bad flag) or ``otlp.OtelMissing`` say what is wrong."""
    from .otlp import OtlpSender, parse_headers, traces_url

    traces_url(args.otlp)
    content_of(args)
    return OtlpSender(args.otlp, parse_headers(args.otlp_header))


def continuous_export(relay: RelayAPI, args: argparse.Namespace) -> ContinuousExport:
    """``--otlp`` on ``watch`` and ``serve``: the relay's sessions exported as they go (flags checked first)."""
    from .otlp import parse_headers
    from .stream import ContinuousExport

    sender_of(args).shutdown()
    return ContinuousExport(relay, args.otlp, parse_headers(args.otlp_header), content=content_of(args))
