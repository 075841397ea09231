"""What an edge owes its hub survives the edge: real ``serve`` processes on loopback, SIGKILL, restarts.

Agents report to an edge (``serve --upstream``) while the hub is unreachable
(a gate in front of it refuses connections) or mid-stream: an SDK agent (its
own process, ``edge_agent.py``), an ACP agent (``run --acp``), the real Claude
Code (``run --``, hooked). The edge acknowledges an SDK agent's events once
they are recorded, so the agent forgets them, and is then SIGKILLed. The
restarted edge reads what the hub never acknowledged back from the sessions'
recordings and pushes it: the hub has every event once, in order, with its
content. Past the edge's cap (``--upstream-keep``) the oldest owed events are
dropped, and a ``notice`` says which, on the edge and on the hub's screen.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fleet_support import Fleet, pushed
from remote_steering_support import ROOT, WATCHKEEPER, Serve, start_serve
from remote_support import Proxy
from test_remote_cli import Lines, free_port
from waiting import until

WAIT = 30.0


class Agent:
    """``edge_agent.py`` as a process: an SDK agent whose run goes on across its relay's restarts."""

    def __init__(self, edge: Serve) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "edge_agent.py"), edge.url, edge.token],
                                     cwd=ROOT, env=edge.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        self.out = Lines(self.proc.stdout)
        self.session = self.out.until("session ").split()[1]
        self.reported = 1
        self.said = 0

    def say(self, n: int, size: int = 0) -> None:
        """``n`` more messages; returns once the edge acknowledged them all (the agent keeps none)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"say {n} {size}\n")
        self.proc.stdin.flush()
        self.reported += n
        self.said += 1
        until(lambda: sum(1 for line in self.out.seen if line.startswith("acked ")) >= self.said,
              what="the edge acknowledged the agent's events", timeout=WAIT, condition=self.out.changed,
              seen=lambda: self.out.seen[-3:])
        last = [line for line in self.out.seen if line.startswith("acked ")][-1]
        assert last.split()[1] == str(self.reported), self.out.seen

    def ids(self, start: int = 0, stop: int | None = None) -> list[str]:
        return [f"sdk:{self.session}:{n}" for n in range(start, self.reported if stop is None else stop)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class Edges(Fleet):
    """The fleet, with an edge that restarts on its own address and config directory (as a service would)."""

    def restart_edge(self, name: str, *args: str, hub: str | None = None) -> Serve:
        old = self.edges[name]
        port = old.url.rsplit(":", 1)[1]
        cred = self.tmp / f"{name}.cred"
        proc = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-default-roots",
                                 "--root", str(self.root(name)), "--upstream", hub or self.hub.url,
                                 "--upstream-token-file", str(cred), *args], cwd=ROOT, env=old.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        edge = self.edges[name] = Serve(proc, Lines(proc.stdout), old.url, old.env, old.home)
        edge.out.until("attach:")
        return edge

    def kill(self, name: str) -> None:
        os.kill(self.edges[name].proc.pid, signal.SIGKILL)
        self.edges[name].proc.wait(10)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Edges]:
    f = Edges(tmp_path)
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    started: list[Agent] = []
    try:
        yield started
    finally:
        for agent in started:
            agent.stop()


def messages(events: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [(e["id"], e["kind"], e["data"].get("text")) for e in events if not e["id"].startswith("edge:")]


class Gate(Proxy):
    """The way to the hub: ``down()`` cuts it and refuses new connections (the hub is unreachable), ``up()``."""

    closed = False

    def down(self) -> None:
        self.closed = True
        self.cut()

    def up(self) -> None:
        self.closed = False

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.closed:
            writer.transport.abort()
            return
        await super()._handle(reader, writer)


async def test_sdk_events_a_killed_edge_acknowledged_reach_the_hub_once_after_its_restart(
        fleet: Edges, agents: list[Agent]) -> None:
    gate = await Gate(int(fleet.hub.url.rsplit(":", 1)[1])).start()
    try:
        edge = await asyncio.to_thread(fleet.start_edge, "alpha", hub=gate.url)
        agent = await asyncio.to_thread(Agent, edge)
        agents.append(agent)
        sid = agent.session
        await asyncio.to_thread(agent.say, 5)
        await asyncio.to_thread(until, lambda: pushed(fleet.hub.stream(sid)) == agent.ids(),
                                what="the hub has the first events", timeout=WAIT)
        gate.down()
        await asyncio.to_thread(agent.say, 40)  # the edge has them (and told the agent so), the hub does not
        fleet.kill("alpha")
        await asyncio.to_thread(fleet.restart_edge, "alpha", hub=gate.url)
        gate.up()
        await asyncio.to_thread(agent.say, 5)  # the agent's run goes on through the restarted edge
        await asyncio.to_thread(until, lambda: pushed(fleet.hub.stream(sid)) == agent.ids(),
                                what="the hub has every event once, in order", timeout=WAIT,
                                seen=lambda: (len(agent.ids()), pushed(fleet.hub.stream(sid))[-3:]))
        got = messages(await asyncio.to_thread(fleet.hub.stream, sid))
        assert [text for _, kind, text in got if kind == "message.user"] == \
            [f"message {n} " for n in range(1, agent.reported)]
    finally:
        await gate.close()


async def test_past_its_cap_an_edge_drops_the_oldest_owed_events_and_the_hub_shows_which(
        fleet: Edges, agents: list[Agent]) -> None:
    gate = await Gate(int(fleet.hub.url.rsplit(":", 1)[1])).start()
    marks = fleet.tmp / "alpha" / "wk-config" / "recorded-sessions.json"
    try:
        edge = await asyncio.to_thread(fleet.start_edge, "alpha", "--upstream-keep", "0.02", hub=gate.url)
        agent = await asyncio.to_thread(Agent, edge)
        agents.append(agent)
        sid = agent.session
        await asyncio.to_thread(agent.say, 3)
        recording = edge.home / "recordings" / f"{sid}.jsonl"

        def all_acknowledged() -> bool:
            four = sum(len(line) + 1 for line in recording.read_bytes().split(b"\n")[:4])
            return bool(orjson.loads(marks.read_bytes())["sessions"].get(sid, [0, 0])[1] == four)

        await asyncio.to_thread(until, all_acknowledged, what="the edge heard the hub acknowledge its 4 events",
                                timeout=WAIT)
        gate.down()
        await asyncio.to_thread(agent.say, 60, 1000)  # ~60 KB owed, over the 20 KiB cap
        line = await asyncio.to_thread(edge.out.until, "were not pushed to the hub")
        assert "capped at 0 MiB" not in line and "--upstream-keep" in line

        def dropped_on_edge() -> list[dict[str, Any]]:
            return [e for e in edge.stream(sid)
                    if e["kind"] == "notice" and e["data"].get("code") == "upstream-dropped"]

        # the agent's 60 went in one frame, recorded in one batch: the cap drops them in one go
        (notice,) = await asyncio.to_thread(until, dropped_on_edge, what="the edge's notice", timeout=WAIT)
        on_edge = await asyncio.to_thread(edge.stream, sid)
        first, last, n = (notice["data"][k] for k in ("first_seq", "last_seq", "dropped"))
        assert first == 4 and n == last - first + 1 and 30 < n < 60, notice["data"]
        dropped = {e["id"] for e in on_edge if first <= e["seq"] <= last}
        gate.up()
        kept = [e["id"] for e in on_edge if e["id"] not in dropped]
        await asyncio.to_thread(until, lambda: notice["id"] in pushed(fleet.hub.stream(sid)),
                                what="the hub has the edge's notice", timeout=WAIT)
        on_hub = await asyncio.to_thread(fleet.hub.stream, sid)
        assert [e["id"] for e in on_hub if e["id"] in set(kept)] == kept, "the rest once, in order"
        assert not dropped & {e["id"] for e in on_hub}, "the dropped ones never reached the hub"
        shown = [e["data"]["text"] for e in on_hub if e["kind"] == "notice"]
        assert any(f"{n} events of this session (seq {first}–{last})" in text for text in shown), shown
        await a_person_at_the_hub_reads(fleet, sid, f"{n} events of this session")
    finally:
        await gate.close()


async def a_person_at_the_hub_reads(fleet: Edges, session: str, text: str) -> None:
    """``attach`` to the hub (the app under its pilot): the session shows ``text``."""
    from remote_support import Attached
    from test_viewer_support import screen_text
    from waiting import until_app

    from watchkeeper.viewer import WatchkeeperApp
    from watchkeeper.viewer.screens.session import SessionScreen

    attached = Attached(fleet.hub.url, token=fleet.hub.token)
    try:
        app = WatchkeeperApp(attached.relay)
        async with app.run_test(size=(160, 45)) as pilot:
            await until_app(pilot, lambda: app.session_info(session) is not None, timeout=WAIT)
            app.open_session(session)
            await until_app(pilot, lambda: isinstance(app.screen, SessionScreen), timeout=WAIT)
            await until_app(pilot, lambda: text in screen_text(app), what=f"{text!r} on the screen", timeout=WAIT,
                            seen=lambda: screen_text(app))
    finally:
        await asyncio.to_thread(attached.stop)


async def test_an_sdk_agent_is_told_its_events_arrived_only_once_they_are_recorded(tmp_path: Path) -> None:
    from remote_support import TOKEN

    from watchkeeper import sdk
    from watchkeeper.relay import Relay
    from watchkeeper.relay.recorder import Recorder
    from watchkeeper.relay.servers.wsserver import serve_ws

    relay = Relay(flush_interval=0.2).start()  # the recorder writes a batch at most five times a second
    recorder = Recorder(tmp_path / "rec", read_range=relay.read_range)
    server = serve_ws(relay, TOKEN)
    server.record_to(recorder)
    recorder.want = server.agent_sessions.__contains__
    relay.subscribe(recorder)
    try:
        assert await asyncio.to_thread(server.ready.wait, WAIT)
        run = await sdk.connect(server.url, token=TOKEN, title="an agent")
        for i in range(20):
            run.user(f"message {i}")
        assert await run.flush(WAIT)
        assert recorder.covered(run.session) >= 21, "acknowledged before it was on disk"
        await run.close()
    finally:
        relay.stop()
        recorder.close()


async def test_an_edge_killed_mid_stream_and_restarted_loses_and_doubles_nothing(
        fleet: Edges, agents: list[Agent]) -> None:
    edge = await asyncio.to_thread(fleet.start_edge, "alpha")
    agent = await asyncio.to_thread(Agent, edge)
    agents.append(agent)
    sid = agent.session
    saying = asyncio.create_task(asyncio.to_thread(agent.say, 3000, 200))
    await asyncio.to_thread(until, lambda: len(pushed(fleet.hub.stream(sid))) > 10,
                            what="the hub has part of the stream", timeout=WAIT)
    await asyncio.to_thread(fleet.kill, "alpha")
    await asyncio.to_thread(fleet.restart_edge, "alpha")
    await asyncio.wait_for(saying, WAIT)  # the agent sent again what the killed edge had not acknowledged
    await asyncio.to_thread(agent.say, 5)
    await asyncio.to_thread(until, lambda: pushed(fleet.hub.stream(sid)) == agent.ids(),
                            what="the hub has every event once, in order", timeout=WAIT,
                            seen=lambda: (len(agent.ids()), len(pushed(fleet.hub.stream(sid)))))


async def test_an_acp_agents_session_owed_by_a_killed_edge_reaches_the_hub_after_its_restart(
        fleet: Edges, tmp_path: Path) -> None:
    gate = await Gate(int(fleet.hub.url.rsplit(":", 1)[1])).start()
    try:
        gate.down()  # the hub is unreachable from the start
        edge = await asyncio.to_thread(fleet.start_edge, "alpha", hub=gate.url)
        agent = [sys.executable, str(ROOT / "tests" / "acp_agent.py"), str(tmp_path / "advertised.json")]
        started = await asyncio.to_thread(
            subprocess.run, [str(Path(sys.executable).parent / "watchkeeper"), "run", "--acp", "--prompt", "edit",
                             "--", *agent], env=edge.env, cwd=tmp_path, capture_output=True, text=True, timeout=WAIT)
        assert started.returncode == 0, started.stderr
        sid = started.stdout.split()[2]
        recording = edge.home / "recordings" / f"{sid}.jsonl"

        def turn_recorded() -> list[str] | None:
            events = edge.stream(sid)
            ended = any(e["kind"] == "usage" for e in events)
            lines = recording.read_bytes().count(b"\n") if recording.exists() else 0
            return [e["id"] for e in events] if ended and lines >= len(events) else None

        had = await asyncio.to_thread(until, turn_recorded, what="the edge recorded the agent's turn", timeout=WAIT)
        await asyncio.to_thread(fleet.kill, "alpha")
        await asyncio.to_thread(fleet.restart_edge, "alpha", hub=gate.url)
        gate.up()
        await asyncio.to_thread(until, lambda: [i for i in pushed(fleet.hub.stream(sid)) if i in set(had)] == had,
                                what="the hub has the ACP session as the killed edge had it", timeout=WAIT,
                                seen=lambda: (len(had), pushed(fleet.hub.stream(sid))))
        on_hub = pushed(await asyncio.to_thread(fleet.hub.stream, sid))
        assert len(on_hub) == len(set(on_hub))
    finally:
        await gate.close()


@pytest.mark.node
async def test_a_hooked_claude_session_owed_by_a_killed_edge_reaches_the_hub_after_its_restart(
        fleet: Edges) -> None:
    from remote_steering_support import start_claude
    from standins.anthropic import ScriptedAnthropic
    from test_remote_steering_live import NEWEST, two_writes

    gate = await Gate(int(fleet.hub.url.rsplit(":", 1)[1])).start()
    try:
        gate.down()
        edge = await asyncio.to_thread(fleet.start_edge, "alpha", hub=gate.url)

        def claude_runs() -> str:
            with ScriptedAnthropic(two_writes()) as api, \
                    start_claude(edge, NEWEST, api, fleet.tmp / "alpha-run") as proc:
                assert proc.wait(60).returncode == 0
                return proc.session_id

        sid = await asyncio.to_thread(claude_runs)
        recording = edge.home / "recordings" / f"{sid}.jsonl"

        def recorded() -> list[str] | None:
            """Every hook was answered before Claude Code exited: the edge has them all, once they are written."""
            events = edge.stream(sid)
            lines = recording.read_bytes().count(b"\n") if recording.exists() else 0
            return [e["id"] for e in events] if events and lines >= len(events) else None

        had = await asyncio.to_thread(until, recorded, what="the edge recorded the session", timeout=WAIT,
                                      seen=lambda: ([(e["id"], e["kind"]) for e in edge.stream(sid)],
                                                    recording.exists() and recording.read_bytes().count(b"\n")))
        assert any(i.startswith("hook:") for i in had), "events only the hooks said, in no transcript"
        await asyncio.to_thread(fleet.kill, "alpha")
        await asyncio.to_thread(fleet.restart_edge, "alpha", hub=gate.url)
        gate.up()
        await asyncio.to_thread(until, lambda: [i for i in pushed(fleet.hub.stream(sid)) if i in set(had)] == had,
                                what="the hub has the session as the killed edge had it", timeout=WAIT,
                                seen=lambda: (len(had), len(pushed(fleet.hub.stream(sid)))))
        on_hub = pushed(await asyncio.to_thread(fleet.hub.stream, sid))
        assert len(on_hub) == len(set(on_hub)) and set(had) <= set(on_hub)
    finally:
        await gate.close()


async def test_an_edge_then_the_hub_killed_and_restarted_the_hub_has_the_whole_session_once(
        fleet: Edges, agents: list[Agent]) -> None:
    edge = await asyncio.to_thread(fleet.start_edge, "alpha")
    agent = await asyncio.to_thread(Agent, edge)
    agents.append(agent)
    sid = agent.session
    hub_has_all = lambda: pushed(fleet.hub.stream(sid)) == agent.ids()  # noqa: E731
    await asyncio.to_thread(agent.say, 20)
    await asyncio.to_thread(until, hub_has_all, what="the hub has the first events", timeout=WAIT)
    marks, recording = edge.home / "recorded-sessions.json", edge.home / "recordings" / f"{sid}.jsonl"
    await asyncio.to_thread(until, lambda: orjson.loads(marks.read_bytes())["sessions"][sid][1]
                            == recording.stat().st_size, what="the edge owes the hub nothing", timeout=WAIT)
    await asyncio.to_thread(fleet.kill, "alpha")
    await asyncio.to_thread(fleet.restart_edge, "alpha")  # reads the session back from its recording
    await asyncio.to_thread(agent.say, 5)
    await asyncio.to_thread(until, hub_has_all, what="the hub has the events after the edge's restart",
                            timeout=WAIT)
    await asyncio.to_thread(fleet.kill_hub)
    await asyncio.to_thread(fleet.restart_hub)  # a new hub has nothing: the edge pushes all it holds
    await asyncio.to_thread(agent.say, 5)
    await asyncio.to_thread(until, hub_has_all, what="the new hub has the whole session once, in order",
                            timeout=WAIT, seen=lambda: (len(agent.ids()), pushed(fleet.hub.stream(sid))[:3]))


def test_a_killed_serve_reads_its_sdk_sessions_back_on_restart(tmp_path: Path, agents: list[Agent]) -> None:
    from remote_steering_support import start_serve

    serve = start_serve(tmp_path / "solo")
    try:
        agent = Agent(serve)
        agents.append(agent)
        agent.say(12)
        had = [e["id"] for e in serve.stream(agent.session)]
        assert had == agent.ids()
        os.kill(serve.proc.pid, signal.SIGKILL)
        serve.proc.wait(10)
        port = serve.url.rsplit(":", 1)[1]
        proc = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-default-roots"],
                                cwd=ROOT, env=serve.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        serve = Serve(proc, Lines(proc.stdout), serve.url, serve.env, serve.home)
        serve.out.until("attach:")
        assert [e["id"] for e in serve.stream(agent.session)] == had, "as the killed serve had it"
        agent.say(3)
        assert [e["id"] for e in serve.stream(agent.session)] == agent.ids()
    finally:
        serve.stop()


@pytest.mark.parametrize(("args", "said"), [
    (["--upstream-keep", "5"], "go with --upstream"),
    (["--upstream", "ws://127.0.0.1:9", "--upstream-token-file", "cred", "--upstream-keep", "0"], "more than 0"),
])
def test_upstream_keep_is_checked_before_anything_starts(tmp_path: Path, args: list[str], said: str) -> None:
    (tmp_path / "cred").write_text("wke-x\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WATCHKEEPER_HOME": str(tmp_path / "wk"),
           "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*WATCHKEEPER, "serve", "--no-default-roots", *args], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=WAIT)
    assert done.returncode == 2 and said in done.stderr, done.stderr


def test_a_second_serve_on_the_same_config_directory_is_refused_until_the_first_is_gone(tmp_path: Path) -> None:
    """Two would overwrite each other's marks of what was recorded and acknowledged; a SIGKILLed one lets go."""
    first = start_serve(tmp_path)
    try:
        port = str(free_port())
        second = subprocess.run([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-hooks",
                                 "--no-default-roots"], cwd=ROOT, env=first.env, text=True, capture_output=True,
                                timeout=WAIT)
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"another watchkeeper serve (pid {first.proc.pid}) uses {first.home}" in second.stderr
        assert "WATCHKEEPER_HOME" in second.stderr and "attach:" not in second.stdout
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(WAIT)
        again = subprocess.Popen([*WATCHKEEPER, "serve", "--bind", f"127.0.0.1:{port}", "--no-hooks",
                                  "--no-default-roots"], cwd=ROOT, env=first.env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert again.stdout is not None
        try:
            Lines(again.stdout).until("attach:")
        finally:
            again.send_signal(signal.SIGTERM)
            again.wait(WAIT)
    finally:
        first.stop()
