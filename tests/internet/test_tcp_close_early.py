"""A TCP client that closes its connection inside ``connectionMade``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred


@pytest.mark.parametrize("method", ["abortConnection", "loseConnection"])
def test_close_in_connection_made_leaves_no_socket_behind(reactor: Any, method: str) -> None:
    """Closing in connectionMade closes the socket once (no unclosed socket object)."""
    lost: Deferred[Any] = Deferred()

    class CloseAtOnce(protocol.Protocol):
        def connectionMade(self) -> None:
            getattr(self.transport, method)()

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = reactor.listenTCP(
        0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
    )
    reactor.connectTCP(
        "127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(CloseAtOnce)
    )
    [reason] = runUntil(reactor, lost)
    assert reason.check(
        error.ConnectionAborted if method == "abortConnection" else error.ConnectionDone
    )
    runUntil(reactor, port.stopListening())
