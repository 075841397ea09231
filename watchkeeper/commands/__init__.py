"""The subcommands of ``watchkeeper``, one module each (see ``watchkeeper.cli``).

No command module imports another: what several need of a running watchkeeper
(its loopback API, a remote relay's control path) is in ``watchkeeper.client``.
"""
