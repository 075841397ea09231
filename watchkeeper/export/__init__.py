"""OpenTelemetry export: sessions as OTel GenAI traces, sent over OTLP/HTTP to a collector or backend.

``mapping`` folds protocol events into finished spans (``records``: plain
data, no OpenTelemetry import; ids from ``ids``); ``otlp`` turns those into the
SDK's spans and sends them with the official OTLP/HTTP exporter (the optional
``watchkeeper[otel]`` extra, imported only when an export runs); ``oneshot``
exports transcript files; ``stream`` exports a running relay's events
continuously, behind its own bounded queue, to ``worker``'s process;
``options`` holds the command-line flags the commands share.
"""
