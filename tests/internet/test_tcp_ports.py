"""listenTCP ports and factory start/stop bookkeeping."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.internet.pairs import Recorder
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred


class CountingFactory(protocol.Factory):
    noisy = False
    protocol = Recorder

    def __init__(self) -> None:
        self.events: list[str] = []

    def startFactory(self) -> None:
        self.events.append("start")

    def stopFactory(self) -> None:
        self.events.append("stop")


def test_ephemeral_port_and_get_host(reactor: Any) -> None:
    """Port 0 gives an ephemeral port, read back with getHost()."""
    port = reactor.listenTCP(0, CountingFactory(), interface="127.0.0.1")
    host = port.getHost()
    assert host.type == "TCP" and host.host == "127.0.0.1" and host.port > 0
    runUntil(reactor, port.stopListening())


def test_cannot_listen_is_synchronous(reactor: Any) -> None:
    """Binding a port in use raises CannotListenError at once, with the details."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    number = taken.getsockname()[1]
    factory = CountingFactory()
    try:
        with pytest.raises(error.CannotListenError) as info:
            reactor.listenTCP(number, factory, interface="127.0.0.1")
    finally:
        taken.close()
    assert info.value.port == number and info.value.interface == "127.0.0.1"
    assert isinstance(info.value.socketError, OSError)
    assert f"127.0.0.1:{number}" in str(info.value)
    assert factory.events == [] and factory.numPorts == 0


def test_service_name_port(reactor: Any) -> None:
    """An unknown service name as port raises ServiceNameUnknownError."""
    with pytest.raises(error.ServiceNameUnknownError):
        reactor.listenTCP("no-such-service-name", CountingFactory(), interface="127.0.0.1")


def test_factory_started_once_for_two_ports(reactor: Any) -> None:
    """One factory on two ports: started once, stopped after the last port closes."""
    factory = CountingFactory()
    p1 = reactor.listenTCP(0, factory, interface="127.0.0.1")
    p2 = reactor.listenTCP(0, factory, interface="127.0.0.1")
    assert factory.events == ["start"] and factory.numPorts == 2
    runUntil(reactor, p1.stopListening())
    assert factory.events == ["start"] and factory.numPorts == 1
    d = p2.stopListening()
    assert factory.events == ["start"]
    runUntil(reactor, d)
    assert factory.events == ["start", "stop"] and factory.numPorts == 0
    assert p2.stopListening() is d


def test_stop_listening_keeps_open_connections(reactor: Any) -> None:
    """Closing the port refuses new connections but leaves existing ones alone."""
    factory = CountingFactory()
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    number = port.getHost().port
    made: Deferred[Any] = Deferred()

    class CF(protocol.ClientFactory):
        noisy = False

        def buildProtocol(self, addr: Any) -> Any:
            p = Recorder()
            p.made.chainDeferred(made)
            return p

    reactor.connectTCP("127.0.0.1", number, CF())
    client = runUntil(reactor, made)
    runUntil(reactor, port.stopListening())
    client.transport.write(b"still here")
    refused: Deferred[Any] = Deferred()

    class Refused(protocol.ClientFactory):
        noisy = False

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            refused.callback([reason])

    reactor.connectTCP("127.0.0.1", number, Refused())
    [reason] = runUntil(reactor, refused)
    assert reason.check(error.ConnectionRefusedError)
    client.transport.loseConnection()
    runUntil(reactor, client.lost)


def test_build_protocol_none_refuses(reactor: Any) -> None:
    """A server factory returning None from buildProtocol closes that connection."""

    class Refuser(protocol.Factory):
        noisy = False

        def buildProtocol(self, addr: Any) -> None:
            return None

    port = reactor.listenTCP(0, Refuser(), interface="127.0.0.1")
    lost: Deferred[Any] = Deferred()

    class CF(protocol.ClientFactory):
        noisy = False
        protocol = Recorder

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            lost.callback([reason])

    reactor.connectTCP("127.0.0.1", port.getHost().port, CF())
    [reason] = runUntil(reactor, lost)
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_factory_logging(reactor: Any, caplog: Any) -> None:
    """Noisy factories log start/stop; ports log their start and close."""
    caplog.set_level("INFO", logger="torsion")
    factory = protocol.Factory.forProtocol(Recorder)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    runUntil(reactor, port.stopListening())
    text = caplog.text
    number = port._realPortNumber
    assert f"Factory starting on {number}" in text
    assert "Starting factory <torsion.internet.protocol.Factory object" in text
    assert f"(TCP Port {number} Closed)" in text
    assert "Stopping factory" in text


def test_client_factory_stopped_after_failure(reactor: Any) -> None:
    """A client factory is doStop'ped after a failed attempt unless it reconnects."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    number = probe.getsockname()[1]
    probe.close()
    failed: Deferred[None] = Deferred()

    class CF(protocol.ClientFactory):
        noisy = False

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            reactor.callLater(0, failed.callback, None)

    factory = CF()
    connector = reactor.connectTCP("127.0.0.1", number, factory)
    assert factory.numPorts == 1 and connector.state == "connecting"
    runUntil(reactor, failed)
    assert factory.numPorts == 0 and connector.state == "disconnected"
    with pytest.raises(error.NotConnectingError):
        connector.stopConnecting()
    assert connector.getDestination().port == number


def _failingConnect(reactor: Any, host: str, port: int, **kw: Any) -> Any:
    failed: Deferred[Any] = Deferred()

    class CF(protocol.ClientFactory):
        noisy = False

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            failed.callback([reason])

    reactor.connectTCP(host, port, CF(), **kw)
    [reason] = runUntil(reactor, failed)
    return reason


def test_unresolvable_host(reactor: Any) -> None:
    """A host name that does not resolve fails with DNSLookupError."""
    reason = _failingConnect(reactor, "no-such-host.invalid", 80)
    assert reason.check(error.DNSLookupError)


def test_bind_address(reactor: Any) -> None:
    """bindAddress sets the local address; a busy one fails with ConnectBindError."""
    factory = CountingFactory()
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    made: Deferred[Any] = Deferred()

    class CF(protocol.ClientFactory):
        noisy = False

        def buildProtocol(self, addr: Any) -> Any:
            p = Recorder()
            p.made.chainDeferred(made)
            return p

    local = socket.socket()
    local.bind(("127.0.0.1", 0))
    localPort = local.getsockname()[1]
    local.close()
    reactor.connectTCP("127.0.0.1", port.getHost().port, CF(), bindAddress=("127.0.0.1", localPort))
    client = runUntil(reactor, made)
    assert client.transport.getHost().port == localPort
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        reason = _failingConnect(
            reactor, "127.0.0.1", port.getHost().port, bindAddress=busy.getsockname()
        )
    finally:
        busy.close()
    assert reason.check(error.ConnectBindError)
    client.transport.loseConnection()
    runUntil(reactor, client.lost)
    runUntil(reactor, port.stopListening())
