"""``watchkeeper sessions [--json]`` and ``ctl approve|deny SESSION CALL_ID`` as a script runs them.

Everything is real: ``watchkeeper serve`` as a process (its loopback API found
through the config directory, its relay through ``--relay``), a viewer
attached to it (``attach --json``, so calls are held for a person), and an
SDK agent in this process whose approvals wait on the real websocket. The
JSON is checked against the schema ``watchkeeper schema --sessions`` prints.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from test_remote_cli import ROOT, WATCHKEEPER, Lines, free_port
from waiting import until

from watchkeeper import sdk
from watchkeeper.commands.sessions import cells

#: What an agent may write: a clipboard write (OSC 52), a bidi override, a newline, wide characters.
HOSTILE_TITLE = "deploy \x1b]52;c;cm0gLXJmIH4=\x07 \u202eevil\nline two 漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字"
HOSTILE_INPUT = {"cmd": "rm -rf build \x1b[2J", "why": "cleanup"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WATCHKEEPER_HOME": str(home),
            "WATCHKEEPER_PORT": str(free_port()), "HOME": str(home), "COLUMNS": "80"}


@pytest.fixture
def serve(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``watchkeeper serve`` with a recording (observe-only) beside it: (its URL, the recorded session)."""
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    with sdk.Run(sessions / "recorded.jsonl", title="a recorded run") as rec:
        rec.user("hello from the recording")
    port = free_port()
    proc = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-default-roots",
                             "--root", str(sessions)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    out = Lines(proc.stdout)
    try:
        out.until("attach:")
        yield f"ws://127.0.0.1:{port}", rec.session
    finally:
        proc.terminate()
        proc.wait(20)


def wk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WATCHKEEPER, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


async def awk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``wk`` on a thread: the agent's link runs on this loop while the command does."""
    return await asyncio.to_thread(wk, env, *args)


def listing(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    out = wk(env, "sessions", "--json", *args)
    assert out.returncode == 0, out
    rows: list[dict[str, Any]] = orjson.loads(out.stdout)
    return rows


def row(rows: list[dict[str, Any]], session: str) -> dict[str, Any]:
    return next(r for r in rows if r["id"] == session)


def held_ids(env: dict[str, str], session: str, *args: str) -> list[str]:
    return [h["call_id"] for h in row(listing(env, *args), session)["held"]]


async def test_sessions_json_lists_held_calls_by_the_schema_and_ctl_decides_only_what_it_names(
        serve: tuple[str, str], env: dict[str, str]) -> None:
    url, recorded = serve
    token_file = str(Path(env["WATCHKEEPER_HOME"]) / "token")
    relay = ("--relay", url, "--token-file", token_file)
    schema = orjson.loads((await awk(env, "schema", "--sessions")).stdout)
    jsonschema.Draft202012Validator.check_schema(schema)

    run = await sdk.connect(url, token=Path(token_file).read_text().strip(), title=HOSTILE_TITLE, cwd="/srv/app")
    watcher = subprocess.Popen([*WATCHKEEPER, "attach", url, "--json", "--token-file", token_file], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None
        seen = Lines(watcher.stdout)
        run.user("start")
        await run.flush()
        await asyncio.to_thread(seen.until, '"start"')
        first = run.tool_started("shell", HOSTILE_INPUT)
        second = run.tool_started("write", {"path": "/etc/hosts"})
        asking = {cid: asyncio.create_task(run.approval(cid, name=name, input=value, timeout=300))
                  for cid, name, value in ((first, "shell", HOSTILE_INPUT), (second, "write", {"path": "/etc/hosts"}))}
        await asyncio.to_thread(until, lambda: held_ids(env, run.session) == [first, second],
                                what="both calls listed as held", timeout=30)

        for where in ((), relay):
            rows = listing(env, *where)
            jsonschema.validate(rows, schema)
            agent = row(rows, run.session)
            assert (agent["agent"], agent["title"], agent["cwd"]) == ("sdk", HOSTILE_TITLE, "/srv/app"), where
            assert (agent["state"], agent["steerable"], agent["reason"], agent["live"]) == \
                ("waiting", True, None, True), where
            one = agent["held"][0]
            assert (one["call_id"], one["tool"], one["input"], one["why"], one["agent"], one["on_expiry"]) == \
                (first, "shell", HOSTILE_INPUT, "approval", "main", "continue"), where
            assert one["since"] < one["expires_at"] and agent["last_activity"] >= one["since"], where
            observe = row(rows, recorded)
            assert observe["steerable"] is False and "observe-only" in observe["reason"] and observe["held"] == []

        shown = (await awk(env, "sessions")).stdout
        lines = shown.splitlines()
        assert lines[0].split() == ["SESSION", "AGENT", "STATE", "LAST", "STEER", "TITLE"]
        assert all(cells(line) <= 80 for line in lines), shown
        assert "\x1b" not in shown and "\u202e" not in shown and "␛]52;c;" in shown, shown
        mine = next(i for i, line in enumerate(lines) if line.startswith(run.session[:8]))
        assert lines[mine].split()[1:3] == ["sdk", "waiting"] and "yes" in lines[mine].split()
        assert lines[mine + 1].startswith(f"  held {first}  shell  approval") and "continues in" in lines[mine + 1]
        assert lines[mine + 2].startswith(f"  held {second}  write  approval")

        for where in ((), relay):
            refused = await awk(env, "ctl", "approve", run.session[:8], *where)
            assert refused.returncode == 1, refused
            assert f"holds 2 calls: {first}, {second}" in refused.stderr and "CALL_ID" in refused.stderr
            assert refused.stdout == ""
        assert held_ids(env, run.session) == [first, second], "a refused ctl decides nothing"
        assert not any(task.done() for task in asking.values())

        named = await awk(env, "ctl", "approve", run.session, second, *relay)
        assert named.returncode == 0 and named.stdout.startswith(f"applied [{second}]: approved"), named
        assert (await asyncio.wait_for(asking[second], 10)).verdict == "approve"
        assert not asking[first].done()
        only = await awk(env, "ctl", "deny", run.session, "--reason", "not now")
        assert only.returncode == 0 and only.stdout.startswith(f"applied [{first}]: denied"), only
        decided = await asyncio.wait_for(asking[first], 10)
        assert (decided.verdict, decided.reason) == ("deny", "not now")
        assert row(listing(env), run.session)["held"] == []
        for where in ((), relay):
            # Nothing held: sent unnamed, it would decide whichever call came next, one nobody saw.
            nothing = await awk(env, "ctl", "approve", run.session, *where)
            assert nothing.returncode == 1 and "holds no call: nothing to approve" in nothing.stderr, nothing
    finally:
        watcher.terminate()
        watcher.wait(20)
        await run.close()

    await asyncio.to_thread(until, lambda: row(listing(env), run.session)["state"] == "finished",
                            what="the ended session listed as finished", timeout=30)
    ended = row(listing(env), run.session)
    assert ended["steerable"] is False and ended["reason"].startswith("the session ended"), ended
    late = await awk(env, "ctl", "approve", run.session, *relay)
    assert late.returncode == 1 and "the session ended" in late.stdout, late
    assert "checkpoints" not in late.stdout


def test_sessions_says_when_no_watchkeeper_runs(env: dict[str, str]) -> None:
    out = wk(env, "sessions", "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert "watchkeeper sessions:" in out.stderr
