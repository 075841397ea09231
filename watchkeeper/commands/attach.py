"""``watchkeeper attach ws[s]://HOST:PORT [...]``: the viewer over one or more remote relays.

A local relay follows each remote one (``adapters.remote.RemoteSource``), so
the sessions and session screens work as if local, controls included, and
several relays share one sessions screen; the palette's breakpoint commands
edit each remote relay's own rules (checked there, where calls are held). The token comes from
``--token-file``, else ``$WATCHKEEPER_TOKEN``, else this machine's token
file; it goes only into the handshake's ``Authorization`` header.
``--json`` prints the events as JSON lines instead of opening the viewer.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from typing import Any

HELP = "watch and steer the sessions of remote relays (`watchkeeper serve`) over websocket"
EXIT_REFUSED = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("urls", nargs="+", metavar="URL", help="ws://HOST:PORT or wss://HOST:PORT (several: "
                        "their sessions share one screen)")
    parser.add_argument("--token-file", metavar="F", help="the token (default: $WATCHKEEPER_TOKEN, "
                        "else this machine's token file)")
    parser.add_argument("--cafile", metavar="C", help="trust this certificate (PEM) for wss://, e.g. "
                        "the server's own self-signed one")
    parser.add_argument("--json", action="store_true", help="print events as JSON lines; no viewer")


def client_ssl(cafile: str | None) -> ssl.SSLContext | None:
    if cafile is None:
        return None
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def run(args: argparse.Namespace) -> int:
    from .. import config
    from ..adapters.remote import RemoteSource
    from ..protocol.display import visible, visible_logging
    from ..relay import Relay

    visible_logging()

    try:
        token = config.client_token(args.token_file)
        context = client_ssl(args.cafile)
        sources = [RemoteSource(url, token, ssl_context=context) for url in args.urls]
    except (ValueError, OSError, ssl.SSLError) as e:
        print(visible(f"watchkeeper attach: {e}"), file=sys.stderr)
        return EXIT_REFUSED
    problems = asyncio.run(_probe_all(args.urls, token, context))
    for url, why in problems.items():
        print(visible(f"watchkeeper attach: {url}: {why}"), file=sys.stderr)
    if any(why.startswith("refused") for why in problems.values()) or len(problems) == len(args.urls):
        return EXIT_REFUSED
    relay = Relay().start()
    for source in sources:
        relay.add_source(source)
    try:
        return _print_events(relay) if args.json else _view(relay, args.urls, sources)
    finally:
        relay.stop()


async def _probe_all(urls: list[str], token: str | None, context: ssl.SSLContext | None) -> dict[str, str]:
    """Each relay's answer before the viewer opens: a refused token is said here, plainly, not in the UI."""
    from websockets.exceptions import InvalidURI

    from ..adapters.remote import RemoteError, probe

    async def one(url: str) -> str | None:
        try:
            await probe(url, token, ssl_context=context, timeout=10.0)
        except RemoteError as e:
            return f"refused ({e})" if str(e)[:3] in ("401", "403") else str(e)
        except (OSError, TimeoutError) as e:
            return f"no relay answers ({e!r}); will keep trying"
        except (ValueError, InvalidURI) as e:
            return f"not a usable relay ({e}); will keep trying"
        return None

    answers = await asyncio.gather(*(one(u) for u in urls))
    return {url: why for url, why in zip(urls, answers, strict=True) if why is not None}


def _view(relay: Any, urls: list[str], sources: list[Any]) -> int:
    """The viewer; its breakpoint commands act on each remote relay's own rules (a hub's: each edge's too)."""
    from .. import config
    from ..adapters.remote.book import RemoteBooks
    from ..viewer import WatchkeeperApp
    from ..viewer.model.control_availability import SteerSetup

    steer = SteerSetup(breakpoints=RemoteBooks(sources))
    WatchkeeperApp(relay, looked_in=urls, steer=steer, preferences=config.preferences_path()).run()
    return 0


def _print_events(relay: Any) -> int:
    import queue

    from ..protocol import encode_line
    from ..protocol.display import TerminalJson

    inbox: queue.SimpleQueue[list[Any]] = queue.SimpleQueue()
    relay.subscribe(inbox.put)
    out: Any = TerminalJson(sys.stdout.buffer) if sys.stdout.isatty() else sys.stdout.buffer
    try:
        while True:
            for ev in inbox.get():
                out.write(encode_line(ev))
            out.flush()
    except (KeyboardInterrupt, BrokenPipeError):
        return 0
