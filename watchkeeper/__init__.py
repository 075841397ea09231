"""watchkeeper: watch AI agents work, replay what they did, and steer them while they run.

The layers, lowest first; each imports only its own and lower ones, with no
circles (``tests/test_layering.py``): ``protocol`` (events and controls, pure
data), ``credentials`` and ``retention`` (the one ``gc.freeze`` policy);
``config``, ``breakpoints``, ``guard``, ``reconnect`` and ``sdk`` (the SDK
imports only the protocol, its reconnect loop and the config paths, and ships
alone as ``watchkeeper-sdk``); ``adapters`` (agents' files and sockets ->
events); ``relay`` (the hub and its servers); ``viewer`` (the Textual app) and
``demo``; ``client`` (a running watchkeeper, as commands reach it);
``commands`` (one module per subcommand); ``cli``.

The version lives once, in ``pyproject.toml``; ``watchkeeper --version`` reads
it from the installed metadata.
"""
