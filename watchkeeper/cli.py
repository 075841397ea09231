"""``watchkeeper [COMMAND]``: one subcommand per module under ``watchkeeper/commands``.

Each command module has ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
it imports what it needs inside ``run``, so ``watchkeeper schema`` never loads
the TUI and a broken optional piece cannot break every command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

#: name -> module; order is the order of ``--help``.
COMMANDS: dict[str, str] = {
    "watch": "watchkeeper.commands.watch",
    "replay": "watchkeeper.commands.replay",
    "demo": "watchkeeper.commands.demo",
    "events": "watchkeeper.commands.events",
    "schema": "watchkeeper.commands.schema",
    "run": "watchkeeper.commands.run",
    "hooks": "watchkeeper.commands.hooks",
    "ctl": "watchkeeper.commands.ctl",
    "sessions": "watchkeeper.commands.sessions",
    "serve": "watchkeeper.commands.serve",
    "attach": "watchkeeper.commands.attach",
    "token": "watchkeeper.commands.token",
    "export": "watchkeeper.commands.export",
}


class VersionAction(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show the installed version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"watchkeeper {installed_version()}")
        parser.exit()


def installed_version() -> str:
    """The version in the installed package's metadata (``pyproject.toml``'s, as built)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("watchkeeper")
    except PackageNotFoundError:
        return "(not installed: no package metadata)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``only`` (a command's name), of that one alone: a command does
    not pay for importing the others (~10 ms of ``events``' start-up, which its benchmark counts)."""
    parser = argparse.ArgumentParser(
        prog="watchkeeper",
        description="Watch AI agents work, replay what they did, and steer them while they run.",
    )
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    if only is not None and not sub.choices:
        return build_parser()  # that command could not load: argparse names the ones there are
    return parser


def with_default_command(argv: Sequence[str]) -> list[str]:
    """``watchkeeper --root X`` is ``watchkeeper watch --root X``; ``watchkeeper FILE`` is ``watchkeeper replay FILE``.

    argparse rejects the watch options before a default command could apply,
    so ``watch`` goes in front when the arguments start with an option that
    is not the top level's own. A first word that is no command but names a
    path (it exists, or it looks like one) is replayed, and ``replay`` says
    what is wrong with it; any other word still gets argparse's "invalid choice".
    """
    argv = list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return ["watch", *argv]
    if argv[0] not in COMMANDS and looks_like_a_path(argv[0]):
        return ["replay", *argv]
    return argv


def looks_like_a_path(word: str) -> bool:
    return os.path.lexists(word) or os.sep in word or word.endswith((".jsonl", ".json"))


def main(argv: Sequence[str] | None = None) -> None:
    words = with_default_command(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(words)
    try:
        code = args._run(args)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    sys.exit(code)
