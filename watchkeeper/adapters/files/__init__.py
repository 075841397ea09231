"""Transcript files, whatever agent wrote them: tailing, tail-first opening, discovery, one-shot conversion.

``tail`` finds complete lines and watches directories; ``index`` finds line
offsets in huge files; ``feed`` reads a file (and a session's files) through
the converter ``registry.detect()`` picks; ``tailfirst`` opens a huge file
from its end; ``source`` turns all this into the relay's live sources;
``discovery`` finds and describes the sessions on this machine. Nothing here
knows a transcript format: that is the per-agent packages' job.
"""
