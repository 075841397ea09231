"""``watchkeeper events``, run as a subprocess on real files.

Every wait on the process is bounded; a test that hits a bound fails instead of hanging.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from conftest import CC_FIXTURES, CODEX_FIXTURES

from watchkeeper.adapters.files.feed import convert_file
from watchkeeper.protocol import encode_line, make_event

ROOT = Path(__file__).resolve().parent.parent
WATCHKEEPER = str(ROOT / ".venv" / "bin" / "watchkeeper")
WAIT = 30.0

CC_SESSION = CC_FIXTURES / "-home-dev-project" / "78d01735-0000-49d5-a966-000000000197.jsonl"


def events_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([WATCHKEEPER, "events", *args], capture_output=True, timeout=WAIT, check=False)


def parse(stdout: bytes) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def check_numbering(events: list[dict]) -> None:
    """seq counts 0, 1, 2, … per session, one epoch for the run, no id twice in a session."""
    assert len({e["epoch"] for e in events}) == 1
    by_session: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        by_session[e["session"]].append(e)
    for evs in by_session.values():
        assert [e["seq"] for e in evs] == list(range(len(evs)))
        assert len({e["id"] for e in evs}) == len(evs)


def test_a_claude_code_session_with_its_subagent() -> None:
    path = CC_SESSION
    r = events_cli(str(path))
    assert r.returncode == 0, r.stderr
    events = parse(r.stdout)
    check_numbering(events)
    expected = list(dict.fromkeys(e["id"] for e in convert_file(path)))
    assert [e["id"] for e in events] == expected
    kinds = {e["kind"] for e in events}
    assert {"session.started", "message.user", "tool.started", "tool.finished", "agent.started"} <= kinds
    assert len({e["agent"] for e in events}) == 2, "the subagent file is read with the session"
    assert all(e["v"] == 1 for e in events)


def test_a_directory_means_every_session_under_it() -> None:
    r = events_cli(str(CODEX_FIXTURES))
    assert r.returncode == 0, r.stderr
    events = parse(r.stdout)
    check_numbering(events)
    rollouts = list(CODEX_FIXTURES.rglob("*.jsonl"))
    expected = {e["session"] for p in rollouts for e in convert_file(p)}
    assert {e["session"] for e in events} == expected
    assert len(expected) == len(rollouts) == 3


@pytest.mark.corpus
def test_every_corpus_transcript_through_the_cli(samples: Path) -> None:
    for root in (samples / "claude-code" / "projects", samples / "codex"):
        r = events_cli(str(root))
        assert r.returncode == 0, r.stderr
        events = parse(r.stdout)
        check_numbering(events)
        assert "raw" not in {e["kind"] for e in events}
        sessions = [p for p in root.rglob("*.jsonl") if not p.name.startswith("agent-")]
        assert len({e["session"] for e in events if e["kind"] == "session.started"}) == len(sessions)


def test_garbage_lines_come_out_as_raw_events(tmp_path: Path) -> None:
    lines = CC_SESSION.read_bytes().splitlines(keepends=True)
    garbage = [b"{this is not json\n", b"\x00\xff\xfe binary junk\n",
               b'{"type": "from-the-future", "x": 1}\n']
    mixed = lines[:3] + garbage[:2] + lines[3:] + garbage[2:] + [b'{"half": "a line with no newl']
    path = tmp_path / CC_SESSION.name
    path.write_bytes(b"".join(mixed))
    r = events_cli(str(path))
    assert r.returncode == 0, r.stderr
    events = parse(r.stdout)
    check_numbering(events)
    raws = [e for e in events if e["kind"] == "raw"]
    text = orjson.dumps([e["data"]["record"] for e in raws]).decode()
    assert "{this is not json" in text
    assert "binary junk" in text
    assert "from-the-future" in text
    assert "a line with no newl" in text
    assert {"tool.started", "tool.finished"} <= {e["kind"] for e in events}


def test_an_event_too_deep_for_a_frame_comes_out_fitted(tmp_path: Path) -> None:
    """Nested just deep enough to encode alone but not inside a frame's two lists (orjson stops at 255
    levels): the line must be what a relay could send on, fitted, not the event as it came."""
    def nested(depth: int) -> object:
        value: object = "bottom"
        for _ in range(depth):
            value = [value]
        return value

    depth = next(d for d in range(200, 260)
                 if not _encodes([[make_event("deep:1", "deep", "message.user", {"text": "x", "extra": nested(d)})]]))
    event = make_event("deep:1", "deep", "message.user", {"text": "x", "extra": nested(depth)})
    assert _encodes(event), "the event itself must encode: only its frame may not"
    path = tmp_path / "deep.jsonl"
    path.write_bytes(orjson.dumps(event) + b"\n")
    r = events_cli(str(path))
    assert r.returncode == 0, r.stderr
    (out,) = parse(r.stdout)
    assert out["id"] == "deep:1"
    assert _encodes([[out]]), "the line written cannot go into a frame"


def _encodes(value: object) -> bool:
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return False
    return True


def test_missing_path_exits_2_with_a_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "session.jsonl"
    for args in ([str(missing)], [str(missing), "--follow"]):
        r = events_cli(*args)
        assert r.returncode == 2
        assert r.stdout == b""
        assert str(missing) in r.stderr.decode()
        assert b"Traceback" not in r.stderr


def _line_reader(proc: subprocess.Popen[bytes]) -> queue.Queue[bytes]:
    lines: queue.Queue[bytes] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _take(lines: queue.Queue[bytes], n: int) -> list[dict]:
    return [orjson.loads(lines.get(timeout=WAIT)) for _ in range(n)]


def test_follow_prints_events_as_the_file_grows(tmp_path: Path) -> None:
    path = tmp_path / "live-session.jsonl"
    evs = [make_event(f"ev:{i}", "live-session", "message.user", {"text": f"prompt {i}"},
                      ts=f"2026-11-27T10:00:{i:02d}.000Z") for i in range(9)]
    path.write_bytes(b"".join(encode_line(e) for e in evs[:4]))
    proc = subprocess.Popen([WATCHKEEPER, "events", str(path), "--follow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _line_reader(proc)
        first = _take(lines, 4)
        assert [e["id"] for e in first] == ["ev:0", "ev:1", "ev:2", "ev:3"]
        with path.open("ab") as f:
            f.write(encode_line(evs[4]) + encode_line(evs[5]))
            f.flush()
            half = encode_line(evs[6])
            f.write(half[:20])
            f.flush()
            mid = _take(lines, 2)
            assert [e["id"] for e in mid] == ["ev:4", "ev:5"]
            f.write(half[20:] + b"garbage appended live\n" + encode_line(evs[7]))
            f.flush()
        more = _take(lines, 3)
        assert [e["kind"] for e in more] == ["message.user", "raw", "message.user"]
        assert [e["id"] for e in more][::2] == ["ev:6", "ev:7"]
        everything = first + mid + more
        assert [e["seq"] for e in everything] == list(range(9))
        assert {e["epoch"] for e in everything} == {first[0]["epoch"]}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
        assert _rest(lines) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
    assert b"Traceback" not in stderr


def _rest(lines: queue.Queue[bytes]) -> list[bytes]:
    """What the process printed and the test has not taken yet."""
    out = []
    while not lines.empty():
        out.append(lines.get_nowait())
    return out


def test_follow_a_directory_picks_up_a_new_session(tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    old.write_bytes(encode_line(make_event("o:1", "old", "message.user", {"text": "old"})))
    proc = subprocess.Popen([WATCHKEEPER, "events", str(tmp_path), "-f"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        lines = _line_reader(proc)
        assert [e["id"] for e in _take(lines, 1)] == ["o:1"]
        new = tmp_path / "new.jsonl"
        new.write_bytes(encode_line(make_event("n:1", "new", "message.user", {"text": "new"})))
        (e,) = _take(lines, 1)
        assert (e["id"], e["session"], e["seq"]) == ("n:1", "new", 0)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)


def test_follow_stops_on_sigint_even_when_started_with_it_ignored(tmp_path: Path) -> None:
    """A background job starts with SIGINT ignored; Ctrl-C (or a script's SIGINT) must still stop ``--follow``."""
    path = tmp_path / "live-session.jsonl"
    path.write_bytes(encode_line(make_event("ev:0", "live-session", "message.user", {"text": "prompt"})))
    proc = subprocess.Popen([WATCHKEEPER, "events", str(path), "--follow"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        lines = _line_reader(proc)
        assert [e["id"] for e in _take(lines, 1)] == ["ev:0"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)


#: ``events --follow`` in a process whose TERM another of its threads takes (the kernel gives a process's
#: signal to any thread that does not block it): sent by this script once a line comes on stdin.
SIGNAL_TO_ANOTHER_THREAD = """
import signal, sys, threading
from watchkeeper.cli import main

def when_asked():
    sys.stdin.readline()
    here = threading.current_thread()
    other = next(t for t in threading.enumerate() if t is not threading.main_thread() and t is not here)
    signal.pthread_kill(other.ident, signal.SIGTERM)

threading.Thread(target=when_asked, daemon=True).start()
sys.exit(main(['events', sys.argv[1], '--follow']))
"""


def test_follow_ends_cleanly_when_another_thread_takes_the_signal(tmp_path: Path) -> None:
    """The main thread then runs the handler wherever it is once its wait times out: it exited 130, with the
    rest unwritten, when the handler's exception landed on the loop's jump back, outside the ``try``."""
    path = tmp_path / "live-session.jsonl"
    path.write_bytes(encode_line(make_event("ev:0", "live-session", "message.user", {"text": "prompt"})))
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-c", SIGNAL_TO_ANOTHER_THREAD, str(path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _line_reader(proc)
        assert [e["id"] for e in _take(lines, 1)] == ["ev:0"]
        assert proc.stdin is not None
        proc.stdin.write(b"now\n")
        proc.stdin.flush()
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)


def convert_in_a_new_process(script: str) -> subprocess.CompletedProcess[bytes]:
    """``script`` (what it reports at exit goes to stderr), then ``events`` on the Claude Code session, in a
    fresh interpreter: what a one-shot conversion loads is that process's."""
    script += f"sys.exit(main(['events', {str(CC_SESSION)!r}]))\n"
    r = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", script], capture_output=True,
                       timeout=WAIT, check=False)
    assert r.returncode == 0, r.stderr
    assert parse(r.stdout), "it converted the session"
    return r


def test_a_one_shot_conversion_starts_without_the_protocol_models() -> None:
    """``events`` converts and numbers without building a pydantic model (~55 ms of its start-up): the
    protocol, the relay and the converter load them only when a name that needs them is used. Nor does it
    load asyncio or watchfiles (~17 ms), which only following a file needs (``adapters/files/watch.py``)."""
    script = (
        "import atexit, sys\n"
        "from watchkeeper.cli import main\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules if m.startswith(("
        "'pydantic', 'watchkeeper.protocol.models', 'watchkeeper.relay.hub', 'watchfiles', 'asyncio'))),"
        " file=sys.stderr))\n"
    )
    r = convert_in_a_new_process(script)
    assert r.stderr.decode().split() == ["[]"], r.stderr


def test_a_one_shot_conversion_loads_no_other_command_and_leaves_the_collector_as_it_was() -> None:
    """``events`` builds the parser of its own command only (importing the other commands cost ~10 ms of
    its start-up), and the young-collection threshold it raises while converting is put back."""
    script = (
        "import atexit, gc, sys\n"
        "from watchkeeper.cli import COMMANDS, main\n"
        "before = gc.get_threshold()\n"
        "atexit.register(lambda: print(sorted(m for m in COMMANDS.values() if m in sys.modules),"
        " gc.get_threshold() == before, file=sys.stderr))\n"
    )
    r = convert_in_a_new_process(script)
    assert r.stderr.decode().split() == ["['watchkeeper.commands.events']", "True"], r.stderr


def test_an_unknown_command_still_lists_every_command() -> None:
    r = subprocess.run([WATCHKEEPER, "no-such-command"], capture_output=True, timeout=WAIT, check=False)
    assert r.returncode == 2
    assert b"'events'" in r.stderr and b"'watch'" in r.stderr and b"'export'" in r.stderr, r.stderr
