"""An OTLP/HTTP receiver inside the test: a real HTTP server on 127.0.0.1 that decodes every request.

Requests are decoded with ``opentelemetry-proto`` (``ExportTraceServiceRequest``),
as a collector would, into plain ``Span`` records (ids as hex, attributes as
Python values), kept in arrival order together with each request's headers.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from waiting import until

#: Span kinds and status codes as OTLP numbers them.
INTERNAL, CLIENT = 1, 3
UNSET, ERROR = 0, 2


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status: int
    status_message: str
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""
    schema_url: str = ""


def value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, which) if which else None


def decode(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for rs in request.resource_spans:
        resource = {kv.key: value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(Span(
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_id=s.parent_span_id.hex() or None, name=s.name, kind=s.kind,
                    start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
                    attributes={kv.key: value(kv.value) for kv in s.attributes},
                    events=[(e.name, {kv.key: value(kv.value) for kv in e.attributes}) for e in s.events],
                    status=s.status.code, status_message=s.status.message, resource=resource,
                    scope=ss.scope.name, schema_url=ss.schema_url or rs.schema_url))
    return spans


class Receiver:
    """``with Receiver() as r``: ``r.url`` takes OTLP/HTTP protobuf; ``r.spans`` is what arrived."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.requests: list[dict[str, str]] = []
        self.changed = threading.Condition()
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                ok = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
                with receiver.changed:
                    receiver.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                    if ok:
                        receiver.spans += decode(body)
                    receiver.changed.notify_all()
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def until(self, check: Callable[[list[Span]], Any], what: str, timeout: float = 30.0) -> Any:
        def probe() -> Any:
            with self.changed:
                return check(list(self.spans))

        return until(probe, what=what, timeout=timeout, condition=self.changed,
                     seen=lambda: [s.name for s in self.spans])

    def named(self, prefix: str) -> Iterator[Span]:
        return (s for s in list(self.spans) if s.name.startswith(prefix))


def by_id(spans: list[Span]) -> dict[str, Span]:
    return {s.span_id: s for s in spans}
