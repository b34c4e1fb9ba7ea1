"""TCP/UNIX endpoints and connectProtocol: MemoryReactor unit tests and loopback tests."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.internet.endpointhelpers import Client, Echo, FixedResolver, Recorder, result
from tests.support import runUntil
from torsion.internet import endpoints, error, protocol
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.testing import MemoryReactor, RaisingMemoryReactor, StringTransport
from torsion.python.failure import Failure


class HalfCloser(Recorder):
    def readConnectionLost(self) -> None:
        self.events.append("readLost")

    def writeConnectionLost(self) -> None:
        self.events.append("writeLost")


def connectedOn(reactor: MemoryReactor, index: int = -1) -> tuple[Any, StringTransport]:
    """Finish the recorded TCP connection attempt with a StringTransport."""
    factory = reactor.tcpClients[index][2]
    proto = factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 80))
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport


# -- server endpoints ----------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        (lambda r: endpoints.TCP4ServerEndpoint(r, 80), (80, 50, "")),
        (lambda r: endpoints.TCP4ServerEndpoint(r, 81, 7, "127.0.0.1"), (81, 7, "127.0.0.1")),
        (lambda r: endpoints.TCP6ServerEndpoint(r, 82), (82, 50, "::")),
    ],
)
def test_tcp_server_listen(endpoint: Any, expected: tuple[Any, ...]) -> None:
    """listen() calls listenTCP with the endpoint's settings and fires with the port."""
    reactor = MemoryReactor()
    factory = protocol.Factory.forProtocol(Recorder)
    port = result(endpoint(reactor).listen(factory))
    (portNumber, got, backlog, interface) = reactor.tcpServers[0]
    assert (portNumber, backlog, interface) == expected
    assert got is factory
    assert port.getHost().port == expected[0]


def test_listen_failure_is_a_failed_deferred() -> None:
    """A listenTCP exception becomes a failed Deferred, not an exception."""
    reactor = RaisingMemoryReactor(listenException=error.CannotListenError("", 80, OSError()))
    failure = result(endpoints.TCP4ServerEndpoint(reactor, 80).listen(protocol.Factory()))
    assert failure.check(error.CannotListenError)


def test_unix_server_listen() -> None:
    """UNIXServerEndpoint.listen calls listenUNIX with every setting."""
    reactor = MemoryReactor()
    factory = protocol.Factory.forProtocol(Recorder)
    endpoint = endpoints.UNIXServerEndpoint(reactor, "/tmp/s", backlog=3, mode=0o600, wantPID=1)
    port = result(endpoint.listen(factory))
    assert reactor.unixServers == [("/tmp/s", factory, 3, 0o600, 1)]
    assert port.getHost() == UNIXAddress("/tmp/s")


# -- client endpoints ----------------------------------------------------------


def test_tcp_client_connect() -> None:
    """connect() fires with the application protocol after its connectionMade ran."""
    reactor = MemoryReactor()
    endpoint = endpoints.TCP4ClientEndpoint(
        reactor, "example.com", 80, timeout=5, bindAddress=("10.0.0.2", 0)
    )
    d = endpoint.connect(protocol.Factory.forProtocol(Recorder))
    host, port, _, timeout, bindAddress = reactor.tcpClients[0]
    assert (host, port, timeout, bindAddress) == ("example.com", 80, 5, ("10.0.0.2", 0))
    wrapper, transport = connectedOn(reactor)
    proto = result(d)
    assert isinstance(proto, Recorder)
    assert proto.events == ["made"]
    assert proto.transport is transport
    wrapper.dataReceived(b"hi")
    wrapper.connectionLost(Failure(error.ConnectionDone()))
    assert proto.events[1] == b"hi"
    assert proto.events[2].check(error.ConnectionDone)


def test_tcp_client_connection_failed() -> None:
    """A failed attempt fails the Deferred with the connector's reason."""
    reactor = MemoryReactor()
    d = endpoints.TCP4ClientEndpoint(reactor, "h", 80).connect(protocol.Factory())
    factory = reactor.tcpClients[0][2]
    factory.clientConnectionFailed(reactor.connectors[0], Failure(error.ConnectionRefusedError()))
    assert result(d).check(error.ConnectionRefusedError)


def test_cancel_connect() -> None:
    """Cancelling gives ConnectingCancelledError with the destination and stops the connector."""
    reactor = MemoryReactor()
    d = endpoints.TCP4ClientEndpoint(reactor, "h", 80).connect(protocol.Factory())
    d.cancel()
    failure = result(d)
    assert failure.check(error.ConnectingCancelledError)
    assert failure.value.address == IPv4Address("TCP", "h", 80)
    assert reactor.connectors[0].stoppedConnecting
    # The failure the stopped connector reports afterwards is ignored.
    reactor.tcpClients[0][2].clientConnectionFailed(
        reactor.connectors[0], Failure(error.UserError())
    )


def test_no_protocol() -> None:
    """A factory returning None fails the Deferred with NoProtocol and refuses the connection."""
    reactor = MemoryReactor()

    class Refuse(protocol.Factory):
        def buildProtocol(self, addr: Any) -> None:
            return None

    d = endpoints.TCP4ClientEndpoint(reactor, "h", 80).connect(Refuse())
    assert reactor.tcpClients[0][2].buildProtocol(None) is None
    assert result(d).check(error.NoProtocol)


def test_build_protocol_raises() -> None:
    """An exception from buildProtocol fails the Deferred with it."""
    reactor = MemoryReactor()

    class Broken(protocol.Factory):
        def buildProtocol(self, addr: Any) -> None:
            raise ZeroDivisionError()

    d = endpoints.TCP4ClientEndpoint(reactor, "h", 80).connect(Broken())
    assert reactor.tcpClients[0][2].buildProtocol(None) is None
    assert result(d).check(ZeroDivisionError)


def test_connect_raises_synchronously() -> None:
    """An exception from connectTCP becomes a failed Deferred."""
    reactor = RaisingMemoryReactor(connectException=error.ConnectError(string="nope"))
    failure = result(endpoints.TCP4ClientEndpoint(reactor, "h", 80).connect(protocol.Factory()))
    assert failure.check(error.ConnectError)


def test_half_close_passes_through() -> None:
    """The wrapper is half-closeable exactly when the wrapped protocol is."""
    reactor = MemoryReactor()
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "h", 80)
    endpoint.connect(protocol.Factory.forProtocol(HalfCloser))
    endpoint.connect(protocol.Factory.forProtocol(Recorder))
    halfCloser, _ = connectedOn(reactor, 0)
    plain, _ = connectedOn(reactor, 1)
    assert not hasattr(plain, "readConnectionLost")
    assert not hasattr(plain, "writeConnectionLost")
    halfCloser.readConnectionLost()
    halfCloser.writeConnectionLost()
    assert halfCloser._wrappedProtocol.events == ["made", "readLost", "writeLost"]
    assert halfCloser.logPrefix() == "HalfCloser"


def test_factory_start_stop_pass_through() -> None:
    """doStart/doStop reach the application factory."""
    reactor = MemoryReactor()
    factory = protocol.Factory.forProtocol(Recorder)
    endpoints.TCP4ClientEndpoint(reactor, "h", 80).connect(factory)
    wrapping = reactor.tcpClients[0][2]
    wrapping.doStart()
    assert factory.numPorts == 1
    wrapping.doStop()
    assert factory.numPorts == 0


def test_tcp6_client_literal() -> None:
    """TCP6ClientEndpoint connects to an IPv6 literal without resolving."""
    reactor = MemoryReactor()
    endpoints.TCP6ClientEndpoint(reactor, "::1", 80).connect(protocol.Factory())
    assert reactor.tcpClients[0][:2] == ("::1", 80)


def test_tcp6_client_resolves_name() -> None:
    """TCP6ClientEndpoint resolves a name and connects to its first IPv6 address."""
    reactor = MemoryReactor()
    reactor.nameResolver = FixedResolver(  # type: ignore[attr-defined]
        [IPv4Address("TCP", "10.0.0.1", 80), IPv6Address("TCP", "fe80::2", 80)]
    )
    endpoints.TCP6ClientEndpoint(reactor, "example.com", 80).connect(protocol.Factory())
    assert reactor.tcpClients[0][:2] == ("fe80::2", 80)


def test_tcp6_client_no_ipv6_address() -> None:
    """A name without IPv6 address fails with DNSLookupError."""
    reactor = MemoryReactor()
    reactor.nameResolver = FixedResolver([IPv4Address("TCP", "10.0.0.1", 80)])  # type: ignore[attr-defined]
    d = endpoints.TCP6ClientEndpoint(reactor, "example.com", 80).connect(protocol.Factory())
    assert result(d).check(error.DNSLookupError)
    assert reactor.tcpClients == []


def test_unix_client_connect() -> None:
    """UNIXClientEndpoint.connect calls connectUNIX and fires with the protocol."""
    reactor = MemoryReactor()
    d = endpoints.UNIXClientEndpoint(reactor, "/tmp/s", timeout=4, checkPID=1).connect(
        protocol.Factory.forProtocol(Recorder)
    )
    path, factory, timeout, checkPID = reactor.unixClients[0]
    assert (path, timeout, checkPID) == ("/tmp/s", 4, 1)
    factory.buildProtocol(UNIXAddress("/tmp/s")).makeConnection(StringTransport())
    assert result(d).events == ["made"]


def test_connect_protocol() -> None:
    """connectProtocol connects the given instance and fires with it."""
    reactor = MemoryReactor()
    proto = Recorder()
    d = endpoints.connectProtocol(endpoints.TCP4ClientEndpoint(reactor, "h", 80), proto)
    connectedOn(reactor)
    assert result(d) is proto
    assert proto.events == ["made"]


# -- loopback ------------------------------------------------------------------


def roundTrip(reactor: Any, serverDescription: str, clientDescription: str) -> None:
    port = runUntil(
        reactor,
        endpoints.serverFromString(reactor, serverDescription).listen(
            protocol.Factory.forProtocol(Echo)
        ),
    )
    client = endpoints.clientFromString(reactor, clientDescription % port.getHost().port)
    proto = runUntil(reactor, endpoints.connectProtocol(client, Client()))
    proto.transport.write(b"ping")
    assert runUntil(reactor, proto.received) == b"ping"
    proto.transport.loseConnection()
    runUntil(reactor, proto.lost)
    runUntil(reactor, port.stopListening())


def test_loopback_tcp4(reactor: Any) -> None:
    """Endpoints from strings listen and connect over IPv4 loopback."""
    roundTrip(reactor, "tcp:0:interface=127.0.0.1", "tcp:127.0.0.1:%d:timeout=5")


def _ipv6Loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6Loopback(), reason="no IPv6 loopback on this machine")
def test_loopback_tcp6(reactor: Any) -> None:
    """tcp6 endpoints listen and connect over IPv6 loopback."""
    roundTrip(reactor, "tcp6:0:interface=\\:\\:1", "tcp6:\\:\\:1:%d")


def test_loopback_cancel(reactor: Any) -> None:
    """A connect cancelled early fails with ConnectingCancelledError; nothing is left open."""
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
    d = endpoint.connect(protocol.Factory.forProtocol(Client))
    d.cancel()
    with pytest.raises(error.ConnectingCancelledError):
        runUntil(reactor, d)
    runUntil(reactor, port.stopListening())


def test_loopback_refused(reactor: Any) -> None:
    """Connecting to a closed port fails the Deferred with ConnectionRefusedError."""
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
    number = port.getHost().port
    runUntil(reactor, port.stopListening())
    d = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", number).connect(protocol.Factory())
    with pytest.raises(error.ConnectionRefusedError):
        runUntil(reactor, d)


def test_loopback_listen_failure(reactor: Any) -> None:
    """Listening on a taken port fails the Deferred with CannotListenError."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        number = taken.getsockname()[1]
        d = endpoints.TCP4ServerEndpoint(reactor, number, interface="127.0.0.1").listen(
            protocol.Factory.forProtocol(Echo)
        )
        with pytest.raises(error.CannotListenError):
            runUntil(reactor, d)
