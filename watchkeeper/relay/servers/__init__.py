"""The relay's servers: how agents, viewers and commands reach a relay from outside.

``hookserver`` takes Claude Code's http hooks and the local control API (aiohttp,
loopback only, within ``httplimits``); ``wsserver`` serves viewers (``wsviewer``),
``attach``, ``ctl --relay`` and SDK agents over one websocket port, with the
grace a dropped watcher gets (``watching``) and remote breakpoint requests
(``breakpoint_requests``). All run on the relay's loop.
"""
