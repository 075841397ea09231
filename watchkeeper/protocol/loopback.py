"""Is an address, or a request's ``Host`` header, this machine's loopback? One answer for every server.

Pure string checks, so the hook endpoint and the websocket server refuse
the same DNS-rebinding ``Host`` values and a test can hold both to one list.
"""

from __future__ import annotations

import ipaddress

#: The only names a ``Host`` header may give for a server bound to loopback.
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(address: str) -> bool:
    """An address to bind or connect to that stays on this machine (any of 127.0.0.0/8, ``::1``)."""
    if address.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def loopback_host(header: str) -> bool:
    """A ``Host`` header (``name[:port]``, ``[v6]:port``) that names loopback: one of ``LOOPBACK_NAMES``.

    Stricter than :func:`is_loopback`: a request to a server bound to
    127.0.0.1 has no reason to name another loopback address.
    """
    if header.startswith("["):
        name = header[1:].partition("]")[0]
    else:
        name = header.rpartition(":")[0] if header.count(":") == 1 else header
    return name.lower() in LOOPBACK_NAMES
