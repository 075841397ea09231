"""Remote steering holds: the real Claude Code CLI (``watchkeeper run --``) beside ``watchkeeper serve``.

The person watches through ``attach``'s client (a local relay following serve
over websocket) and steers from it or with ``ctl --relay``. A pause holds the
next real tool call at serve's hook endpoint: the command does not run (its
file is not written) until the person decides. Every wait is bounded; nothing
is asserted on time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CLAUDE_VERSIONS
from remote_steering_support import WAIT, Screen, Serve, poll, start_claude, start_serve
from standins.anthropic import ScriptedAnthropic, text, tool_use

pytestmark = pytest.mark.node

NEWEST = CLAUDE_VERSIONS[-1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Serve]:
    s = start_serve(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def screen(served: Serve) -> Iterator[Screen]:
    s = Screen(served)
    yield s
    s.close()


def two_writes() -> list[Any]:
    return [
        [tool_use("Bash", {"command": "echo one > one.txt", "description": "first"})],
        [tool_use("Bash", {"command": "echo two > two.txt", "description": "second"})],
        [text("done")],
    ]


def test_a_pause_from_ctl_relay_holds_the_next_call(served: Serve, screen: Screen, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    with ScriptedAnthropic(two_writes()) as api:
        release = api.hold(turn=1)
        with start_claude(served, NEWEST, api, tmp_path) as proc:
            api.wait_for_request("main", turn=1, timeout=WAIT)
            code, out = served.ctl("pause", proc.session_id)
            assert code == 0 and out.startswith("applied: paused"), out
            assert "nobody" not in out
            release.set()
            (call,) = poll(lambda: served.held(proc.session_id), what="the second call is held")
            assert call == api.tool_use_ids()[1]
            poll(lambda: screen.of(proc.session_id, "tool.waiting"), what="the screen shows the held call")
            assert (cwd / "one.txt").exists() and not (cwd / "two.txt").exists()
            assert proc.running
            code, out = served.ctl("approve", proc.session_id, call)
            assert code == 0 and out.startswith(f"applied [{call}]: approved"), out
            run = proc.wait(60)
    assert run.returncode == 0, run.stderr
    assert (cwd / "two.txt").read_text() == "two\n"
