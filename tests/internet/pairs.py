"""Real loopback connection pairs for transport tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support import runUntil
from torsion.internet import protocol
from torsion.internet.defer import Deferred


class Recorder(protocol.Protocol):
    """Records events; ``made``/``lost`` Deferreds fire on connect/disconnect."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.data = b""
        self.made: Deferred[Recorder] = Deferred()
        self.lost: Deferred[Any] = Deferred()
        self.lostCount = 0
        self.reason: Any = None

    def connectionMade(self) -> None:
        self.events.append("made")
        self.made.callback(self)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any) -> None:
        self.events.append("lost")
        self.lostCount += 1
        self.reason = reason
        if not self.lost.called:
            self.lost.callback([reason])


def connectPair(
    reactor: Any,
    server: Callable[[], protocol.Protocol] = Recorder,
    client: Callable[[], protocol.Protocol] = Recorder,
    interface: str = "127.0.0.1",
) -> tuple[Any, Any, Any]:
    """Listen, connect, and run until both ends are connected.

    Returns:
        ``(serverProtocol, clientProtocol, port)``; the port is still listening.
    """
    serverMade: Deferred[Any] = Deferred()

    class ServerFactory(protocol.Factory):
        noisy = False

        def buildProtocol(self, addr: Any) -> Any:
            p = server()
            p.factory = self
            original = p.connectionMade

            def made() -> None:
                original()
                serverMade.callback(p)

            p.connectionMade = made  # type: ignore[method-assign]
            return p

    port = reactor.listenTCP(0, ServerFactory(), interface=interface)
    clientMade: Deferred[Any] = Deferred()

    class ClientFactory(protocol.ClientFactory):
        noisy = False

        def buildProtocol(self, addr: Any) -> Any:
            p = client()
            original = p.connectionMade

            def made() -> None:
                original()
                clientMade.callback(p)

            p.connectionMade = made  # type: ignore[method-assign]
            return p

    reactor.connectTCP(interface, port.getHost().port, ClientFactory())
    c = runUntil(reactor, clientMade)
    s = runUntil(reactor, serverMade)
    return s, c, port


def closePair(reactor: Any, *protocols: Any, port: Any = None) -> None:
    """Close the first protocol's connection and run until every end is gone."""
    if protocols and protocols[0].transport.connected:
        protocols[0].transport.loseConnection()
    for p in protocols:
        if isinstance(p, Recorder):
            runUntil(reactor, p.lost)
    if port is not None:
        runUntil(reactor, port.stopListening())
