"""``watchkeeper run --acp -- AGENT [ARGS]``: drive an ACP agent, with the viewer open on its session.

The agent runs as a source of this process's relay (``adapters/acp``), next
to the sessions found on disk, the hook endpoint and the breakpoints, as in
``watchkeeper`` itself; quitting the viewer answers every pending permission
request ``cancelled`` and ends the agent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

#: Seconds to wait for the agent's ACP session before the viewer opens on the sessions list instead.
SESSION_WAIT = 60.0


def run_acp(argv: list[str], prompt: str | None) -> int:
    """Into the running watchkeeper when there is one (its viewer shows the session), else a viewer of its own."""
    from .. import config

    if config.read_runtime() is not None:
        return _into_running(argv, prompt)
    return _with_viewer(argv, prompt)


def _into_running(argv: list[str], prompt: str | None) -> int:
    from ..client import ApiError, api_request

    body = {"argv": argv, "prompt": prompt, "cwd": os.getcwd(), "env": dict(os.environ)}
    try:
        answer = api_request("POST", "/acp", body, timeout=SESSION_WAIT + 10)
    except ApiError as e:
        print(f"watchkeeper run --acp: {e}", file=sys.stderr)
        return 1
    print(f"ACP session {answer.get('session')} runs in the watchkeeper that is open: watch and steer it there "
          "(it ends when that watchkeeper quits, or the agent exits)")
    return 0


def _with_viewer(argv: list[str], prompt: str | None) -> int:

    from ..adapters.acp.source import AcpSource
    from ..adapters.files.discovery import session_roots
    from ..breakpoints import Matcher, relay_facts
    from ..protocol.display import visible_logging
    from ..relay import Relay
    from ..relay.notify import start_notifier
    from ..viewer import WatchkeeperApp
    from .watch import start_steering

    visible_logging()
    roots = session_roots([], defaults=True)
    relay = Relay().start()
    alerts, problem = start_notifier(relay)
    try:
        steer = start_steering(relay)
        steer.notices += [problem] if problem else []
        source = AcpSource(argv, prompt=prompt, env=dict(os.environ),
                           breakpoint=Matcher(steer.breakpoints, relay_facts(relay)) if steer.breakpoints else None)
        relay.add_source(source)
        watch_disk(relay, roots)
        source.ready.wait(SESSION_WAIT)
        if source.session is None:
            print(f"watchkeeper run --acp: {source.error or 'the agent opened no ACP session in time'}",
                  file=sys.stderr)
            return 1
        app = WatchkeeperApp(relay, open_session=source.session, looked_in=[str(r) for r in roots], steer=steer)
        app.run()
    finally:
        if alerts is not None:
            alerts.close()
        relay.stop()
    return app.return_code or 0


def watch_disk(relay: Any, roots: list[Path]) -> None:
    """The sessions on disk, as ``watchkeeper`` finds them, except the ACP sessions' own transcripts."""
    import time

    from ..adapters.acp import transcripts_to
    from ..adapters.files.discovery import find_sessions
    from ..adapters.files.source import DirectorySource, TranscriptSource
    from .watch import FOLLOW_WINDOW

    now = time.time()
    for path, mtime in find_sessions(roots)[:50]:
        relay.add_source(TranscriptSource(path, follow=now - mtime <= FOLLOW_WINDOW))
    relay.add_source(DirectorySource(roots, transcripts_to(relay), existing=False))
