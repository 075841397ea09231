"""The scripted example agent lives in the package, where ``watchkeeper demo`` runs it from:
``watchkeeper/demo/scripted_agent.py`` (read it there). This runs it, as
``python -m watchkeeper.demo.scripted_agent`` does::

    watchkeeper serve &                      # prints the URL and the token file
    python examples/scripted_agent.py        # defaults: loopback, this machine's token
    watchkeeper attach ws://127.0.0.1:47718  # then pause it, deny its edit, send it a message
"""

import asyncio
import sys

from watchkeeper.demo.scripted_agent import main

if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
