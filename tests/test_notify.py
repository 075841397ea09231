"""``notify_command``: a real command run on every hold, its fields sanitized, never through a shell.

The command is a small Python script written to ``tmp_path`` that appends its
argv and its ``WATCHKEEPER_*`` environment to a file, as JSON; the tests wait
on that file. Holds come from a real relay (a live hooked source, as the hook
endpoint reports them) and, end to end, from an SDK agent over the real
websocket of a ``watchkeeper serve`` process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_steering_support import start_serve
from remote_support import Attached
from test_tui_steering_unit import LiveHooked
from test_viewer_support import Events
from waiting import until, until_async

from watchkeeper import config, sdk
from watchkeeper.protocol import Event
from watchkeeper.relay import Relay
from watchkeeper.relay.notify import MAX_FIELD, Notifier, command_for, sanitize, start_notifier

RECORDER = """\
import json, os, sys, time
log, mode = sys.argv[1], sys.argv[2]
with open(log, "a") as f:
    f.write(json.dumps({"argv": sys.argv[3:], "pid": os.getpid(),
                        "env": {k: v for k, v in os.environ.items() if k.startswith("WATCHKEEPER")}}) + "\\n")
if mode == "fail" and "{tool}" != sys.argv[3]:
    print("the webhook said 503", file=sys.stderr)
    sys.exit(3)
if mode == "slow":
    time.sleep(120)
if mode == "gate":
    gate = log + ".go"
    for _ in range(1200):
        if os.path.exists(gate):
            break
        time.sleep(0.05)
"""

HOSTILE = "$(touch {sentinel}) `id` \x1b]0;owned\x07\x1b[31mred\x1b[0m\nrm -rf ~ {session} \u202eevil\r\n"


class Recorder:
    def __init__(self, tmp: Path, mode: str = "ok") -> None:
        self.script = tmp / "recorder.py"
        self.script.write_text(RECORDER)
        self.log = tmp / "alerts.jsonl"
        self.mode = mode

    def argv(self, *items: str) -> list[str]:
        return [sys.executable, str(self.script), str(self.log), self.mode, *items]

    def runs(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.endswith("}")]

    def until_runs(self, n: int) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            runs = self.runs()
            return runs if len(runs) >= n else None

        return until(enough, f"{n} runs of the command", seen=self.runs)

    def open_gate(self) -> None:
        Path(str(self.log) + ".go").touch()


@pytest.fixture
def relay() -> Iterator[Relay]:
    r = Relay().start()
    yield r
    r.stop()


def hold(e: Events, call_id: str, name: str, input: Any, **data: Any) -> Event:
    return e.ev("tool.waiting", {"call_id": call_id, "name": name, "input": input, "reason": "breakpoint",
                                 "why": "breakpoint", **data}, id=f"tool:{call_id}:waiting")


def held_session(session: str, title: str, *holds: tuple[str, str, Any]) -> list[Event]:
    e = Events(session)
    out = e.started(title)
    for call_id, name, input in holds:
        out += [e.call_start(call_id, name, input), hold(e, call_id, name, input, rule="rm -rf")]
    return out


def notices(relay: Relay, session: str, code: str | None = None) -> list[Event]:
    return [e for e in relay.read_range(session, 0, 2**62)
            if e["kind"] == "notice" and (code is None or e["data"].get("code") == code)]


def test_hostile_fields_arrive_literal_and_sanitized_as_arguments_and_environment(
        relay: Relay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_TOKEN", "the-person-s-secret")
    sentinel = tmp_path / "pwned"
    text = HOSTILE.format(sentinel=sentinel, session="{session}") + "x" * 5000
    rec = Recorder(tmp_path)
    argv = rec.argv("{tool}", "{summary}", "{title}", "{why}", "{session}", "{expires_at}", "at {expiry}!",
                    "{unknown}")
    notifier = Notifier(argv, relay.notice, relay.session).subscribe(relay)
    try:
        relay.add_source(LiveHooked(held_session("s-hostile", "Title\x1b[2J\n" + text,
                                                 ("toolu_1", "Bash\x07", {"command": text}))))
        run = rec.until_runs(1)[0]
    finally:
        notifier.close()
    tool, summary, title, why, session, expires, expiry, unknown = run["argv"]
    assert (tool, why, session, expires, expiry, unknown) == (
        "Bash", "breakpoint «rm -rf»", "s-hostile", "", "at waits for you!", "{unknown}")
    for value in (summary, title):
        assert len(value) <= MAX_FIELD and value.endswith("…")
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in value), repr(value)
        assert f"$(touch {sentinel}) `id` ]0;owned[31mred[0m rm -rf ~ {{session}} evil" in value
    assert summary.startswith("$(touch ") and title.startswith("Title[2J $(touch ")
    assert not sentinel.exists()
    env = run["env"]
    assert "WATCHKEEPER_TOKEN" not in env
    assert (env["WATCHKEEPER_SUMMARY"], env["WATCHKEEPER_TITLE"], env["WATCHKEEPER_TOOL"]) == (summary, title, "Bash")
    assert (env["WATCHKEEPER_SESSION"], env["WATCHKEEPER_CALL_ID"], env["WATCHKEEPER_RULE"]) == (
        "s-hostile", "toolu_1", "rm -rf")


def test_a_countdown_hold_passes_when_it_expires_and_what_happens_then(relay: Relay, tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    notifier = Notifier(rec.argv("{expires_at}", "{expiry}"), relay.notice, relay.session).subscribe(relay)
    e = Events("s-timed")
    events = [*e.started("Deploy"), e.call_start("toolu_t", "Bash", {"command": "make deploy"}),
              hold(e, "toolu_t", "Bash", {"command": "make deploy"}, why="permission", reason="permission",
                   expires_at="2026-11-27T18:10:00.000Z", on_expiry="deny")]
    try:
        relay.add_source(LiveHooked(events))
        run = rec.until_runs(1)[0]
    finally:
        notifier.close()
    assert run["argv"] == ["2026-11-27T18:10:00.000Z", "is denied at 2026-11-27T18:10:00.000Z"]
    assert run["env"]["WATCHKEEPER_WHY"] == "needs permission"


def test_a_failing_command_is_reported_once_and_still_runs_for_each_hold(relay: Relay, tmp_path: Path) -> None:
    rec = Recorder(tmp_path, mode="fail")
    notifier = Notifier(rec.argv("{tool}"), relay.notice, relay.session, running=1).subscribe(relay)
    try:
        relay.add_source(LiveHooked(held_session("s-fail", "Build", ("toolu_1", "Bash", {"command": "a"}),
                                                 ("toolu_2", "Bash", {"command": "b"}),
                                                 ("toolu_3", "{tool}", {"command": "c"}))))
        rec.until_runs(3)  # one worker: the first two have failed and been reported when the third runs
        relay.notice("s-fail", "marker", "marker")
        until(lambda: notices(relay, "s-fail", "marker"), "the marker notice")
    finally:
        notifier.close()
    failed = notices(relay, "s-fail", "notify-failed")
    assert [n["data"]["text"] for n in failed] == ["notify_command exited with 3: the webhook said 503"]
    assert failed[0]["data"]["level"] == "warning"


def test_a_command_that_cannot_start_is_reported(relay: Relay, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-notifier")
    notifier = Notifier([missing, "{tool}"], relay.notice, relay.session).subscribe(relay)
    try:
        relay.add_source(LiveHooked(held_session("s-missing", "Build", ("toolu_1", "Bash", {"command": "a"}))))
        failed = until(lambda: notices(relay, "s-missing", "notify-failed"), "the notice")
    finally:
        notifier.close()
    assert failed[0]["data"]["text"] == f"notify_command could not start {missing!r}: No such file or directory"


def test_a_slow_command_never_stalls_the_relay_and_is_stopped_and_reported(relay: Relay, tmp_path: Path) -> None:
    rec = Recorder(tmp_path, mode="slow")
    notifier = Notifier(rec.argv("{tool}"), relay.notice, relay.session, timeout=2.0).subscribe(relay)
    try:
        relay.add_source(LiveHooked(held_session("s-slow", "Build", ("toolu_1", "Bash", {"command": "a"}))))
        pid = rec.until_runs(1)[0]["pid"]
        # While the command sleeps, the relay goes on: another session's events arrive.
        relay.add_source(LiveHooked(Events("s-other").started("Meanwhile")))
        until(lambda: relay.session("s-other"), "the other session, while the command runs")
        slow = until(lambda: notices(relay, "s-slow", "notify-slow"), "the notice that the command was stopped")
        until(lambda: not _alive(pid), "the slow command killed")
    finally:
        notifier.close()
    assert slow[0]["data"]["text"].startswith("notify_command took longer than 2s and was stopped")


def test_holds_beyond_the_queue_are_dropped_and_that_is_said_once(relay: Relay, tmp_path: Path) -> None:
    rec = Recorder(tmp_path, mode="gate")
    notifier = Notifier(rec.argv("{call_id}"), relay.notice, relay.session, running=1, queued=1).subscribe(relay)
    calls = [(f"toolu_{n}", "Bash", {"command": f"echo {n}"}) for n in range(6)]
    try:
        relay.add_source(LiveHooked(held_session("s-many", "Build", *calls)))
        dropped = until(lambda: notices(relay, "s-many", "notify-dropped"), "the dropped notice")
        rec.open_gate()
        rec.until_runs(1)
        relay.notice("s-many", "marker", "marker")
        until(lambda: notices(relay, "s-many", "marker"), "the marker notice")
    finally:
        notifier.close()
    assert len(dropped) == 1 and "more than 1 holds waiting" in dropped[0]["data"]["text"]
    assert 1 <= len(rec.runs()) <= 2


def test_a_call_decided_before_its_turn_is_not_announced(relay: Relay, tmp_path: Path) -> None:
    rec = Recorder(tmp_path, mode="gate")
    notifier = Notifier(rec.argv("{call_id}"), relay.notice, relay.session, running=1).subscribe(relay)
    e = Events("s-decided")
    events = [*e.started("Build"), e.call_start("toolu_a", "Bash", {"command": "a"}),
              hold(e, "toolu_a", "Bash", {"command": "a"}), e.call_start("toolu_b", "Bash", {"command": "b"}),
              hold(e, "toolu_b", "Bash", {"command": "b"}), e.call_end("toolu_b"),
              e.call_start("toolu_c", "Bash", {"command": "c"}), hold(e, "toolu_c", "Bash", {"command": "c"})]
    try:
        relay.add_source(LiveHooked(events))
        rec.until_runs(1)
        rec.open_gate()
        runs = rec.until_runs(2)
    finally:
        notifier.close()
    assert [r["argv"] for r in runs] == [["toolu_a"], ["toolu_c"]]


def test_placeholders_are_replaced_in_one_pass_and_fields_are_bounded() -> None:
    values = {"session": "{tool}", "tool": "Bash"}
    assert command_for(["x-{session}-{tool}", "{tool}{tool}", "{ session}"], values) == [
        "x-{tool}-Bash", "BashBash", "{ session}"]
    assert sanitize("a\x1b[1mb\tc\n\nd\u2028e\x00f\x9bg") == "a[1mb c d efg"
    assert sanitize("y" * 500) == "y" * (MAX_FIELD - 1) + "…"
    assert sanitize(None) == ""


def test_the_config_names_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path))
    assert config.notify_command() is None
    path = tmp_path / "config.toml"
    path.write_text('notify_command = ["notify-send", "watchkeeper", "{tool}: {why}"]\n')
    assert config.notify_command() == ["notify-send", "watchkeeper", "{tool}: {why}"]
    path.write_text('notify_command = "notify-send held"\n')
    with pytest.raises(ValueError, match="must be a list of non-empty strings"):
        config.notify_command()
    relay = Relay().start()
    try:
        alerts, problem = start_notifier(relay)
    finally:
        relay.stop()
    assert alerts is None and problem is not None and problem.startswith(f"no alerts: {path}: notify_command")


async def test_serve_runs_the_command_when_an_sdk_agent_waits_for_approval(tmp_path: Path) -> None:
    """End to end: ``watchkeeper serve`` reads the config and alerts on a hold made over the websocket."""
    rec = Recorder(tmp_path)
    home = tmp_path / "wk-config"
    home.mkdir(mode=0o700)
    argv = json.dumps(rec.argv("{title}", "{tool}", "{summary}", "{why}"))
    (home / "config.toml").write_text(f"notify_command = {argv}\n")
    served = await asyncio.to_thread(start_serve, tmp_path)
    viewer = Attached(served.url, token=served.token)
    run = await sdk.connect(served.url, token=served.token, title="Ship it")
    try:
        await until_async(lambda: viewer.relay.session(run.session), what="the viewer watches the session")
        call = run.tool_started("shell", {"cmd": "git push --force"})
        asking = asyncio.create_task(run.approval(call, name="shell", input={"cmd": "git push --force"}))
        runs = await asyncio.to_thread(rec.until_runs, 1)
        assert runs[0]["argv"] == ["Ship it", "shell", "git push --force", "approval"]
        outcome = viewer.relay.control({"id": "c-1", "session": run.session, "control": "approve", "call_id": call,
                                        "by": "test"})
        assert (await asyncio.wrap_future(outcome))["kind"] == "control.applied"
        assert (await asyncio.wait_for(asking, 20)).verdict == "approve"
    finally:
        await run.close()
        viewer.stop()
        served.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def readme_commands() -> list[list[str]]:
    """The ``notify_command`` examples of the README, as the config reads them."""
    import tomllib

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]
    return [tomllib.loads(b)["notify_command"] for b in blocks if b.startswith("notify_command")]


def test_the_readme_s_notify_send_example_runs(relay: Relay, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``notify-send`` as a recorder on PATH: the README's argv, with the fields in place."""
    argv = next(c for c in readme_commands() if c[0] == "notify-send")
    rec = Recorder(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "notify-send"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} {rec.script} {rec.log} ok \"$@\"\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    notifier = Notifier(argv, relay.notice, relay.session).subscribe(relay)
    try:
        relay.add_source(LiveHooked(held_session("s-readme", "Clean up", ("toolu_1", "Bash",
                                                                          {"command": "rm -rf build"}))))
        run = rec.until_runs(1)[0]
    finally:
        notifier.close()
    assert run["argv"] == ["--app-name=watchkeeper", "watchkeeper: Bash is held",
                           "Clean up: rm -rf build — breakpoint «rm -rf»; waits for you"]


def test_the_readme_s_webhook_example_posts_with_curl(relay: Relay, tmp_path: Path) -> None:
    """The README's ``curl`` argv against a webhook on 127.0.0.1; a field starting with ``@`` stays text."""
    import http.server
    import threading

    got: list[tuple[str, bytes]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append((self.headers.get("Title", ""), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret.txt"
    secret.write_text("do not send me")
    argv = next(c for c in readme_commands() if c[0] == "curl")
    argv = [f"http://127.0.0.1:{server.server_port}/topic" if a.startswith("https://") else a for a in argv]
    notifier = Notifier(argv, relay.notice, relay.session).subscribe(relay)
    try:
        relay.add_source(LiveHooked(held_session("s-hook", f"@{secret}", ("toolu_1", "Bash",
                                                                          {"command": "make\r\nTitle: x"}))))
        until(lambda: got, "the webhook's request")
    finally:
        notifier.close()
        server.shutdown()
    assert got == [("watchkeeper: Bash is held",
                    f"held: @{secret}: make Title: x (breakpoint «rm -rf»; waits for you)".encode())]
