"""``watchkeeper token --agent``: mint a credential for an SDK agent, so it never holds the person's token.

The credential is registered (its hash only, 0600) in this machine's config
directory, where ``serve`` checks it; the secret is printed once, or written
to a new 0600 file with ``--out``, and never stored here. With it an agent
reports one run (the first session it reports binds it) and receives that
run's controls and decisions; it cannot watch, list, steer or edit
breakpoints. Hand it over as ``$WATCHKEEPER_AGENT_TOKEN`` (which
``watchkeeper.sdk.connect`` reads) or ``token=``. The person's own token is
never printed by this or any command.
"""

from __future__ import annotations

import argparse
import os
import sys

HELP = "mint a credential for an SDK agent (--agent): it reports one run and is steered, nothing more"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", action="store_true", required=True,
                        help="an agent credential (the only kind minted here; the person's token is never printed)")
    parser.add_argument("--name", help="a name for the agent, recorded with the credential")
    parser.add_argument("--out", metavar="FILE",
                        help="write the credential to FILE (created 0600, must not exist) instead of printing it")


def run(args: argparse.Namespace) -> int:
    from .. import config, credentials
    from ..protocol.display import visible

    if args.out:
        try:
            fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            print(f"watchkeeper token: cannot create {visible(args.out)}: {e.strerror}", file=sys.stderr)
            return 2
    secret = credentials.mint(config.hook_credentials_dir(), "agent", args.name)
    if not args.out:
        print(secret)
        return 0
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(secret + "\n")
    print(f"an agent credential is in {visible(args.out)}: give it to one agent run as ${config.ENV_AGENT_TOKEN}",
          file=sys.stderr)
    return 0
