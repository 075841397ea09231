"""Paths that are not what their names say: a FIFO named like a transcript, a file under a locked directory.

A FIFO must never be opened to wait for a writer: ``events``, ``export`` and the
relay's loop would hang on it. A path the user may not search must get a message
and exit 2, not a traceback. Everything runs for real: FIFOs made with
``os.mkfifo``, the installed command as a subprocess, a relay following the files.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import CC_FIXTURES
from waiting import until

from watchkeeper.adapters.files.source import TranscriptSource
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay

EXE = Path(sys.executable).with_name("watchkeeper")
SESSION = "55550000-0000-4000-8000-000000000173"
SHOP = CC_FIXTURES / "-workspace-shop"
#: Drops root's permission override for the child, so a mode-000 directory locks root out too.
NO_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def watchkeeper(*args: str | Path, home: Path, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "WATCHKEEPER_HOME": str(home / "wk"), "TERM": "dumb"}
    return subprocess.run([*(prefix or []), str(EXE), *map(str, args)], capture_output=True, text=True,
                          timeout=30, env=env, stdin=subprocess.DEVNULL, check=False)


def project(tmp_path: Path) -> Path:
    """A copy of the shop session (main file, subagent file, sidecar) in its own project folder."""
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(SHOP / f"{SESSION}.jsonl", proj)
    shutil.copytree(SHOP / SESSION, proj / SESSION)
    return proj


def event_ids(stdout: str) -> list[str]:
    return [orjson.loads(line)["id"] for line in stdout.splitlines()]


# --- a FIFO named like a subagent file ---------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["subagents/agent-evil.jsonl", "subagents/agent-webagent1.meta.json",
                                   "beside/agent-x1234567.jsonl"])
def test_events_on_a_folder_with_a_fifo_named_like_a_subagent_file_prints_the_real_events(
        tmp_path: Path, where: str) -> None:
    proj = project(tmp_path)
    clean = watchkeeper("events", proj, home=tmp_path)
    assert clean.returncode == 0, clean.stderr
    folder, name = where.split("/")
    fifo = (proj / SESSION / "subagents" if folder == "subagents" else proj) / name
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)

    out = watchkeeper("events", proj, home=tmp_path)
    assert out.returncode == 0, out.stderr
    ids = event_ids(out.stdout)
    assert [i for i in ids if not i.startswith("notice:")] == event_ids(clean.stdout)
    if name == "agent-evil.jsonl":
        notices = [orjson.loads(line)["data"]["text"] for line in out.stdout.splitlines()
                   if orjson.loads(line)["kind"] == "notice"]
        assert notices == [f"{fifo}: not a regular file (a FIFO); not read"], "said, not skipped in silence"


@pytest.mark.timeout(60)
def test_events_on_a_folder_says_a_fifo_named_like_a_session_was_not_read(tmp_path: Path) -> None:
    proj = project(tmp_path)
    clean = watchkeeper("events", proj, home=tmp_path)
    fifo = proj / "5f0e9d1c-0000-4000-8000-000000000001.jsonl"
    os.mkfifo(fifo)
    out = watchkeeper("events", proj, home=tmp_path)
    assert event_ids(out.stdout) == event_ids(clean.stdout), "every other session's events"
    assert out.returncode == 2 and out.stderr.strip() == \
        f"watchkeeper events: cannot read {fifo}: not a regular file (a FIFO)", "said, not skipped in silence"


@pytest.mark.timeout(60)
def test_a_fifo_given_as_the_transcript_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / f"{SESSION}.jsonl"
    os.mkfifo(fifo)
    out = watchkeeper("events", fifo, home=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == f"watchkeeper events: cannot read {fifo}: not a regular file (a FIFO)"
    out = watchkeeper("export", "--otlp", "http://127.0.0.1:9", fifo, home=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == f"watchkeeper export: cannot read {fifo}: not a regular file (a FIFO)"


@pytest.mark.timeout(60)
def test_a_relay_following_a_session_with_a_fifo_subagent_file_still_delivers(tmp_path: Path) -> None:
    proj = project(tmp_path)
    main = proj / f"{SESSION}.jsonl"
    lines = main.read_bytes().splitlines(keepends=True)
    main.write_bytes(b"".join(lines[:-1]))
    fifo = proj / SESSION / "subagents" / "agent-evil.jsonl"
    os.mkfifo(fifo)
    got: list[Event] = []
    inbox: queue.SimpleQueue[list[Event]] = queue.SimpleQueue()

    def drained() -> list[Event]:
        while not inbox.empty():
            got.extend(inbox.get())
        return got

    with Relay() as relay:
        relay.subscribe(inbox.put)
        relay.add_source(TranscriptSource(main, poll_interval=0.1))
        until(lambda: {"webagent1"} <= {e["agent"] for e in drained()}, "the real subagent's events")
        until(lambda: any(e["kind"] == "notice" and str(fifo) in e["data"]["text"] for e in drained()),
              "a notice naming the FIFO")
        before = len(drained())
        with main.open("ab") as f:
            f.write(lines[-1])
        until(lambda: len(drained()) > before, "the line appended after, still followed")
    assert {e["session"] for e in got} == {SESSION}


# --- a path under a directory the user cannot search ----------------------------------


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A mode-000 directory holding a session file, and how to run a command that it locks out."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv is missing: nothing would lock root out")
        prefix = NO_OVERRIDE
    room = tmp_path / "locked"
    room.mkdir()
    shutil.copy(SHOP / f"{SESSION}.jsonl", room / "x.jsonl")
    room.chmod(0)
    try:
        probe = subprocess.run([*prefix, "ls", str(room)], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            pytest.skip("a mode-000 directory is readable here all the same")
        yield room, prefix
    finally:
        room.chmod(0o755)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", [
    ["replay", "{file}"],
    ["{file}"],
    ["export", "--otlp", "http://127.0.0.1:9", "{file}"],
    ["export", "--otlp", "http://127.0.0.1:9", "{dir}"],
    ["serve", "--bind", "127.0.0.1:0", "--no-token", "--no-hooks", "--no-default-roots", "--root", "{sub}"],
    ["watch", "--no-default-roots", "--root", "{sub}"],
    ["--no-default-roots", "--root", "{dir}"],
])
def test_a_path_under_a_locked_directory_is_a_message_not_a_traceback(
        tmp_path: Path, locked: tuple[Path, list[str]], command: list[str]) -> None:
    room, prefix = locked
    words = [w.format(file=room / "x.jsonl", dir=room, sub=room / "sub") for w in command]
    out = watchkeeper(*words, home=tmp_path, prefix=prefix)
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 2, out.stderr
    assert "Permission denied" in out.stderr
    assert out.stderr.startswith("watchkeeper")
