"""The hub every face uses (the TUI, ``serve``, ``events --follow``).

It runs on its own event-loop thread, so a busy UI never stalls an agent or a
tail. See ``api.py`` for the contract the viewer and the servers rely on.
"""
