"""What ``watchkeeper demo`` plays, shipped inside the package so an installed copy has it.

``sample_logs/`` holds the project's own recordings, written by the real
programs (``tools/regen_*.py`` rewrite them); ``scripted_agent`` is the small
``watchkeeper.sdk`` agent the demo runs live, to be steered. Read the
recordings through :func:`sample_logs`, never by a path relative to the
source tree.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def sample_logs() -> Traversable:
    """The demo's recordings: one directory per agent kind, as the readers find them on disk."""
    return files(__name__) / "sample_logs"
