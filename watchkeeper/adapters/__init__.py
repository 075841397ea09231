"""Sources -> events, and controls -> agents: one module per agent kind or transport.

Parsing is pure (``Converter``: lines in, events out); reading files, sockets
and processes happens at the edges (``tail``, ``discovery``, the hook server).
"""
