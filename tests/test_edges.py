"""Edges push to a hub (``serve --upstream``), people watch and steer at the hub: real processes, loopback.

Each edge and the hub is ``watchkeeper serve`` as a process with its own
config directory. Sessions on an edge are recordings written into its
discovery root (``sdk.Run``) or an SDK agent connected to its websocket; the
hub is read as a person reads it (``sessions --json --relay``, ``ctl
--relay``, ``attach``'s client).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fleet_support import WAIT, Fleet, ids, pushed, record
from remote_steering_support import ROOT, WATCHKEEPER, start_serve
from remote_support import TOKEN, Attached, Proxy, Served
from waiting import until, until_async

from watchkeeper import sdk
from watchkeeper.adapters.remote import RemoteError, request
from watchkeeper.credentials import Keyring
from watchkeeper.relay.servers.upstream import check_upstream


def test_two_edges_push_to_one_hub_and_the_hub_lists_both_with_their_origin(fleet: Fleet) -> None:
    for name in ("alpha", "beta"):
        fleet.start_edge(name)
        record(fleet.root(name), f"s-{name}", 5).close()
    until(lambda: {r["id"] for r in fleet.listing()} >= {"s-alpha", "s-beta"}, what="the hub lists both",
          timeout=WAIT)
    rows = {r["id"]: r for r in fleet.listing()}
    assert rows["s-alpha"]["origin"]["edge"] == "alpha" and rows["s-beta"]["origin"]["edge"] == "beta"
    assert all(rows[s]["origin"]["connected"] and rows[s]["origin"]["host"] for s in ("s-alpha", "s-beta"))
    only = fleet.hub.cli("sessions", "--relay", fleet.hub.url, "--token-file", fleet.hub.token_file,
                         "--origin", "beta")
    assert only.returncode == 0 and "beta: run s-beta" in only.stdout and "s-alpha" not in only.stdout, only

    screen = Attached(fleet.hub.url, token=fleet.hub.token)
    try:
        for name in ("alpha", "beta"):
            sid, edge = f"s-{name}", fleet.edges[name]
            want = until(lambda sid=sid, edge=edge: len(got := ids(edge.stream(sid))) == 7 and got,  # type: ignore[misc]
                         what=f"the edge has all of {sid}", timeout=WAIT)
            until(lambda sid=sid, want=want: ids(screen.events(sid)) == want,  # type: ignore[misc]
                  what=f"attach to the hub shows {sid} as the edge has it", timeout=WAIT)
            assert "session.ended" in [e["kind"] for e in screen.events(sid)]
    finally:
        screen.stop()


def test_an_edge_credential_cannot_read_list_or_steer_and_a_person_cannot_push(fleet: Fleet) -> None:
    edge_token = fleet.creds["alpha"]
    control = {"id": "c1", "session": "x", "control": "pause", "by": "edge"}
    for msg in ({"t": "sessions", "id": "s"}, {"t": "range", "id": "r", "session": "x", "start": 0, "stop": 9},
                {"t": "control", "id": "c1", "control": control}):
        with pytest.raises(RemoteError, match="edge credential may only push"):
            asyncio.run(request(fleet.hub.url, edge_token, msg))

    async def push_as_edge(token: str) -> dict[str, Any]:
        from watchkeeper.protocol import wire
        from watchkeeper.reconnect import dial

        async with dial(fleet.hub.url, token) as ws:
            await ws.recv()
            await ws.send(wire.dumps(wire.hello_client("edge", "mallory")), text=True)
            reply: dict[str, Any] = wire.decode(await ws.recv())
            return reply

    refused = asyncio.run(push_as_edge(fleet.hub.token))
    assert refused["t"] == "error" and refused["code"] == "forbidden"
    assert "only an edge credential" in refused["message"]


def test_a_killed_edge_is_unreachable_and_its_restart_loses_and_doubles_nothing(fleet: Fleet) -> None:
    edge = fleet.start_edge("alpha")
    root = fleet.root("alpha")
    run = record(root, "s-long", 0)
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set() and written[0] < 400:
            run.user(f"line {written[0]}")
            written[0] += 1
            stop.wait(0.005)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        until(lambda: (r := fleet.row("s-long")) is not None and r["live"], what="the session is live on the hub",
              timeout=WAIT)
        os.kill(edge.proc.pid, signal.SIGKILL)
        edge.proc.wait(10)
        until(lambda: (r := fleet.row("s-long")) is not None and not r["live"]
              and r["state"] == "unreachable" and not r["origin"]["connected"],
              what="the hub shows the killed edge's session as unreachable", timeout=WAIT)
        assert fleet.row("s-long")["steerable"] is False  # type: ignore[index]
        rc, said = fleet.hub.ctl("pause", "s-long")
        assert rc != 0 and "not connected to this hub" in said, said
    finally:
        stop.set()
        writer.join(10)
    for i in range(20):
        run.user(f"after {i}")
    run.close()

    edge = fleet.start_edge("alpha")
    total = written[0] + 20 + 2  # session.started and session.ended around the messages
    want = until(lambda: (got := ids(edge.stream("s-long"))) and len(got) == total and got,
                 what="the restarted edge has the whole recording", timeout=WAIT)
    screen = Attached(fleet.hub.url, token=fleet.hub.token)
    try:
        until(lambda: pushed(screen.events("s-long")) == want, what="the hub has every event once", timeout=WAIT,
              seen=lambda: (len(want), len(screen.events("s-long")), [i for i in ids(screen.events("s-long"))
                                                                      if i not in want][:5]))
        hub_stream = fleet.hub.stream("s-long")
        assert pushed(hub_stream) == want
        assert [e["data"]["code"] for e in hub_stream if e["id"].startswith("edge:")] == ["edge-unreachable"]
    finally:
        screen.stop()


async def test_a_deny_sent_at_the_hub_reaches_a_call_held_on_the_edge(fleet: Fleet) -> None:
    edge = await asyncio.to_thread(fleet.start_edge, "beta")
    screen = Attached(fleet.hub.url, token=fleet.hub.token)  # a person watches at the hub: calls are held
    run = await sdk.connect(edge.url, token=edge.token, title="sdk on an edge")
    try:
        await until_async(lambda: screen.relay.session(run.session) is not None,
                          what="the person at the hub sees the agent's session", timeout=WAIT)
        call = run.tool_started("shell", {"cmd": "rm -rf build"})
        asking = asyncio.create_task(run.approval(call, name="shell", input={"cmd": "rm -rf build"}))
        await until_async(lambda: (r := fleet.row(run.session)) is not None and r["held"]
                          and r["held"][0]["call_id"] == call, what="the hub shows the call held", timeout=WAIT)
        rc, said = await asyncio.to_thread(fleet.hub.ctl, "deny", run.session, call, "--reason", "not on CI")
        assert rc == 0, said
        decision = await asyncio.wait_for(asking, WAIT)
        assert (decision.verdict, decision.reason) == ("deny", "not on CI")
        await run.flush()
        await asyncio.to_thread(until, lambda: any(
            e["kind"] == "tool.finished" and e["data"].get("status") == "denied"
            for e in fleet.hub.stream(run.session)), what="the hub's stream has the denied call", timeout=WAIT)
    finally:
        await run.close()
        await asyncio.to_thread(screen.stop)


async def test_with_nobody_watching_at_the_hub_a_call_on_an_edge_is_not_held(fleet: Fleet) -> None:
    edge = await asyncio.to_thread(fleet.start_edge, "beta")
    run = await sdk.connect(edge.url, token=edge.token, title="sdk on an edge")
    try:
        await until_async(lambda: any(r["id"] == run.session for r in fleet.listing()),
                          what="the hub lists the agent's session", timeout=WAIT)
        decision = await asyncio.wait_for(run.approval(run.tool_started("shell", {"cmd": "ls"})), WAIT)
        assert decision.verdict == "none" and decision.approved and "nobody is watching" in (decision.reason or "")
    finally:
        await run.close()


def test_a_killed_hub_restarts_as_a_new_epoch_and_has_every_event_once(fleet: Fleet) -> None:
    fleet.start_edge("alpha")
    run = record(fleet.root("alpha"), "s-hub", 30)
    until(lambda: (r := fleet.row("s-hub")) is not None and r["live"], what="the hub has the session",
          timeout=WAIT)
    fleet.kill_hub()
    for i in range(30):
        run.user(f"while the hub is down {i}")
    fleet.restart_hub()
    for i in range(30):
        run.user(f"after {i}")
    run.close()
    want = until(lambda: (got := ids(fleet.edges["alpha"].stream("s-hub"))) and len(got) == 92 and got,
                 what="the edge has the whole recording", timeout=WAIT)
    until(lambda: ids(fleet.hub.stream("s-hub")) == want, what="the new hub has every event once",
          timeout=WAIT)


async def test_a_cut_connection_resumes_from_what_the_hub_acknowledged(tmp_path: Path) -> None:
    cred = f"wke-{uuid.uuid4().hex}"
    (tmp_path / "cred").write_text(f"alpha={cred}\n")
    hub = Served(token=Keyring([(None, TOKEN)], None, [("alpha", cred)]))
    proxy = await Proxy(hub.server.port).start()
    edge = await asyncio.to_thread(start_serve, tmp_path / "alpha", "--upstream", proxy.url,
                                   "--upstream-token-file", str(tmp_path / "cred"))
    try:
        run = record(tmp_path / "alpha" / "home" / ".claude" / "projects", "s-cut", 50)
        await until_async(lambda: (s := hub.relay.session("s-cut")) is not None and s.events >= 51,
                          what="the hub has the first 51 events", timeout=WAIT)
        proxy.cut()
        for i in range(50):
            run.user(f"after the cut {i}")
        run.close()
        source = hub.server.edges.by_name["alpha"]  # the one edge of that name here
        await until_async(lambda: source.connections >= 2, what="the edge dialled again", timeout=WAIT)
        want = await asyncio.to_thread(until, lambda: (got := ids(edge.stream("s-cut"))) and len(got) == 102
                                       and got, what="the edge has the whole recording", timeout=WAIT)
        await until_async(lambda: pushed(hub.relay.read_range("s-cut", 0, 10**6)) == want,
                          what="the hub has every event once", timeout=WAIT)
        stats = source.tracker.stats
        assert (stats["events"], stats["repeats"], stats["missed"]) == (102, 0, 0), stats
    finally:
        await asyncio.to_thread(edge.stop)
        await proxy.close()
        hub.stop()


async def test_a_call_held_on_an_edge_follows_its_policy_when_the_hub_dies(fleet: Fleet) -> None:
    edge = await asyncio.to_thread(fleet.start_edge, "beta", "--reconnect-grace", "0")
    screen = Attached(fleet.hub.url, token=fleet.hub.token)
    run = await sdk.connect(edge.url, token=edge.token, title="sdk on an edge")
    try:
        await until_async(lambda: screen.relay.session(run.session) is not None,
                          what="the person at the hub sees the agent's session", timeout=WAIT)
        call = run.tool_started("shell", {"cmd": "ls"})
        asking = asyncio.create_task(run.approval(call))
        await until_async(lambda: (r := fleet.row(run.session)) is not None and bool(r["held"]),
                          what="the call is held for the hub's people", timeout=WAIT)
        await asyncio.to_thread(fleet.kill_hub)
        decision = await asyncio.wait_for(asking, WAIT)
        assert decision.verdict == "none" and decision.approved and "nobody is watching" in (decision.reason or "")
    finally:
        await run.close()
        await asyncio.to_thread(screen.stop)


def test_an_edge_refuses_a_plain_hub_off_loopback_unless_insecure(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not TLS off loopback"):
        check_upstream("ws://hub.example:47718")
    check_upstream("ws://hub.example:47718", insecure=True)
    check_upstream("wss://hub.example:47718")
    check_upstream("ws://127.0.0.1:47718")
    cred = tmp_path / "cred"
    cred.write_text("wke-x\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WATCHKEEPER_HOME": str(tmp_path / "wk"),
           "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*WATCHKEEPER, "serve", "--no-default-roots", "--upstream", "ws://hub.example:1",
                           "--upstream-token-file", str(cred)], cwd=ROOT, env=env, text=True, capture_output=True,
                          timeout=WAIT)
    assert done.returncode == 2 and "not TLS off loopback" in done.stderr


def test_an_edge_pushes_over_tls_to_a_hub_it_trusts(tmp_path: Path) -> None:
    import ssl

    cert, key = tmp_path / "hub.pem", tmp_path / "hub.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=WAIT)
    (tmp_path / "edges").write_text("alpha=wke-tls-alpha\n")
    (tmp_path / "cred").write_text("alpha=wke-tls-alpha\n")
    hub = start_serve(tmp_path / "hub", "--edge-token-file", str(tmp_path / "edges"), "--certfile", str(cert),
                      "--keyfile", str(key))
    url = hub.url.replace("ws://", "wss://")
    edge = start_serve(tmp_path / "alpha", "--upstream", url, "--upstream-token-file", str(tmp_path / "cred"),
                       "--upstream-cafile", str(cert))
    try:
        record(tmp_path / "alpha" / "home" / ".claude" / "projects", "s-tls", 3).close()
        context = ssl.create_default_context(cafile=str(cert))

        def listed() -> list[Any]:
            reply = asyncio.run(request(url, hub.token, {"t": "sessions", "id": "s"}, ssl_context=context))[1]
            return [r for r in reply["listing"] if r["id"] == "s-tls" and r["origin"]["edge"] == "alpha"]

        until(listed, what="the hub lists the edge's session, over wss://", timeout=WAIT)
    finally:
        edge.stop()
        hub.stop()


def test_an_edge_cannot_report_a_session_another_edge_reports(fleet: Fleet) -> None:
    fleet.start_edge("alpha")
    record(fleet.root("alpha"), "s-same", 3).close()
    until(lambda: (r := fleet.row("s-same")) is not None and r["origin"]["edge"] == "alpha",
          what="the hub has alpha's session", timeout=WAIT)
    fleet.start_edge("beta")
    record(fleet.root("beta"), "s-same", 6).close()
    beta_has = until(lambda: len(got := ids(fleet.edges["beta"].stream("s-same"))) == 8 and got,
                     what="beta has its s-same", timeout=WAIT)
    # beta pushes in the order its relay took them: once s-other is on the hub, beta's s-same went before it
    record(fleet.root("beta"), "s-other", 1).close()
    until(lambda: fleet.row("s-other") is not None, what="the hub has beta's own session", timeout=WAIT)
    alpha_has = ids(fleet.edges["alpha"].stream("s-same"))
    assert len(alpha_has) == 5 and beta_has[:4] == alpha_has[:4]
    assert fleet.row("s-same")["origin"]["edge"] == "alpha"  # type: ignore[index]
    assert pushed(fleet.hub.stream("s-same")) == alpha_has


def test_the_hubs_person_edits_an_edges_breakpoint_rules_and_they_live_on_the_edge(fleet: Fleet) -> None:
    edge = fleet.start_edge("alpha")
    until(lambda: "alpha" in fleet.hub_edges(), what="the edge is connected", timeout=WAIT)
    rule = {"name": "no rm", "tool": "Bash", "input": "rm -rf"}
    msg = {"t": "breakpoints", "id": "b1", "op": "add", "edge": "alpha", "rule": rule}
    reply = asyncio.run(request(fleet.hub.url, fleet.hub.token, msg))[1]
    assert reply.get("error") is None and reply["done"] == "added «no rm»", reply
    assert [r["name"] for r in reply["rules"]] == ["no rm"] and str(edge.home) in reply["where"]
    assert "no rm" in (edge.home / "breakpoints.toml").read_text()
    assert not (fleet.hub.home / "breakpoints.toml").exists()
    gone = asyncio.run(request(fleet.hub.url, fleet.hub.token, {**msg, "id": "b2", "op": "list", "edge": "nobody"}))[1]
    assert gone["error"] == "edge nobody is not connected to this hub"


def test_a_fleet_credential_cannot_take_over_a_named_edge_or_its_name(fleet: Fleet) -> None:
    """An edge on a credential without a name of its own may not call itself a named edge: it took the name's
    breakpoint edits when it connected first, and its sessions were listed as that edge's."""
    fleet.start_edge("alpha")
    record(fleet.root("alpha"), "s-mine", 2).close()
    until(lambda: (r := fleet.row("s-mine")) is not None and r["origin"]["connected"], what="alpha's session",
          timeout=WAIT)
    (fleet.tmp / "fleet.cred").write_text(fleet.fleet_cred + "\n")
    impostor = start_serve(fleet.tmp / "impostor", "--upstream", fleet.hub.url, "--upstream-token-file",
                           str(fleet.tmp / "fleet.cred"), "--edge-name", "alpha")
    fleet.edges["impostor"] = impostor
    line = impostor.out.until("refused by the hub")
    assert "the edge name 'alpha' belongs to another edge credential" in line
    root = fleet.tmp / "impostor" / "home" / ".claude" / "projects"
    record(root, "s-impostor", 1).close()
    until(lambda: len(ids(impostor.stream("s-impostor"))) == 3, what="the impostor has its own session",
          timeout=WAIT)
    record(fleet.root("alpha"), "s-later", 1).close()
    until(lambda: fleet.row("s-later") is not None, what="alpha's later session on the hub", timeout=WAIT)
    rows = {r["id"]: r for r in fleet.listing()}
    assert "s-impostor" not in rows and rows["s-mine"]["origin"]["connected"]
    assert pushed(fleet.hub.stream("s-mine")) == ids(fleet.edges["alpha"].stream("s-mine"))


def test_an_edge_with_a_wrong_credential_says_the_hub_refused_it(fleet: Fleet) -> None:
    (fleet.tmp / "wrong").write_text("wke-not-listed\n")
    edge = start_serve(fleet.tmp / "wrong-edge", "--upstream", fleet.hub.url, "--upstream-token-file",
                       str(fleet.tmp / "wrong"))
    fleet.edges["wrong"] = edge
    line = edge.out.until("refused by the hub")
    assert "401" in line and "--upstream-token-file" in line
    assert not any("Traceback" in seen for seen in edge.out.seen)


def test_an_edge_credential_ending_in_equals_is_read_whole_by_hub_and_edge(tmp_path: Path) -> None:
    """``openssl rand -base64 16`` makes ``X==``, once read as ``name=token``: the edge named X with the token ``=``."""
    from watchkeeper.config import read_people

    secret = "q7Zk3+9fPaLmN0xYvW2RtA=="
    cred = tmp_path / "fleet.cred"
    cred.write_text(secret + "\n")
    ring = Keyring([(None, TOKEN)], None, read_people(cred))
    assert ring.edge(secret) is not None and ring.edge("=") is None
    hub = start_serve(tmp_path / "hub", "--edge-token-file", str(cred))
    edge = start_serve(tmp_path / "alpha", "--upstream", hub.url, "--upstream-token-file", str(cred),
                       "--edge-name", "alpha")
    try:
        record(tmp_path / "alpha" / "home" / ".claude" / "projects", "s-b64", 2).close()

        def listed() -> list[Any]:
            reply = asyncio.run(request(hub.url, hub.token, {"t": "sessions", "id": "s"}))[1]
            return [r for r in reply["listing"] if r["id"] == "s-b64" and r["origin"]["edge"] == "alpha"]

        until(listed, what="the hub lists the session of the edge holding the whole credential", timeout=WAIT)
    finally:
        edge.stop()
        hub.stop()
