"""The subcommands of ``watchkeeper``, one module each (see ``watchkeeper.cli``)."""
