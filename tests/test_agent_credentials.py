"""An SDK agent's own credential (``watchkeeper token --agent``): it reports its run and is steered, nothing more.

Real relay served on 127.0.0.1, the real SDK and raw websockets for what the
SDK would never send. An agent credential reports one session (the first
binds it) and receives that session's decisions; as a viewer it is refused
(an ``error`` ``forbidden``, then close 1008) before it can subscribe, list,
read back, send a control or edit breakpoints; a second session is refused
the same way; the hook endpoint answers 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import subprocess
import sys
import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from remote_support import Attached, Served
from waiting import until_async
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from watchkeeper import config, sdk
from watchkeeper.adapters.remote import RemoteError, request
from watchkeeper.breakpoints import Book, Rule
from watchkeeper.credentials import AGENT_PREFIX, Keyring, digest, mint
from watchkeeper.protocol import wire

ALICE = "alice-token-0123456789abcdef"
WAIT = 20.0
WATCHKEEPER = [sys.executable, "-c", "from watchkeeper.cli import main; main()"]


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "wk"))
    for name in (config.ENV_TOKEN, config.ENV_AGENT_TOKEN):
        monkeypatch.delenv(name, raising=False)
    book = Book(tmp_path / "breakpoints.toml", [Rule("mine", tool="Bash")])
    server = Served(token=Keyring([("alice", ALICE)], config.hook_credentials_dir()), breakpoints=book)
    yield server
    server.stop()


def agent_credential(name: str = "bot") -> str:
    return mint(config.hook_credentials_dir(), "agent", name)


def control(session: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "id": f"c-{uuid.uuid4().hex[:8]}", "session": session, "control": kind, "by": "test", **fields}


async def exchange(url: str, token: str, role: str, msg: dict[str, Any], *, replies: int | None = None,
                   sessions: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Say hello as ``role`` and send ``msg``: what the relay sends until it closes (and the close code),
    or its first ``replies`` messages (code None)."""
    got: list[dict[str, Any]] = []
    async with ws_connect(url, additional_headers={"Authorization": f"Bearer {token}"}, proxy=None) as ws:
        assert json.loads(await ws.recv())["t"] == "hello"
        await ws.send(wire.dumps(wire.hello_client(role, "mallory", sessions)).decode())
        with contextlib.suppress(ConnectionClosed):
            await ws.send(wire.dumps(msg).decode())
        try:
            async with asyncio.timeout(WAIT):
                while replies is None or len(got) < replies:
                    got.append(json.loads(await ws.recv()))
        except ConnectionClosed as e:
            return got, e.rcvd.code if e.rcvd else None
    return got, None


def forbidden(got: list[dict[str, Any]]) -> str:
    assert [m["t"] for m in got] == ["error"], got
    assert got[0]["code"] == "forbidden"
    return str(got[0]["message"])


async def held(served: Served, run: sdk.AgentRun) -> tuple[str, asyncio.Task[sdk.Decision]]:
    """The run asks before a call while a person watches: the call is held."""
    call = run.tool_started("shell", {"cmd": "rm -rf build"})
    asking = asyncio.create_task(run.approval(call, name="shell", input={"cmd": "rm -rf build"}))
    await until_async(lambda: (i := served.relay.session(run.session)) is not None and i.needs_attention,
                      what="the call is held")
    return call, asking


async def test_an_agent_credential_reports_its_run_and_receives_the_persons_decision(served: Served) -> None:
    secret = agent_credential()
    assert secret.startswith(AGENT_PREFIX)
    viewer = Attached(served.url, token=ALICE)
    run = await sdk.connect(served.url, token=secret, title="scoped")
    try:
        await until_async(lambda: served.server.viewers(run.session) > 0, what="the person watches")
        run.user("count the files")
        call, asking = await held(served, run)
        _, reply = await request(served.url, ALICE, {"t": "control", "id": "q1",
                                                      "control": control(run.session, "approve", call_id=call)})
        assert reply["outcome"]["kind"] == "control.applied"
        decision = await asyncio.wait_for(asking, WAIT)
        assert decision.approved and decision.by == "alice"
        assert await run.flush()
        info = served.relay.session(run.session)
        assert info is not None and info.title == "scoped" and info.live
        record = orjson.loads((config.hook_credentials_dir() / f"{digest(secret)}.json").read_bytes())
        assert (record["kind"], record["session"], record["name"]) == ("agent", run.session, "bot")
    finally:
        await run.close()
        viewer.stop()


@pytest.mark.parametrize("what", ["subscribe", "sessions", "range", "approve", "breakpoints-add", "breakpoints-list"])
async def test_an_agent_credential_cannot_watch_list_read_steer_or_edit_breakpoints(served: Served,
                                                                                    what: str) -> None:
    secret = agent_credential()
    viewer = Attached(served.url, token=ALICE)
    run = await sdk.connect(served.url, token=secret)
    try:
        await until_async(lambda: served.server.viewers(run.session) > 0, what="the person watches")
        call, asking = await held(served, run)
        msg = {
            "subscribe": {"t": "subscribe", "from": {}},
            "sessions": {"t": "sessions", "id": "q"},
            "range": {"t": "range", "id": "q", "session": run.session, "start": 0, "stop": 100},
            "approve": {"t": "control", "id": "q", "control": control(run.session, "approve", call_id=call)},
            "breakpoints-add": {"t": "breakpoints", "id": "q", "op": "add", "rule": {"name": "x", "tool": "Read"}},
            "breakpoints-list": {"t": "breakpoints", "id": "q", "op": "list"},
        }[what]
        got, code = await exchange(served.url, secret, "viewer", msg)
        assert "only report as an agent" in forbidden(got) and code == 1008
        with pytest.raises(RemoteError, match="refused: an agent credential may only report as an agent"):
            await request(served.url, secret, {**msg, "id": "q2"}, timeout=WAIT)
        # As an agent, such a message is no agent's: refused, and the connection stays an agent's.
        got, _ = await exchange(served.url, secret, "agent", msg, replies=1)
        assert [(m["t"], m["code"]) for m in got] == [("error", "unknown-type")], got
        assert not asking.done(), "the held call still waits for the person"
        assert served.relay.session(run.session).needs_attention  # type: ignore[union-attr]
        assert [r.name for r in served.server.breakpoints.rules] == ["mine"]  # type: ignore[union-attr]
    finally:
        asking.cancel()
        await run.close()
        viewer.stop()


async def test_an_agent_credential_reports_one_session_only(served: Served) -> None:
    secret = agent_credential()
    first = await sdk.connect(served.url, token=secret)
    assert await first.flush()
    # The SDK says hello with its session: a second run on the same credential is refused at once.
    second = await sdk.connect(served.url, token=secret)
    await until_async(lambda: second._link.errors, what="the second run is refused")
    assert "belongs to another session" in second._link.errors[0]["message"]
    assert second._link.errors[0]["code"] == "forbidden" and second._link.closing
    await second.close()
    # A hello without sessions, then events of another session: refused too, and not one of them kept.
    stranger = str(uuid.uuid4())
    got, code = await exchange(served.url, secret, "agent", {"t": "events", "n": 1, "events": [event(stranger, 1)]})
    assert "belongs to another session" in forbidden(got) and code == 1008
    assert served.relay.session(second.session) is None and served.relay.session(stranger) is None
    # Nor may it say hello as the agent of someone else's session, to be sent its controls and decisions.
    victim = await sdk.connect(served.url, token=ALICE)
    assert await victim.flush()
    victim_source = served.relay.session(victim.session).sources[0]  # type: ignore[union-attr]
    got, code = await exchange(served.url, secret, "agent", {"t": "events", "n": 1, "events": []},
                               sessions={victim.session: {"paused": False, "asking": []}})
    assert "belongs to another session" in forbidden(got) and code == 1008
    assert served.relay.session(victim.session).sources == [victim_source]  # type: ignore[union-attr]
    await victim.close()
    # Its own session goes on, and comes back after a reconnect.
    first.user("still here")
    assert await first.flush()
    assert first._link._ws is not None
    await first._link._ws.close()
    await until_async(lambda: first.connected, what="the first run reconnects")
    first.user("back")
    assert await first.flush() and first.connected
    await first.close()


async def test_a_fresh_agent_credential_may_not_claim_a_session_this_relay_already_has(served: Served) -> None:
    """Unbound, a credential bound to whichever session it named first: naming a live agent's took that
    agent's link, so the person's approve went to the intruder, was reported applied, and the agent waited."""
    victim = await sdk.connect(served.url, token=ALICE)
    assert await victim.flush()
    victim_source = served.relay.session(victim.session).sources[0]  # type: ignore[union-attr]
    for hello_sessions, events in (({victim.session: {"paused": False, "asking": ["c1"]}}, []),
                                   ({}, [event(victim.session, 1)])):
        got, code = await exchange(served.url, agent_credential(), "agent",
                                   {"t": "events", "n": 1, "events": events}, sessions=hello_sessions)
        assert "or that session to another agent" in forbidden(got) and code == 1008
        assert served.relay.session(victim.session).sources == [victim_source]  # type: ignore[union-attr]
    # A fresh credential still binds to a session of its own.
    mine = str(uuid.uuid4())
    got, _ = await exchange(served.url, agent_credential(), "agent",
                            {"t": "events", "n": 1, "events": [event(mine, 1)]}, replies=1)
    assert got == [{"t": "ack", "n": 1}] and served.relay.session(mine) is not None
    await victim.close()


def event(session: str, n: int) -> dict[str, Any]:
    return {"id": f"e{n}", "session": session, "kind": "notice", "ts": "2026-01-01T00:00:00Z",
            "data": {"level": "info", "text": "hi", "code": None}}


async def test_a_fresh_agent_credential_is_bound_by_its_first_events_on_the_same_connection(
        served: Served) -> None:
    secret = agent_credential()
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    async with ws_connect(served.url, additional_headers={"Authorization": f"Bearer {secret}"}, proxy=None) as ws:
        assert json.loads(await ws.recv())["t"] == "hello"
        await ws.send(wire.dumps(wire.hello_client("agent", "mallory")).decode())
        await ws.send(wire.dumps({"t": "events", "n": 1, "events": [event(mine, 1)]}).decode())
        async with asyncio.timeout(WAIT):
            assert json.loads(await ws.recv()) == {"t": "ack", "n": 1}
        await ws.send(wire.dumps({"t": "events", "n": 2, "events": [event(other, 2)]}).decode())
        async with asyncio.timeout(WAIT):
            reply = json.loads(await ws.recv())
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    assert reply["code"] == "forbidden" and "belongs to another session" in reply["message"]
    assert ws.close_code == 1008
    assert served.relay.session(mine) is not None and served.relay.session(other) is None


async def test_an_agent_credentials_malformed_events_are_kept_in_its_session_and_it_stays_connected(
        served: Served) -> None:
    """A malformed event went to session ``unknown``, which the credential may not report: forbidden, closed
    1008, and the good events of its frame lost."""
    secret = agent_credential()
    mine, victim = str(uuid.uuid4()), str(uuid.uuid4())
    first = [event(mine, 1), {"id": "no-session", "kind": "notice"}, 42, {"session": victim, "kind": 7}]
    frames = [first, [{"id": "no-session-again"}], [event(mine, 2)]]
    async with ws_connect(served.url, additional_headers={"Authorization": f"Bearer {secret}"}, proxy=None) as ws:
        assert json.loads(await ws.recv())["t"] == "hello"
        await ws.send(wire.dumps(wire.hello_client("agent", "sloppy")).decode())
        for n, events in enumerate(frames, 1):
            await ws.send(wire.dumps({"t": "events", "n": n, "events": events}).decode())
            async with asyncio.timeout(WAIT):
                assert json.loads(await ws.recv()) == {"t": "ack", "n": n}
    kept = served.events(mine)
    assert [e["id"] for e in kept if e["kind"] != "raw"] == ["e1", "e2"]
    raw = [e["data"]["record"] for e in kept if e["kind"] == "raw"]
    assert raw == [first[1], 42, first[3], frames[1][0]]
    assert served.relay.session(victim) is None and served.relay.session("unknown") is None
    # Unbound, with nothing that names a session: the agent is told, and stays connected.
    got, code = await exchange(served.url, agent_credential(), "agent", {"t": "events", "n": 1, "events": [42]},
                               replies=2)
    assert code is None and [m["t"] for m in got] == ["error", "ack"] and "not kept" in got[0]["message"]


async def test_sdk_connect_reads_the_agent_credential_from_the_environment(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(sdk.ConnectError, match="401"):
        await sdk.connect(served.url, wait=5)
    secret = agent_credential()
    monkeypatch.setenv(config.ENV_AGENT_TOKEN, secret)
    run = await sdk.connect(served.url)
    try:
        assert await run.flush()
        record = orjson.loads((config.hook_credentials_dir() / f"{digest(secret)}.json").read_bytes())
        assert record["session"] == run.session
    finally:
        await run.close()


async def test_a_person_token_still_connects_an_sdk_agent(served: Served) -> None:
    run = await sdk.connect(served.url, token=ALICE)
    other = await sdk.connect(served.url, token=ALICE)
    try:
        assert await run.flush() and await other.flush()
        assert served.relay.session(run.session) is not None and served.relay.session(other.session) is not None
    finally:
        await run.close()
        await other.close()


async def test_an_sdk_agent_that_falls_back_to_the_persons_token_is_warned(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback keeps old agents connecting, but their process then holds a token that steers: said aloud."""
    monkeypatch.setenv(config.ENV_TOKEN, ALICE)
    with pytest.warns(sdk.PersonTokenWarning, match="watchkeeper token --agent"):
        run = await sdk.connect(served.url)
    await run.close()
    monkeypatch.setenv(config.ENV_AGENT_TOKEN, agent_credential())
    with warnings.catch_warnings():
        warnings.simplefilter("error", sdk.PersonTokenWarning)
        run = await sdk.connect(served.url)
        await run.close()
        run = await sdk.connect(served.url, token=ALICE)  # given on purpose: the caller chose it
        await run.close()


def test_token_agent_mints_a_credential_shown_once_and_stored_as_a_hash(tmp_path: Path) -> None:
    env = {**os.environ, config.ENV_HOME: str(tmp_path / "wk")}
    printed = subprocess.run([*WATCHKEEPER, "token", "--agent", "--name", "ci-bot"], env=env, capture_output=True,
                             text=True, timeout=WAIT)
    assert printed.returncode == 0, printed.stderr
    secret = printed.stdout.strip()
    assert secret.startswith(AGENT_PREFIX) and printed.stdout.count(AGENT_PREFIX) == 1
    store = tmp_path / "wk" / "hook-credentials"
    record = orjson.loads((store / f"{digest(secret)}.json").read_bytes())
    assert (record["kind"], record["name"], record["session"]) == ("agent", "ci-bot", None)
    assert secret not in "".join(p.read_text() for p in store.iterdir()), "only a hash is kept"
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in store.iterdir())
    assert not (tmp_path / "wk" / "token").exists(), "minting an agent credential makes no person token"
    keyring = Keyring([(None, ALICE)], store)
    assert keyring.agent(secret) is not None and keyring.hook(secret) is None and keyring.person(secret) is None

    out = tmp_path / "agent.token"
    written = subprocess.run([*WATCHKEEPER, "token", "--agent", "--out", str(out)], env=env, capture_output=True,
                             text=True, timeout=WAIT)
    assert written.returncode == 0 and AGENT_PREFIX not in written.stdout + written.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and keyring.agent(out.read_text().strip()) is not None
    again = subprocess.run([*WATCHKEEPER, "token", "--agent", "--out", str(out)], env=env, capture_output=True,
                           text=True, timeout=WAIT)
    assert again.returncode == 2 and "cannot create" in again.stderr
    bare = subprocess.run([*WATCHKEEPER, "token"], env=env, capture_output=True, text=True, timeout=WAIT)
    assert bare.returncode == 2 and "--agent" in bare.stderr and not bare.stdout


async def test_an_agent_credential_cannot_take_the_connections_people_need(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """One credential's idle agent connections once filled ``--max-connections``: the person was refused (503)."""
    monkeypatch.setenv(config.ENV_HOME, str(tmp_path / "wk"))
    server = Served(token=Keyring([("alice", ALICE)], config.hook_credentials_dir()), max_connections=16)
    held: list[Any] = []

    async def agent(token: str) -> Any:
        ws = await ws_connect(server.url, additional_headers={"Authorization": f"Bearer {token}"}, proxy=None)
        assert orjson.loads(await ws.recv())["t"] == "hello"
        await ws.send(json.dumps({"t": "hello", "role": "agent", "name": "idle"}))
        held.append(ws)
        return ws

    first = agent_credential()
    run = await sdk.connect(server.url, token=first, title="the run people watch")
    try:
        run.user("still watched")
        await run.flush()
        await agent(first)
        with pytest.raises(InvalidStatus) as refused:
            await agent(first)
        assert refused.value.response.status_code == 503
        assert b"as many as one credential may" in refused.value.response.body
        with pytest.raises(InvalidStatus) as refused:
            for _ in range(16):
                await agent(agent_credential())
        assert b"connections for people's tokens" in refused.value.response.body and len(held) + 1 == 16 - 2
        watcher = Attached(server.url, token=ALICE)
        await until_async(lambda: watcher.relay.session(run.session) is not None,
                          what="a person connects past the agents' connections", timeout=WAIT)
        watcher.relay.subscribe(lambda batch: None, run.session)
        await until_async(lambda: "still watched" in str(watcher.events(run.session)),
                          what="the person watches the run", timeout=WAIT)
        watcher.stop()
    finally:
        for ws in held:
            await ws.close()
        await run.close()
        server.stop()
