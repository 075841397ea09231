"""watchkeeper: watch AI agents work, replay what they did, and steer them while they run.

The version lives once, in ``pyproject.toml``; ``watchkeeper --version`` reads
it from the installed metadata.
"""
