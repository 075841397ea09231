"""Whether a remote session is live, and its state, are the remote relay's word on the attach side.

The attach side's relay runs one ``RemoteSource`` per remote relay for as long
as it is connected, so "a source of it runs" says nothing about a remote
session: it takes ``live`` and ``state`` from the remote relay's session
summaries. Real sockets on loopback; the remote sessions end in the ways they
do: an agent that drops its connection without ending its session, a
recording read to its end.
"""

from __future__ import annotations

from remote_support import TOKEN, Attached, Proxy, Served
from waiting import until_async

from watchkeeper import sdk
from watchkeeper.protocol import make_event
from watchkeeper.relay import IterSource
from watchkeeper.relay.api import SessionInfo

POLL = 0.1


def attach(served: Served, poll: float = POLL) -> Attached:
    return Attached(served.url, poll=poll)


def local(attached: Attached, session: str) -> SessionInfo | None:
    return attached.relay.session(session)


async def test_an_agent_gone_from_the_remote_relay_is_not_live_here() -> None:
    served = Served()
    run = await sdk.connect(served.url, token=TOKEN, title="about to vanish")
    attached = attach(served)
    try:
        run.user("working")
        run.state("running")
        await run.flush()
        await until_async(lambda: (i := local(attached, run.session)) is not None and i.live and i.events == 3,
                    what="the live remote session")
        await run._link._stop()  # the agent's process dies: no session.ended
        await until_async(lambda: not served.relay.session(run.session).live,  # type: ignore[union-attr]
                    what="the remote relay sees the agent gone")
        await until_async(lambda: not local(attached, run.session).live,  # type: ignore[union-attr]
                    what="the attach side follows the remote relay's word")
        info = local(attached, run.session)
        assert info is not None and info.state == "running" and info.events == 3
        assert attached.source._ws is not None, "the connection to the remote relay is still up"
    finally:
        attached.stop()
        served.stop()


async def test_a_finished_remote_session_shows_its_remote_state_and_not_live() -> None:
    """Read to its end over there; its state event is older than what the remote relay lets us read back."""
    served = Served(history=5)
    sid = "s-recorded"
    events = [make_event("e-start", sid, "session.started", {"agent_kind": "codex", "title": "a recording"}),
              make_event("e-state", sid, "state", {"state": "paused"}),
              *(make_event(f"e{i}", sid, "notice", {"level": "info", "text": f"#{i}"}) for i in range(10))]
    served.relay.add_source(IterSource("recording", events))
    await until_async(lambda: (i := served.relay.session(sid)) is not None and i.events == 12 and not i.live,
                what="the remote relay has read it all")
    attached = attach(served)
    try:
        await until_async(lambda: len(attached.events(sid)) == 6, what="the window and the missed-events notice")
        await until_async(lambda: (i := local(attached, sid)) is not None and i.state == "paused" and not i.live,
                    what="the remote relay's state and liveness")
        assert attached.source.session_status(sid) == (False, "paused")
    finally:
        attached.stop()
        served.stop()


async def test_live_remote_sessions_stay_live_and_new_events_win_over_an_older_summary() -> None:
    served = Served()
    run = await sdk.connect(served.url, token=TOKEN, title="steady")
    run.state("running")
    await run.flush()
    total = len(served.events(run.session))
    # A summary is asked for on connecting, then only an hour later: none comes in unasked.
    proxy = await Proxy(served.port).start()
    attached = Attached(proxy.url, poll=3600.0)
    try:
        source = attached.source
        await until_async(lambda: source.tracker.sessions[run.session].next == total, what="the session's events")
        await until_async(lambda: source.answered == source.asked == 1, what="the summary asked for on connecting")
        # The first summary may have answered before the events came (it goes first): reconnect for a fresh one.
        proxy.cut()
        await until_async(lambda: source.connections == 2 and source.answered == source.asked == 2,
                          what="the summary asked for on reconnecting")
        assert source.session_status(run.session) == (True, "running"), "the remote relay's word"
        answered = source.answered
        run.state("idle", "waiting for input")
        await run.flush()
        await until_async(lambda: (i := local(attached, run.session)) is not None and i.state == "idle",
                    what="the newer state event")
        assert local(attached, run.session).live  # type: ignore[union-attr]
        assert source.session_status(run.session) == (True, None) and source.answered == answered
    finally:
        await run.close()
        attached.stop()
        await proxy.close()
        served.stop()
