"""Sources -> events, and controls -> agents.

One package per agent kind (``claude_code/``, ``codex/``, ``sdk_agent/``;
watchkeeper's own recordings in ``native.py``), transcript readers found
through ``registry.py``; the file plumbing every agent's transcripts share in
``files/``; a remote relay followed as a source in ``remote/``. What a
converter and a source are, and the optional abilities of a source, are in
``base.py``.

Parsing is pure (a ``Converter``: lines in, events out); reading files,
sockets and processes happens at the edges (``files/``, ``remote/``, the
relay's hook server).
"""
