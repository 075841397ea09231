"""The one loopback check (``protocol.loopback``): the pure answers, and the ``Host`` cases both servers share.

``HOST_REFUSED`` / ``HOST_ALLOWED`` are the list the hook endpoint
(tests/test_hooks_server.py) and the websocket server
(tests/test_remote_security.py) are each held to, over real loopback sockets.
"""

from __future__ import annotations

import pytest

from watchkeeper.protocol.loopback import is_loopback, loopback_host

#: ``Host`` headers a server bound to loopback refuses ({port}: the server's own port).
HOST_REFUSED = ("evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "10.0.0.1:80", "",
                "127.0.0.2:{port}", "[::ffff:127.0.0.1]:{port}", "0.0.0.0:{port}", "localhost.:{port}")
#: ``Host`` headers it takes.
HOST_ALLOWED = ("127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST:{port}", "127.0.0.1")


@pytest.mark.parametrize("header", HOST_REFUSED)
def test_a_host_header_that_is_not_a_loopback_name_is_refused(header: str) -> None:
    assert not loopback_host(header.format(port=4711))


@pytest.mark.parametrize("header", HOST_ALLOWED)
def test_a_loopback_host_header_is_taken(header: str) -> None:
    assert loopback_host(header.format(port=4711))


def test_a_bind_address_is_loopback_for_any_of_127_0_0_0_8() -> None:
    assert all(is_loopback(a) for a in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "LocalHost"))
    assert not any(is_loopback(a) for a in ("0.0.0.0", "::", "10.0.0.1", "evil.example", ""))
