"""Scoped credentials over real loopback servers: what a hook credential and a person token can each do.

A hook credential (what an agent is given) reaches ``/hook`` only, and a
``run`` session's only for the session it first carried; ``/control``,
``/sessions``, the websocket (viewers, ``ctl --relay``, SDK agents) refuse it.
A person token steers, and a named one is recorded by its name. ``run`` hands
the agent a fresh hook credential and never the person's token; ``hooks
install`` references its own. The built-in breakpoint cannot be removed.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from remote_support import Served
from waiting import until

from watchkeeper import config, sdk
from watchkeeper.adapters.claude_code.steering import Policy, Steering
from watchkeeper.adapters.remote import RemoteError, request
from watchkeeper.breakpoints import BUILTIN_NAME, Book, BookError, Rule
from watchkeeper.credentials import Keyring, mint, parse_tokens
from watchkeeper.guard import Guard
from watchkeeper.protocol import Event
from watchkeeper.relay.servers.hookserver import HookSource, bound_port, start_hook_server

ALICE, BOB = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef"
WAIT = 20.0
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]


@dataclass
class Server:
    port: int
    hook_dir: Path
    steering: Steering
    viewers: dict[str, int]
    events: list[Event] = field(default_factory=list)

    def request(self, method: str, path: str, body: Any, token: str) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)
        try:
            conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        return response.status, json.loads(payload) if payload else None


def start(loop: asyncio.AbstractEventLoop, hook_dir: Path) -> Server:
    viewers: dict[str, int] = {}
    steering = Steering(Policy(hold_timeout=WAIT), viewers=lambda s: viewers.get(s, 0))
    events: list[Event] = []
    keyring = Keyring([("alice", ALICE), ("bob", BOB)], hook_dir)
    runner = asyncio.run_coroutine_threadsafe(start_hook_server(steering, events.extend, keyring), loop).result(WAIT)
    return Server(bound_port(runner), hook_dir, steering, viewers, events)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(WAIT)


@pytest.fixture
def server(loop: asyncio.AbstractEventLoop, tmp_path: Path) -> Server:
    return start(loop, tmp_path / "hook-credentials")


def hook(session: str, name: str = "UserPromptSubmit", **extra: Any) -> dict[str, Any]:
    return {"session_id": session, "cwd": "/w", "hook_event_name": name, "prompt": "hi", **extra}


def pre(session: str, call: str) -> dict[str, Any]:
    return hook(session, "PreToolUse", tool_name="Bash", tool_input={"command": "ls"}, tool_use_id=call)


def control(kind: str, session: str = "s1", **extra: Any) -> dict[str, Any]:
    return {"v": 1, "id": f"c-{kind}-{len(extra)}", "session": session, "control": kind, "by": "mallory", **extra}


# --- the hook endpoint and the control API --------------------------------------------


def test_a_session_credential_reports_its_first_session_only(server: Server, loop: asyncio.AbstractEventLoop,
                                                             tmp_path: Path) -> None:
    secret = mint(server.hook_dir)
    assert server.request("POST", "/hook", hook("s1"), secret)[0] == 200
    assert server.request("POST", "/hook", hook("s1"), secret)[0] == 200
    status, body = server.request("POST", "/hook", hook("s2"), secret)
    assert status == 403 and "another session" in body["error"]
    notices = [e for e in server.events if e["kind"] == "notice"]
    assert [(e["session"], e["data"]["code"]) for e in notices] == [("s1", "hook-credential-refused")]
    assert "s2" not in {e["session"] for e in server.events}
    restarted = start(loop, server.hook_dir)
    assert restarted.request("POST", "/hook", hook("s2"), secret)[0] == 403
    assert restarted.request("POST", "/hook", hook("s1"), secret)[0] == 200
    assert secret not in "".join(p.read_text() for p in server.hook_dir.iterdir()), "only a hash is kept"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in server.hook_dir.iterdir())


def test_an_install_credential_reports_any_session(server: Server) -> None:
    secret = mint(server.hook_dir, "install")
    assert [server.request("POST", "/hook", hook(s), secret)[0] for s in ("s1", "s2")] == [200, 200]


def test_hook_credentials_cannot_steer_or_list_and_unknown_ones_are_401(server: Server) -> None:
    session_cred, install_cred = mint(server.hook_dir), mint(server.hook_dir, "install")
    assert server.request("POST", "/hook", hook("s1"), session_cred)[0] == 200
    for secret in (session_cred, install_cred):
        status, body = server.request("POST", "/control", control("pause"), secret)
        assert status == 403 and "only the hook endpoint" in body["error"]
        assert server.request("GET", "/sessions", None, secret)[0] == 403
    assert server.request("POST", "/hook", hook("s1"), "wkh_" + "x" * 43)[0] == 401
    assert server.request("POST", "/control", control("pause"), "wkh_" + "x" * 43)[0] == 401
    assert server.request("POST", "/control", control("pause"), ALICE)[0] == 200


def test_an_agent_credential_is_refused_on_every_path_of_the_hook_endpoint(server: Server) -> None:
    secret = mint(server.hook_dir, "agent", "bot")
    for method, path, body in (("POST", "/hook", hook("s1")), ("POST", "/control", control("pause")),
                               ("GET", "/sessions", None)):
        status, reply = server.request(method, path, body, secret)
        assert status == 403 and "agent credential" in reply["error"], (path, status, reply)
    assert "s1" not in {e["session"] for e in server.events}


def test_a_held_call_is_decided_by_a_person_never_by_the_agents_credential(server: Server) -> None:
    secret = mint(server.hook_dir)
    server.viewers["s1"] = 1
    assert server.request("POST", "/hook", hook("s1"), secret)[0] == 200
    assert server.request("POST", "/control", control("pause"), ALICE)[1]["outcome"]["kind"] == "control.applied"
    replies: list[tuple[int, Any]] = []
    agent = threading.Thread(target=lambda: replies.append(server.request("POST", "/hook", pre("s1", "t1"), secret)))
    agent.start()
    assert until(lambda: (server.steering.state("s1") or {}).get("held")) == ["t1"]
    assert server.request("POST", "/control", control("approve", call_id="t1"), secret)[0] == 403
    assert server.steering.state("s1")["held"] == ["t1"] and agent.is_alive()
    status, body = server.request("POST", "/control", control("approve", call_id="t1"), BOB)
    assert status == 200 and body["outcome"]["kind"] == "control.applied"
    agent.join(WAIT)
    assert replies[0][1]["hookSpecificOutput"]["permissionDecision"] == "allow"


def test_a_named_token_is_recorded_as_its_name_whatever_the_control_claims(server: Server) -> None:
    status, body = server.request("POST", "/control", control("pause"), BOB)
    assert status == 200 and body["outcome"]["data"]["by"] == "bob"


# --- the websocket: viewers, ctl --relay, SDK agents ----------------------------------------


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Served, Path]]:
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "wk"))
    hook_dir = config.hook_credentials_dir()
    server = Served(token=Keyring([("alice", ALICE), ("bob", BOB)], hook_dir))
    yield server, hook_dir
    server.stop()


async def test_the_websocket_refuses_hook_credentials_and_names_people(served: tuple[Served, Path]) -> None:
    server, hook_dir = served
    for secret in (mint(hook_dir), mint(hook_dir, "install")):
        with pytest.raises(RemoteError, match="403"):
            await request(server.url, secret, None)
        with pytest.raises(sdk.ConnectError):
            await sdk.connect(server.url, token=secret, wait=5)
    with pytest.raises(RemoteError, match="401"):
        await request(server.url, "wkh_" + "y" * 43, None)
    _, reply = await request(server.url, ALICE, {"t": "control", "id": "q1", "control": control("pause")})
    assert reply["outcome"]["data"]["by"] == "alice"


# --- what run and hooks install hand the agent ------------------------------------------------

DUMP = """#!{python}
import json, os, sys
with open(sys.argv[-1], "w") as f:
    json.dump({{"env": dict(os.environ), "argv": sys.argv}}, f)
"""


def run_dump(tmp_path: Path, env: dict[str, str], name: str) -> dict[str, Any]:
    agent = tmp_path / "agent"
    agent.write_text(DUMP.format(python=sys.executable))
    agent.chmod(0o700)
    out = tmp_path / f"{name}.json"
    done = subprocess.run([*WATCHKEEPER, "run", "--", str(agent), str(out)], env=env, capture_output=True,
                          text=True, timeout=WAIT)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(out.read_text()))


def test_run_hands_the_agent_a_fresh_hook_credential_and_never_the_persons_token(tmp_path: Path) -> None:
    home = tmp_path / "wk"
    env = {"PATH": os.environ.get("PATH", ""), config.ENV_HOME: str(home), "HOME": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    first = run_dump(tmp_path, env, "first")
    person = (home / "token").read_text().strip()
    second = run_dump(tmp_path, {**env, config.ENV_TOKEN: person}, "second")
    for seen in (first, second):
        everything = json.dumps(seen)
        assert person not in everything, "the person's token reached the agent"
        assert config.ENV_TOKEN not in seen["env"]
        secret = seen["env"][config.ENV_HOOK_TOKEN]
        assert Keyring([(None, person)], home / "hook-credentials").hook(secret) is not None
        assert Keyring([(None, person)]).person(secret) is None
        settings = json.loads(seen["argv"][seen["argv"].index("--settings") + 1])
        gate = settings["hooks"]["PreToolUse"][-1]["hooks"][0]
        assert gate["headers"] == {"Authorization": f"Bearer ${config.ENV_HOOK_TOKEN}"}
        assert secret not in json.dumps(settings)
        assert {f"Read(/{home}/**)", f"Edit(/{home}/**)", f"Bash(*{home}*)"} <= set(settings["permissions"]["deny"])
    assert first["env"][config.ENV_HOOK_TOKEN] != second["env"][config.ENV_HOOK_TOKEN]


def test_hooks_install_references_its_own_hook_only_credential(tmp_path: Path) -> None:
    home = tmp_path / "wk"
    env = {"PATH": os.environ.get("PATH", ""), config.ENV_HOME: str(home), "HOME": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [
        {"type": "http", "url": "http://127.0.0.1:1/hook", "allowedEnvVars": [config.ENV_TOKEN],
         "headers": {"Authorization": f"Bearer ${config.ENV_TOKEN}"}}]}]}}))
    done = subprocess.run([*WATCHKEEPER, "hooks", "install"], env=env, capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0, done.stderr
    person = (home / "token").read_text().strip()
    secret = (home / "hook-token").read_text().strip()
    assert stat.S_IMODE((home / "hook-token").stat().st_mode) == 0o600
    text = settings.read_text()
    assert person not in text and secret not in text and person not in done.stdout and secret not in done.stdout
    assert config.ENV_TOKEN + '"' not in text and config.ENV_TOKEN + "}" not in text, "the old hook is replaced"
    assert f"${config.ENV_HOOK_TOKEN}" in text and str(config.ENV_HOOK_TOKEN) in done.stdout
    credential = Keyring([(None, person)], home / "hook-credentials").hook(secret)
    assert credential is not None and credential.kind == "install"


def test_token_files_name_people_and_a_client_sends_its_first_token(tmp_path: Path) -> None:
    assert parse_tokens("# team\nalice=abc123\n\nbob=def456\n") == [("alice", "abc123"), ("bob", "def456")]
    assert parse_tokens("bare-token-value\n") == [(None, "bare-token-value")]
    for padded in ("q7Zk3+9fPaLmN0xYvW2RtA==", "q7Zk3a9fPaLmN0xYvW2RtA=", "x==", "="):
        assert parse_tokens(padded) == [(None, padded)], "base64 padding is part of the token, not a name="
    assert parse_tokens("ci+bot@example.org=q7Zk3+9fPaLmN0xYvW2RtA==") == [("ci+bot@example.org",
                                                                          "q7Zk3+9fPaLmN0xYvW2RtA==")]
    people = tmp_path / "people"
    people.write_text("alice=abc123\nbob=def456\n")
    assert config.read_token_file(people) == "abc123"
    ring = config.keyring([str(people)])
    assert ring.person("def456") is not None and ring.person("def456").name == "bob"  # type: ignore[union-attr]
    assert ring.person("abc1234") is None and ring.person("") is None


# --- the built-in breakpoint ---------------------------------------------------------------


def test_the_built_in_breakpoint_holds_calls_naming_watchkeepers_files_and_ports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.ENV_HOME, str(Path.home() / ".config" / "wk-test"))
    monkeypatch.setenv(config.ENV_PORT, "47999")
    source = HookSource(ALICE, port=0)
    guard = source.guard

    check = source.steering.breakpoint
    assert check is not None

    def fires(command: str) -> str | None:
        return check({"tool_name": "Bash", "tool_input": {"command": command}})

    for named in (f"cat {Path.home()}/.config/wk-test/token", "cat ~/.config/wk-test/token",
                  "cat $HOME/.config/wk-test/token", "echo $WATCHKEEPER_TOKEN",
                  "curl -X POST http://127.0.0.1:47999/control", "websocat ws://localhost:47718"):
        assert fires(named) == BUILTIN_NAME, named
    for harmless in ("ls -la", "echo 479990", "cat ~/.config/other/token"):
        assert fires(harmless) is None, harmless
    assert guard({"tool_name": "Read", "tool_input": {"file_path": f"{Path.home()}/.config/wk-test/token"}})
    assert "built in" in guard.describe()


def test_the_built_in_breakpoint_sees_a_number_a_key_and_a_file_tools_path_spelled_another_way(
        tmp_path: Path) -> None:
    """It read string values only, and the paths as written: a port as a JSON number, a path as an object's
    key, and ``..``, ``//``, ``/./`` or a symlink in the project all went by it."""
    home = tmp_path / "wk"
    home.mkdir()
    (home / "token").write_text("t")
    project = tmp_path / "project"
    project.mkdir()
    (project / "cfg").symlink_to(home)
    guard = Guard([str(home), str(home / "token")], [47999])
    token = str(home / "token")
    for tool_input in ({"host": "127.0.0.1", "port": 47999}, {"files": {token: {"encoding": "utf8"}}}):
        assert guard({"tool_name": "mcp__x__y", "tool_input": tool_input}) == BUILTIN_NAME, tool_input
    for spelled in ("../wk/token", token.replace("/wk/", "//wk/"), token.replace("/wk/", "/./wk/"), "cfg/token",
                    "cfg"):
        call = {"tool_name": "Read", "cwd": str(project), "tool_input": {"file_path": spelled}}
        assert guard(call) == BUILTIN_NAME, spelled
    for harmless in ({"port": 479990}, {"count": 47998}):
        assert guard({"tool_name": "mcp__x__y", "tool_input": harmless}) is None, harmless
    assert guard({"tool_name": "Read", "cwd": str(project), "tool_input": {"file_path": "../wkx/token"}}) is None


def test_the_built_in_breakpoint_cannot_be_removed_or_turned_off(tmp_path: Path) -> None:
    book = Book(tmp_path / "breakpoints.toml", [Rule("mine", tool="Bash")])
    for change in (lambda: book.remove(BUILTIN_NAME), lambda: book.set_enabled(BUILTIN_NAME, False),
                   lambda: book.add(Rule(BUILTIN_NAME, tool="Nothing"))):
        with pytest.raises(BookError, match="built in"):
            change()
    assert [r.name for r in book.rules] == ["mine"]
    assert Guard.here().paths


async def test_the_breakpoint_list_shows_the_built_in_rule_and_offers_no_way_to_remove_it(tmp_path: Path) -> None:
    from test_viewer_support import Notices
    from waiting import until_app

    from watchkeeper.relay import Relay
    from watchkeeper.viewer import WatchkeeperApp
    from watchkeeper.viewer.breakpoint_palette import BreakpointCommands
    from watchkeeper.viewer.model.control_availability import SteerSetup

    book = Book(tmp_path / "breakpoints.toml", [Rule("mine", tool="Bash")])
    relay = Relay().start()
    try:
        app = WatchkeeperApp(relay, steer=SteerSetup(breakpoints=book, hooks_port=47999))
        async with app.run_test(size=(120, 30)) as pilot:
            notices = Notices(app)
            await pilot.press("ctrl+p", *"Breakpoints: list", "enter")
            (listing,) = await until_app(pilot, lambda: notices.messages(), "the breakpoint list")
            first, second = listing.splitlines()[:2]
            assert first.startswith(f"«{BUILTIN_NAME}»") and "cannot be removed" in first and "47999" in first
            assert second.startswith("«mine»")
            titles = [title for title, _, _ in BreakpointCommands(app.screen)._commands()]
            assert "Breakpoint: remove «mine»" in titles and not [t for t in titles if BUILTIN_NAME in t]
    finally:
        relay.stop()
