"""Span records sent over OTLP/HTTP (protobuf) with the official OpenTelemetry SDK and exporter.

Why ``ReadableSpan`` built here and not a tracer with a custom ``IdGenerator``:
an ``IdGenerator`` is called with no arguments, so it cannot know which event a
span stands for without a side channel (a "next id" set before each
``start_span``), and a tracer also keeps the span's context, sampler and
processor machinery we do not need for spans that ended long ago. A
``ReadableSpan`` takes its trace and span ids, parent, times, attributes,
events and status as given; the SDK's ``OTLPSpanExporter`` then encodes it
(``opentelemetry-exporter-otlp-proto-common``) and posts it with its own retry
and backoff, as for any other SDK span.

The SDK is the optional ``watchkeeper[otel]`` extra: it is imported on first
use, and ``OtelMissing`` says how to install it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..protocol.bounds import valid_text
from .records import CLIENT, SpanRecord, otlp_time

#: The GenAI semantic conventions the spans follow (all of ``gen_ai.*`` is "development" there).
SCHEMA_URL = "https://opentelemetry.io/schemas/1.41.0"
SCOPE = "watchkeeper.export"
#: Spans per OTLP request.
BATCH = 512


class OtelMissing(RuntimeError):
    """The optional OpenTelemetry packages are not installed."""

    def __init__(self, missing: str) -> None:
        super().__init__(
            f"OTLP export needs the OpenTelemetry SDK and its OTLP/HTTP exporter ({missing} is missing): "
            "pip install 'watchkeeper[otel]' (or: pip install opentelemetry-sdk "
            "opentelemetry-exporter-otlp-proto-http)")


def traces_url(url: str) -> str:
    """The traces endpoint of ``url``: ``/v1/traces`` is added unless the path already ends with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--otlp {url!r}: give an http:// or https:// URL (OTLP/HTTP, e.g. http://127.0.0.1:4318)")
    path = parts.path.rstrip("/")
    if not path.endswith("/v1/traces"):
        path += "/v1/traces"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def shown_url(url: str) -> str:
    """``url`` as messages, logs and recordings may show it: without a ``user:password@`` (a live credential:
    the exporter sends it as Basic auth)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, "…@" + parts.netloc.rpartition("@")[2], parts.path, parts.query, ""))


def parse_headers(values: Sequence[str] | None) -> dict[str, str]:
    """``K=V`` strings (``--otlp-header``) as a dict; ValueError names a malformed one."""
    headers: dict[str, str] = {}
    for value in values or ():
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--otlp-header {value.split('=')[0]!r}…: give KEY=VALUE")
        headers[key.strip()] = val.strip()
    return headers


class OtlpSender:
    """Sends span records to one OTLP/HTTP endpoint; counts what was sent and what failed.

    ``send`` blocks (the exporter retries retryable answers for up to ``timeout``
    seconds): call it from a worker thread, never from the relay's or the UI's loop.
    """

    def __init__(self, url: str, headers: Mapping[str, str] | None = None, *, timeout: float = 10.0,
                 service: str = "watchkeeper") -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import Event as SpanEvent
            from opentelemetry.sdk.trace import ReadableSpan
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope
            from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
        except ImportError as e:
            raise OtelMissing(e.name or "opentelemetry") from None
        from .. import __name__ as package

        self.url = traces_url(url)
        self.shown = shown_url(self.url)
        self._exporter = OTLPSpanExporter(endpoint=self.url, headers=dict(headers or {}), timeout=timeout)
        self._resource = Resource.create({"service.name": service, "telemetry.sdk.name": "watchkeeper"},
                                         schema_url=SCHEMA_URL)
        self._scope = InstrumentationScope(SCOPE, _version(package), SCHEMA_URL)
        self._kinds = {CLIENT: SpanKind.CLIENT}
        self._internal = SpanKind.INTERNAL
        self._types = (ReadableSpan, SpanContext, SpanEvent, Status, StatusCode, TraceFlags(TraceFlags.SAMPLED))
        self.sent = 0
        self.failed = 0

    def readable(self, rec: SpanRecord) -> Any:
        """One record as the SDK's ``ReadableSpan``, with its own ids and times."""
        readable_span, span_context, span_event, status, code, sampled = self._types
        context = span_context(rec.trace_id, rec.span_id, is_remote=False, trace_flags=sampled)
        parent = None if rec.parent_id is None else \
            span_context(rec.trace_id, rec.parent_id, is_remote=False, trace_flags=sampled)
        events = [span_event(valid_text(name), _attributes(attrs), otlp_time(at)) for name, at, attrs in rec.events]
        return readable_span(
            name=valid_text(rec.name), context=context, parent=parent, resource=self._resource,
            attributes=_attributes(rec.attributes), events=events, kind=self._kinds.get(rec.kind, self._internal),
            status=status(code.ERROR, valid_text(rec.error) or None) if rec.error is not None else status(code.UNSET),
            start_time=otlp_time(rec.start_ns), end_time=otlp_time(rec.end_ns), instrumentation_scope=self._scope)

    def send(self, records: Sequence[SpanRecord]) -> bool:
        """Send in requests of ``BATCH`` spans; False if any request failed (its spans are counted as failed)."""
        from opentelemetry.sdk.trace.export import SpanExportResult

        ok = True
        for i in range(0, len(records), BATCH):
            chunk = records[i:i + BATCH]
            try:
                result = self._exporter.export([self.readable(r) for r in chunk])
            except Exception:
                result = SpanExportResult.FAILURE
            if result == SpanExportResult.SUCCESS:
                self.sent += len(chunk)
            else:
                self.failed += len(chunk)
                ok = False
        return ok

    def shutdown(self) -> None:
        self._exporter.shutdown()


# One value OTLP cannot carry fails the encoding of the whole request, and the other spans in it with it.
_INT64 = range(-(2**63), 2**63)


def _value(v: Any) -> Any:
    if isinstance(v, str):
        return valid_text(v)
    if isinstance(v, int) and not isinstance(v, bool) and v not in _INT64:
        return str(v)
    if isinstance(v, list | tuple):
        return [_value(x) for x in v]
    return v


def _attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {valid_text(k): _value(v) for k, v in attrs.items()}


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "0"
