"""Agents written with ``watchkeeper.sdk``: they report protocol events themselves, over the relay's websocket.

There is nothing to convert; what is adapter-specific is steering
(``steering``): the per-session state machine the relay's websocket server
drives, as ``claude_code.steering`` is for Claude Code's hooks.
"""
