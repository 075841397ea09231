"""``watchkeeper events PATH|DIR [--follow]``: protocol events as JSON lines, for scripts and ``jq``.

Both ways go through a relay, so ``seq`` and ``epoch`` are set exactly as a
live viewer would see them: one-shot, a file's conversion is one source; with
``--follow``, each session file is tailed (and, for a directory, sessions that
appear later are picked up) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from ..protocol import Event

HELP = "print protocol events as JSON lines: convert a transcript (or a directory), or --follow it live"

#: Exit code for a path that is missing or cannot be read.
EXIT_UNREADABLE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH|DIR",
                        help="a transcript file, or a directory searched for session files")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing events as files grow (and new sessions appear) until Ctrl-C")


def run(args: argparse.Namespace) -> int:
    from ..adapters.files.discovery import scan_sessions

    path = Path(args.path)
    problem = _unreadable(path)
    if problem:
        _say(problem)
        return EXIT_UNREADABLE
    if path.is_dir():
        files = sorted(p for p, _ in scan_sessions(path)[0])
        if not files and not args.follow:
            _say(f"no session files found under {path}")
    else:
        files = [path]
    out = sys.stdout.buffer
    try:
        return _follow(path, files, out) if args.follow else _convert(files, out)
    except BrokenPipeError:
        # The reader (``head``, a closed ``jq``) is gone: that is the end, not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _convert(files: list[Path], out: IO[bytes]) -> int:
    from ..relay import IterSource, Relay

    failed: list[str] = []
    relay = Relay()
    inbox: queue.SimpleQueue[list[Event] | None] = queue.SimpleQueue()
    relay.subscribe(inbox.put)
    relay.add_source(IterSource("convert", _events_of(files, failed)))
    relay.start()

    def drain() -> None:
        relay.drain()
        inbox.put(None)

    threading.Thread(target=drain, name="events-drain", daemon=True).start()
    try:
        while (batch := inbox.get()) is not None:
            _write(out, batch)
        out.flush()
    finally:
        relay.stop()
    for message in failed:
        _say(message)
    return EXIT_UNREADABLE if failed else 0


def _events_of(files: list[Path], failed: list[str]) -> Iterator[Event]:
    from ..adapters.files.feed import convert_file

    for path in files:
        problem = _unreadable(path)
        if problem:
            failed.append(problem)
            continue
        try:
            yield from convert_file(path)
        except OSError as e:
            failed.append(f"cannot read {path}: {e.strerror or e}")


def _follow(path: Path, files: list[Path], out: IO[bytes]) -> int:
    from ..adapters.files.source import DirectorySource, TranscriptSource
    from ..relay import Relay

    relay = Relay()
    inbox: queue.SimpleQueue[list[Event]] = queue.SimpleQueue()
    relay.subscribe(inbox.put)
    if path.is_dir():
        relay.add_source(DirectorySource([path], lambda p: relay.add_source(TranscriptSource(p))))
    else:
        relay.add_source(TranscriptSource(path))
    # Ctrl-C stops following even when the shell that started us ignored SIGINT (a background job).
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    relay.start()
    try:
        while True:
            try:
                batch = inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            _write(out, batch)
            out.flush()
    except KeyboardInterrupt:
        relay.stop()
        while not inbox.empty():
            _write(out, inbox.get())
        out.flush()
        return 0
    finally:
        relay.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write(out: IO[bytes], batch: list[Event]) -> None:
    """The batch as JSON lines; an event that cannot be written as it is comes out cut and marked."""
    from ..protocol import encode_lines

    out.write(encode_lines(batch, default=str))


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be read, in words for the person; None if it can."""
    try:
        if path.is_dir():
            with os.scandir(path):
                return None
        with path.open("rb") as f:
            f.read(1)
        return None
    except FileNotFoundError:
        return f"no such file or directory: {path}"
    except OSError as e:
        return f"cannot read {path}: {e.strerror or e}"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(message: str) -> None:
    from ..protocol.display import visible

    print(visible(f"watchkeeper events: {message}"), file=sys.stderr)
