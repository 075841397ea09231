"""What screens and widgets may ask of the app they run in, typed.

Screens sit below the app (the app imports them), so they cannot name
:class:`~watchkeeper.viewer.app.WatchkeeperApp`; they ask :func:`host` for
this protocol instead, which the app implements (mypy checks it there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast, runtime_checkable

from textual.app import App
from textual.screen import Screen

from ..relay.api import RelayAPI, SessionInfo
from .model.control_availability import SteerSetup


@runtime_checkable
class ViewerHost(Protocol):
    relay: RelayAPI
    #: Wall-clock seconds for elapsed times and "3m ago"; the playhead's time in a replay.
    clock: Callable[[], float]
    #: The relay's sessions, as last told.
    sessions: list[SessionInfo]
    steer_setup: SteerSetup

    def open_session(self, session: str) -> Screen[None]: ...


#: App classes found to be hosts: a protocol check costs ~25 µs, and the timeline asks for each line it draws.
_HOSTS: set[type] = set()


def host(app: App[Any]) -> ViewerHost:
    """``app`` as the viewer's host; every viewer screen and widget runs in a WatchkeeperApp."""
    if type(app) not in _HOSTS:
        if not isinstance(app, ViewerHost):
            raise TypeError(f"{type(app).__name__} is not a watchkeeper viewer app")
        _HOSTS.add(type(app))
    return cast(ViewerHost, app)
