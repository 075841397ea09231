"""``watchkeeper events PATH|DIR [--follow]``: protocol events as JSON lines, for scripts and ``jq``.

``seq`` and ``epoch`` are set exactly as a live viewer would see them. One-shot,
the conversion streams: each event is fitted, deduplicated by id and numbered per
session as the relay's book does (``relay/book.py``), and written in chunks, so
memory does not grow with the file (ids are kept as 64-bit hashes, ``relay/idset.py``).
With ``--follow`` it goes through a relay: each session file is tailed (and, for a
directory, sessions that appear later are picked up) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

    from ..protocol import Event
    from ..protocol.display import TerminalJson

    #: Where the JSON lines go: stdout, through ``TerminalJson`` when it is a terminal.
    Out = IO[bytes] | TerminalJson

HELP = "print protocol events as JSON lines: convert a transcript (or a directory), or --follow it live"

#: Exit code for a path that is missing or cannot be read.
EXIT_UNREADABLE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH|DIR",
                        help="a transcript file, or a directory searched for session files")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing events as files grow (and new sessions appear) until Ctrl-C")


def run(args: argparse.Namespace) -> int:
    from ..cli_paths import path_problem

    path = Path(args.path)
    problem = path_problem(path)
    if problem:
        _say(problem)
        return EXIT_UNREADABLE
    if path.is_dir():
        from ..adapters.files.discovery import scan_sessions

        files = sorted(p for p, _ in scan_sessions(path)[0])
        if not files and not args.follow:
            _say(f"no session files found under {path}")
    else:
        files = [path]
    out: Out = sys.stdout.buffer
    if sys.stdout.isatty():
        from ..protocol.display import TerminalJson

        out = TerminalJson(out)
    try:
        return _follow(path, files, out) if args.follow else _convert(files, out)
    except BrokenPipeError:
        # The reader (``head``, a closed ``jq``) is gone: that is the end, not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


#: Events written at a time by the one-shot conversion.
CHUNK = 2000
#: ``fit`` allows the event wrapped in two lists (4 bytes) up to the limit; ``seq`` and ``epoch`` add ~40.
_FIT_SLACK = 4 + 48
#: Young-generation threshold while converting: a conversion makes no reference cycles of its own (events
#: and records are freed by reference counting), so CPython's default (700) only rescans the events in
#: flight; at this one a crafted file's cycles are still collected, ~5% of the run less (a 200 MB file).
_GC_YOUNG = 100_000


def _convert(files: list[Path], out: Out) -> int:
    import gc

    import orjson

    from ..protocol import MAX_EVENT_BYTES, encode_line, fit, raw_event
    from ..relay.idset import IdSet
    from ..relay.names import UNKNOWN_SESSION, new_epoch

    failed: list[str] = []
    epoch = new_epoch()
    seqs: dict[str, int] = {}
    seen: dict[str, IdSet] = {}
    lines: list[bytes] = []
    dumps = orjson.dumps
    largest = MAX_EVENT_BYTES + _FIT_SLACK
    # The session of the event before, its next seq and its ids' ``add_new``: events come in long runs of
    # one session, so the dicts above are touched only when it changes.
    sid: str | None = None
    n = 0
    add_new: Callable[[str], bool] = IdSet().add_new
    thresholds = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG, *thresholds[1:])
    try:
        for batch in _batches(files, failed):
            for ev in batch:
                if not isinstance(ev, dict):
                    ev = raw_event(UNKNOWN_SESSION, repr(ev), "a source emitted a non-event", "convert")
                session = ev.get("session") or UNKNOWN_SESSION
                if session != sid:
                    if sid is not None:
                        seqs[sid] = n
                    sid, n = session, seqs.get(session, 0)
                    ids = seen.get(session)
                    if ids is None:
                        ids = seen[session] = IdSet()
                    add_new = ids.add_new
                eid = ev.get("id")
                if eid is not None and not add_new(eid):
                    continue
                ev["seq"] = n
                n += 1
                ev["epoch"] = epoch
                # One encoding both checks the event fits (as ``fit`` does, wrapped as a frame wraps it) and
                # is the line.
                try:
                    wrapped = dumps([[ev]])
                except TypeError:
                    wrapped = b""
                if wrapped and len(wrapped) <= largest:
                    lines.append(wrapped[2:-2])
                else:
                    lines.append(encode_line(fit(ev))[:-1])
            if len(lines) >= CHUNK:
                lines.append(b"")
                out.write(b"\n".join(lines))
                lines = []
    finally:
        gc.set_threshold(*thresholds)
    if lines:
        lines.append(b"")
        out.write(b"\n".join(lines))
    out.flush()
    for message in failed:
        _say(message)
    return EXIT_UNREADABLE if failed else 0


def _batches(files: list[Path], failed: list[str]) -> Iterator[list[Event]]:
    """The events of each file (and its subagent files), a chunk of the file at a time, as ``convert_file``
    reads them (a list per chunk, not a generator step per event)."""
    from ..adapters.files.feed import convert_chunks
    from ..cli_paths import path_problem

    for path in files:
        problem = path_problem(path)
        if problem:
            failed.append(problem)
            continue
        try:
            yield from convert_chunks(path)
        except OSError as e:
            failed.append(f"cannot read {path}: {e.strerror or e}")


def _follow(path: Path, files: list[Path], out: Out) -> int:
    import queue
    import signal

    from ..adapters.files.source import DirectorySource, TranscriptSource
    from ..protocol.display import visible_logging
    from ..relay import Relay

    visible_logging()
    relay = Relay()
    inbox: queue.SimpleQueue[list[Event] | None] = queue.SimpleQueue()
    relay.subscribe(inbox.put)
    if path.is_dir():
        relay.add_source(DirectorySource([path], lambda p: relay.add_source(TranscriptSource(p))))
    else:
        relay.add_source(TranscriptSource(path))

    def stop(signum: int, frame: FrameType | None) -> None:
        """Ctrl-C or a TERM: end the loop below by a message, not an exception. Raised from the handler, a
        KeyboardInterrupt could land on the loop's jump back (when another thread took the signal and the
        main thread ran the handler there) and escape the ``try`` around it: exit 130, the rest unwritten."""
        inbox.put(None)

    # Ctrl-C stops following even when the shell that started us ignored SIGINT (a background job).
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    relay.start()
    try:
        while True:
            try:
                batch = inbox.get(timeout=0.5)  # wakes the main thread for a signal another thread took
            except queue.Empty:
                continue
            if batch is None:
                break
            _write(out, batch)
            out.flush()
        relay.stop()
        while not inbox.empty():
            batch = inbox.get()
            if batch is not None:
                _write(out, batch)
        out.flush()
        return 0
    finally:
        relay.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write(out: Out, batch: list[Event]) -> None:
    """The batch as JSON lines; an event that cannot be written as it is comes out cut and marked."""
    from ..protocol import encode_lines

    out.write(encode_lines(batch, default=str))


def _say(message: str) -> None:
    from ..protocol.display import visible

    print(visible(f"watchkeeper events: {message}"), file=sys.stderr)
