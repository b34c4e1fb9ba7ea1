"""Smoke tests: a real echo server and client on loopback, on both loops."""

from __future__ import annotations

from typing import Any

from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred


class Echo(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Collect(protocol.Protocol):
    def __init__(self, expected: int, done: Deferred[Any]) -> None:
        self.expected = expected
        self.done = done
        self.received = b""

    def connectionMade(self) -> None:
        self.transport.write(b"x" * self.expected)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= self.expected:
            self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        self.done.callback((self.received, reason))


def test_echo_roundtrip(reactor: Any) -> None:
    """Bytes sent by a client come back through an echo server."""
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
    done: Deferred[Any] = Deferred()
    factory = protocol.ClientFactory.forProtocol(lambda: Collect(100_000, done))
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    received, reason = runUntil(reactor, done)
    assert received == b"x" * 100_000
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_connection_refused(reactor: Any) -> None:
    """Connecting to a closed port fails with ConnectionRefusedError."""
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
    number = port.getHost().port
    runUntil(reactor, port.stopListening())
    failed: Deferred[Any] = Deferred()

    class F(protocol.ClientFactory):
        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            failed.callback([reason])

    reactor.connectTCP("127.0.0.1", number, F())
    [reason] = runUntil(reactor, failed)
    assert reason.check(error.ConnectionRefusedError)
