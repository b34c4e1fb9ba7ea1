"""HostnameEndpoint: resolution, attempts 0.3 s apart, first success wins, errors, cancel."""

from __future__ import annotations

from typing import Any

import pytest

from tests.internet.endpointhelpers import Client, Echo, FixedResolver, Recorder, result
from tests.support import runUntil
from torsion.internet import endpoints, error, protocol
from torsion.internet.address import HostnameAddress, IPv4Address, IPv6Address
from torsion.internet.testing import MemoryReactorClock, StringTransport
from torsion.python.failure import Failure

A1 = IPv6Address("TCP", "2001:db8::1", 80)
A2 = IPv4Address("TCP", "192.0.2.1", 80)
A3 = IPv4Address("TCP", "192.0.2.2", 80)


def makeReactor(addresses: list[Any]) -> MemoryReactorClock:
    reactor = MemoryReactorClock()
    reactor.nameResolver = FixedResolver(addresses)  # type: ignore[attr-defined]
    return reactor


def attempted(reactor: MemoryReactorClock) -> list[str]:
    return [host for host, *_ in reactor.tcpClients]


def succeed(reactor: MemoryReactorClock, index: int) -> Any:
    factory = reactor.tcpClients[index][2]
    proto = factory.buildProtocol(None)
    proto.makeConnection(StringTransport())
    return proto


def fail(reactor: MemoryReactorClock, index: int, exc: Exception) -> None:
    factory = reactor.tcpClients[index][2]
    factory.clientConnectionFailed(reactor.connectors[index], Failure(exc))


def test_attempts_start_every_attempt_delay() -> None:
    """Resolved addresses are tried in order, a new one every 0.3 s while others pend."""
    reactor = makeReactor([A1, A2, A3])
    endpoint = endpoints.HostnameEndpoint(reactor, "example.com", 80, timeout=7)
    d = endpoint.connect(protocol.Factory.forProtocol(Recorder))
    assert reactor.nameResolver.asked == [("example.com", 80)]  # type: ignore[attr-defined]
    assert attempted(reactor) == ["2001:db8::1"]
    reactor.advance(0.29)
    assert attempted(reactor) == ["2001:db8::1"]
    reactor.advance(0.01)
    assert attempted(reactor) == ["2001:db8::1", "192.0.2.1"]
    reactor.advance(0.3)
    assert attempted(reactor) == ["2001:db8::1", "192.0.2.1", "192.0.2.2"]
    assert [c[3] for c in reactor.tcpClients] == [7, 7, 7]
    assert reactor.getDelayedCalls() == []
    assert not d.called


def test_first_success_wins_and_others_are_cancelled() -> None:
    """The first attempt to connect wins; the pending ones are stopped."""
    reactor = makeReactor([A1, A2, A3])
    d = endpoints.HostnameEndpoint(reactor, "example.com", 80).connect(
        protocol.Factory.forProtocol(Recorder)
    )
    reactor.advance(0.3)
    assert len(reactor.tcpClients) == 2
    wrapper = succeed(reactor, 1)
    proto = result(d)
    assert proto is wrapper._wrappedProtocol
    assert proto.events == ["made"]
    assert reactor.connectors[0].stoppedConnecting
    assert not reactor.connectors[1].stoppedConnecting
    assert reactor.getDelayedCalls() == []
    reactor.advance(10)
    assert len(reactor.tcpClients) == 2


def test_all_failures_give_the_last_one() -> None:
    """When every attempt fails, the Deferred fails with the last failure."""
    reactor = makeReactor([A1, A2])
    d = endpoints.HostnameEndpoint(reactor, "example.com", 80).connect(protocol.Factory())
    reactor.advance(0.3)
    fail(reactor, 1, error.TimeoutError())
    assert not d.called
    fail(reactor, 0, error.ConnectionRefusedError())
    assert result(d).check(error.ConnectionRefusedError)
    assert reactor.getDelayedCalls() == []


def test_failure_with_nothing_pending_tries_next_at_once() -> None:
    """A failed attempt with no other pending starts the next one at once (RFC 8305)."""
    reactor = makeReactor([A1, A2, A3])
    d = endpoints.HostnameEndpoint(reactor, "example.com", 80).connect(
        protocol.Factory.forProtocol(Recorder)
    )
    fail(reactor, 0, error.ConnectionRefusedError())
    assert attempted(reactor) == ["2001:db8::1", "192.0.2.1"]
    [timer] = reactor.getDelayedCalls()
    assert timer.getTime() == pytest.approx(0.3)
    succeed(reactor, 1)
    assert result(d).events == ["made"]
    assert reactor.getDelayedCalls() == []


def test_unresolvable_name() -> None:
    """A failed lookup gives DNSLookupError naming the host."""

    class Broken:
        def resolveHostName(self, receiver: Any, hostName: str, portNumber: int = 0) -> None:
            raise OSError("resolver down")

    reactor = MemoryReactorClock()
    reactor.nameResolver = Broken()  # type: ignore[attr-defined]
    d = endpoints.HostnameEndpoint(reactor, "example.com", 80).connect(protocol.Factory())
    failure = result(d)
    assert failure.check(error.DNSLookupError)
    assert "Couldn't find the hostname 'example.com'" in str(failure.value)


def test_no_addresses() -> None:
    """A name with no addresses gives DNSLookupError."""
    d = endpoints.HostnameEndpoint(makeReactor([]), "example.com", 80).connect(protocol.Factory())
    failure = result(d)
    assert failure.check(error.DNSLookupError)
    assert "no results for hostname lookup: example.com" in str(failure.value)


def test_cancel_while_connecting() -> None:
    """Cancelling fails with ConnectingCancelledError and stops every pending attempt."""
    reactor = makeReactor([A1, A2, A3])
    d = endpoints.HostnameEndpoint(reactor, "example.com", 80).connect(protocol.Factory())
    reactor.advance(0.3)
    d.cancel()
    failure = result(d)
    assert failure.check(error.ConnectingCancelledError)
    assert failure.value.address == HostnameAddress(b"example.com", 80)
    assert [c.stoppedConnecting for c in reactor.connectors] == [True, True]
    assert reactor.getDelayedCalls() == []


def test_cancel_while_resolving() -> None:
    """Cancelling during resolution fails at once; a late answer starts nothing."""

    class Slow:
        receiver: Any = None

        def resolveHostName(self, receiver: Any, hostName: str, portNumber: int = 0) -> None:
            self.receiver = receiver

    reactor = MemoryReactorClock()
    resolver = reactor.nameResolver = Slow()  # type: ignore[attr-defined]
    d = endpoints.HostnameEndpoint(reactor, "example.com", 80).connect(protocol.Factory())
    d.cancel()
    assert result(d).check(error.ConnectingCancelledError)
    resolver.receiver.addressResolved(A2)
    resolver.receiver.resolutionComplete()
    assert reactor.tcpClients == []


def test_literal_is_not_resolved() -> None:
    """An address literal is connected to directly."""
    reactor = MemoryReactorClock()
    endpoints.HostnameEndpoint(reactor, "::1", 80).connect(protocol.Factory())
    endpoints.HostnameEndpoint(reactor, "127.0.0.1", 80).connect(protocol.Factory())
    assert attempted(reactor) == ["::1", "127.0.0.1"]


def test_bind_address_forms() -> None:
    """A bind address given as text or bytes becomes (host, 0)."""
    reactor = makeReactor([A2])
    endpoints.HostnameEndpoint(reactor, "h", 80, bindAddress="10.0.0.9").connect(protocol.Factory())
    endpoints.HostnameEndpoint(reactor, "h", 80, bindAddress=(b"10.0.0.8", 5)).connect(
        protocol.Factory()
    )
    assert [c[4] for c in reactor.tcpClients] == [("10.0.0.9", 0), ("10.0.0.8", 5)]


def test_invalid_hostname_and_repr() -> None:
    """A host name that cannot be encoded fails with ValueError; repr shows host and port."""
    bad = endpoints.HostnameEndpoint(MemoryReactorClock(), "\udcff.example", 80)
    assert result(bad.connect(protocol.Factory())).check(ValueError)
    assert repr(bad) == "<HostnameEndpoint \\udcff.example:80>"
    assert repr(endpoints.HostnameEndpoint(None, "::1", 80)) == "<HostnameEndpoint [::1]:80>"
    idn = endpoints.HostnameEndpoint(None, "bücher.example", 80)
    assert repr(idn) == "<HostnameEndpoint xn--bcher-kva.example:80>"


def test_thread_fallback() -> None:
    """A reactor with only threads resolves with getaddrinfo in its pool."""

    class Threads(MemoryReactorClock):
        def callInThread(self, f: Any, *args: Any) -> None:
            f(*args)

        def callFromThread(self, f: Any, *args: Any) -> None:
            f(*args)

    reactor = Threads()
    endpoints.HostnameEndpoint(reactor, "localhost", 80).connect(protocol.Factory())
    assert attempted(reactor)[0] in ("127.0.0.1", "::1")


def test_loopback_localhost(reactor: Any) -> None:
    """'localhost' resolves on the event loop and reaches a server on 127.0.0.1."""
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1")
    endpoint = endpoints.HostnameEndpoint(reactor, "localhost", port.getHost().port)
    proto = runUntil(reactor, endpoints.connectProtocol(endpoint, Client()))
    proto.transport.write(b"hi")
    assert runUntil(reactor, proto.received) == b"hi"
    proto.transport.loseConnection()
    runUntil(reactor, proto.lost)
    runUntil(reactor, port.stopListening())
