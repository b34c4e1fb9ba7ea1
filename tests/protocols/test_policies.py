"""torsion.protocols.policies: wrappers, throttling, connection limits, traffic logs."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import protocol, task
from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred
from torsion.internet.testing import StringTransport, StringTransportWithDisconnection
from torsion.protocols import basic, policies

ADDR = IPv4Address("TCP", "127.0.0.1", 35)


class SimpleProtocol(protocol.Protocol):
    def __init__(self) -> None:
        self.dConnected: Deferred[None] = Deferred()
        self.dDisconnected: Deferred[None] = Deferred()
        self.connected = 0
        self.disconnected = 0
        self.buffer = b""

    def connectionMade(self) -> None:
        self.connected = 1
        self.dConnected.callback(None)

    def connectionLost(self, reason: Any = None) -> None:
        self.disconnected = 1
        self.dDisconnected.callback(None)

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data


class EchoProtocol(protocol.Protocol):
    paused = False

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        pass

    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Server(protocol.ServerFactory):
    protocol = EchoProtocol


def wrapperOnTransport() -> policies.ProtocolWrapper:
    wrapper = policies.ProtocolWrapper(policies.WrappingFactory(Server()), protocol.Protocol())
    wrapper.makeConnection(StringTransport())
    return wrapper


# -- WrappingFactory / ProtocolWrapper -----------------------------------------------------


def test_wrapped_protocol_factory_is_the_wrapped_factory() -> None:
    """The wrapped protocol's factory is the wrapped factory, not the wrapper."""
    f = Server()
    p = policies.WrappingFactory(f).buildProtocol(ADDR)
    assert p.wrappedProtocol.factory is f


def test_log_prefixes_mention_both() -> None:
    """Factory and protocol log prefixes name the wrapped thing and the wrapper."""
    factory = policies.WrappingFactory(Server())
    assert factory.logPrefix() == "Server (WrappingFactory)"
    assert factory.buildProtocol(ADDR).logPrefix() == "EchoProtocol (ProtocolWrapper)"

    class NoFactory:
        pass

    class NoProtocol:
        pass

    assert policies.WrappingFactory(NoFactory()).logPrefix() == "NoFactory (WrappingFactory)"
    server = Server()
    server.protocol = NoProtocol  # type: ignore[assignment]
    wrapped = policies.WrappingFactory(server).buildProtocol(ADDR)
    assert wrapped.logPrefix() == "NoProtocol (ProtocolWrapper)"


def test_wrapper_relays_transport_calls() -> None:
    """getHost, getPeer, producers and stopConsuming go to the real transport."""
    wrapper = wrapperOnTransport()
    assert wrapper.getHost() == wrapper.transport.getHost()
    assert wrapper.getPeer() == wrapper.transport.getPeer()
    producer = object()
    wrapper.registerProducer(producer, True)
    assert wrapper.transport.producer is producer and wrapper.transport.streaming
    wrapper.unregisterProducer()
    assert wrapper.transport.producer is None and wrapper.transport.streaming is None
    calls = []
    wrapper.transport.stopConsuming = lambda: calls.append(True)
    wrapper.stopConsuming()
    assert calls == [True]
    # Anything else is looked up on the transport.
    assert wrapper.producerState == "producing"
    with pytest.raises(AttributeError):
        wrapper.noSuchAttribute  # noqa: B018


def test_wrapper_relays_writes_and_close() -> None:
    """The wrapped protocol's writes and loseConnection reach the transport."""
    wrapper = wrapperOnTransport()
    inner = wrapper.wrappedProtocol
    inner.transport.write(b"a")
    inner.transport.writeSequence([b"b", b"c"])
    assert wrapper.transport.value() == b"abc"
    inner.transport.loseConnection()
    assert wrapper.disconnecting and wrapper.transport.disconnecting


def test_wrapping_factory_relays_client_events() -> None:
    """startedConnecting and clientConnection{Lost,Failed} reach the wrapped factory."""
    result = []

    class Factory:
        def startedConnecting(self, connector: Any) -> None:
            result.append(("started", connector))

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            result.append(("lost", connector, reason))

        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            result.append(("failed", connector, reason))

    wrapper = policies.WrappingFactory(Factory())
    c, r = object(), object()
    wrapper.startedConnecting(c)
    wrapper.clientConnectionLost(c, r)  # type: ignore[arg-type]
    wrapper.clientConnectionFailed(c, r)  # type: ignore[arg-type]
    assert result == [("started", c), ("lost", c, r), ("failed", c, r)]


def test_connection_lost_breaks_the_reference_cycle() -> None:
    """After connectionLost the wrapper drops the wrapped protocol and unregisters."""
    factory = policies.WrappingFactory(Server())
    wrapper = factory.buildProtocol(ADDR)
    transport = StringTransportWithDisconnection()
    transport.protocol = wrapper
    wrapper.makeConnection(transport)
    assert factory.protocols == {wrapper: 1}
    transport.loseConnection()
    assert wrapper.wrappedProtocol is None
    assert factory.protocols == {}


def test_wrapping_factory_passes_refusal_on() -> None:
    """When the wrapped factory refuses a connection, so does the wrapper."""

    class Refusing(protocol.Factory):
        def buildProtocol(self, addr: Any) -> None:
            return None

    assert policies.WrappingFactory(Refusing()).buildProtocol(ADDR) is None


def test_wrapper_start_stop_counts() -> None:
    """doStart/doStop run on both the wrapper and the wrapped factory."""
    inner = Server()
    inner.noisy = False
    outer = policies.WrappingFactory(inner)
    outer.noisy = False
    outer.doStart()
    assert (inner.numPorts, outer.numPorts) == (1, 1)
    outer.doStop()
    assert (inner.numPorts, outer.numPorts) == (0, 0)


def test_line_receiver_through_wrapper_sees_disconnecting() -> None:
    """A LineReceiver behind a wrapper stops at the wrapper's disconnecting flag."""

    class Lines(basic.LineReceiver):
        def connectionMade(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.transport.loseConnection()

    factory = policies.WrappingFactory(protocol.Factory.forProtocol(Lines))
    wrapper = factory.buildProtocol(ADDR)
    wrapper.makeConnection(StringTransport())
    wrapper.dataReceived(b"a\r\nb\r\n")
    assert wrapper.wrappedProtocol.lines == [b"a"]


# -- ThrottlingFactory ---------------------------------------------------------------------


def throttled(**kw: Any) -> tuple[policies.ThrottlingFactory, Any, StringTransport, task.Clock]:
    clock = task.Clock()
    factory = policies.ThrottlingFactory(Server(), clock=clock, **kw)
    p = factory.buildProtocol(ADDR)
    transport = StringTransportWithDisconnection()
    transport.protocol = p
    p.makeConnection(transport)
    return factory, p, transport, clock


def test_throttling_counts_write_sequence() -> None:
    """writeSequence is counted and relayed."""
    factory, p, transport, clock = throttled()
    p.writeSequence([b"bytes"] * 4)
    assert transport.value() == b"bytesbytesbytesbytes"
    assert factory.writtenThisSecond == 20


def test_throttling_write_limit_pauses_the_producer() -> None:
    """Over the write limit, the producer is paused for the excess, then resumed."""
    factory, p, transport, clock = throttled(writeLimit=10)
    p.producer = p.wrappedProtocol
    p.dataReceived(b"0123456789")
    p.dataReceived(b"abcdefghij")
    assert transport.value() == b"0123456789abcdefghij"
    assert factory.writtenThisSecond == 20
    assert not p.wrappedProtocol.paused
    clock.advance(1.05)
    assert factory.writtenThisSecond == 0
    assert p.wrappedProtocol.paused
    clock.advance(1.05)
    assert not p.wrappedProtocol.paused


def test_throttling_write_limit_without_producer_is_harmless() -> None:
    """With no producer registered, write throttling does nothing."""
    factory, p, transport, clock = throttled(writeLimit=10)
    p.write(b"x" * 100)
    clock.advance(1.05)
    clock.advance(1.05)
    assert transport.value() == b"x" * 100


def test_throttling_read_limit_pauses_reading() -> None:
    """Over the read limit, the transport is paused for the excess, then resumed."""
    factory, p, transport, clock = throttled(readLimit=10)
    for _ in range(2):
        transport.clear()
        p.dataReceived(b"0123456789")
        p.dataReceived(b"abcdefghij")
        assert transport.value() == b"0123456789abcdefghij"
        assert factory.readThisSecond == 20
        clock.advance(1.05)
        assert factory.readThisSecond == 0
        assert transport.producerState == "paused"
        clock.advance(1.05)
        assert transport.producerState == "producing"


def test_throttling_max_connections() -> None:
    """Connections beyond maxConnectionCount are refused until one closes."""
    clock = task.Clock()
    factory = policies.ThrottlingFactory(Server(), maxConnectionCount=2, clock=clock)
    p1, p2 = factory.buildProtocol(ADDR), factory.buildProtocol(ADDR)
    assert p1 is not None and p2 is not None
    assert factory.buildProtocol(ADDR) is None
    t = StringTransportWithDisconnection()
    t.protocol = p1
    p1.makeConnection(t)
    t.loseConnection()
    assert factory.connectionCount == 1
    assert factory.buildProtocol(ADDR) is not None


def test_throttling_checks_stop_with_the_last_connection() -> None:
    """The once-a-second checks are cancelled when the last connection closes."""
    factory, p, transport, clock = throttled(readLimit=10, writeLimit=10)
    p.dataReceived(b"x" * 100)
    clock.advance(1.05)  # throttled: an unthrottle call is pending
    assert len(clock.getDelayedCalls()) == 4
    transport.loseConnection()
    assert clock.getDelayedCalls() == []
    # A new connection restarts them; closing again cancels cleanly.
    p2 = factory.buildProtocol(ADDR)
    t2 = StringTransportWithDisconnection()
    t2.protocol = p2
    p2.makeConnection(t2)
    assert len(clock.getDelayedCalls()) == 2
    t2.loseConnection()
    assert clock.getDelayedCalls() == []


# -- connection limits ----------------------------------------------------------------------


def test_limit_total_connections_counting_and_overflow() -> None:
    """Connections are counted; past the limit they are refused or get the overflow protocol."""
    factory = policies.LimitTotalConnectionsFactory()
    factory.protocol = protocol.Protocol
    factory.connectionLimit = 1
    p = factory.buildProtocol(None)
    assert p is not None and factory.connectionCount == 1
    assert factory.buildProtocol(None) is None
    assert factory.connectionCount == 1

    overflowed = []

    class Overflow(protocol.Protocol):
        def connectionMade(self) -> None:
            overflowed.append(True)

    factory.overflowProtocol = Overflow
    op = factory.buildProtocol(None)
    op.makeConnection(None)
    assert overflowed == [True]
    assert factory.connectionCount == 2
    p.connectionLost(None)
    op.connectionLost(None)
    assert factory.connectionCount == 0


def test_limit_connections_by_peer() -> None:
    """No more than maxConnectionsPerPeer connections from one host."""
    factory = policies.LimitConnectionsByPeer(Server())
    factory.maxConnectionsPerPeer = 2
    factory.noisy = False
    factory.doStart()
    a = [factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1000 + i)) for i in range(3)]
    assert a[0] is not None and a[1] is not None and a[2] is None
    other = factory.buildProtocol(("10.0.0.2", 5))
    assert other is not None
    assert factory.peerConnections == {"10.0.0.1": 2, "10.0.0.2": 1}
    t = StringTransportWithDisconnection()
    t.protocol = a[0]
    a[0].makeConnection(t)
    t.loseConnection()
    assert factory.peerConnections == {"10.0.0.1": 1, "10.0.0.2": 1}
    assert factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 2000)) is not None


# -- TrafficLoggingFactory ----------------------------------------------------------------------


class WriteSequenceEcho(EchoProtocol):
    def dataReceived(self, data: bytes) -> None:
        if b"vector!" in data:
            self.transport.writeSequence([data])
        else:
            super().dataReceived(data)


class MemoryLoggingFactory(policies.TrafficLoggingFactory):
    openFile: io.StringIO | None = None

    def open(self, name: str) -> io.StringIO:  # type: ignore[override]
        assert self.openFile is None, "open() called too many times"
        self.openFile = io.StringIO()
        return self.openFile


def test_traffic_is_logged() -> None:
    """Connection, data in, data out, writeSequence and close are logged."""
    wrapped = Server()
    wrapped.protocol = WriteSequenceEcho
    factory = MemoryLoggingFactory(wrapped, "test")
    p = factory.buildProtocol(("1.2.3.4", 5678))
    t = StringTransportWithDisconnection()
    t.protocol = p
    p.makeConnection(t)
    assert factory.openFile is not None
    assert "*" in factory.openFile.getvalue()
    p.dataReceived(b"here are some bytes")
    v = factory.openFile.getvalue()
    assert f"C 1: {b'here are some bytes'!r}" in v
    assert f"S 1: {b'here are some bytes'!r}" in v
    t.clear()
    p.dataReceived(b"prepare for vector! to the extreme")
    v = factory.openFile.getvalue()
    assert f"SV 1: {[b'prepare for vector! to the extreme']!r}" in v
    assert t.value() == b"prepare for vector! to the extreme"
    p.loseConnection()
    v = factory.openFile.getvalue()
    assert "S 1: *" in v
    assert "ConnectionDone" in v


def test_traffic_log_elides_long_data() -> None:
    """Data longer than lengthLimit is cut and marked."""
    factory = MemoryLoggingFactory(Server(), "test", lengthLimit=20)
    p = factory.buildProtocol(ADDR)
    p.makeConnection(StringTransport())
    p.dataReceived(b"0123456789" * 5)
    assert f"C 1: {b'01234567<... elided>'!r}" in factory.openFile.getvalue()  # type: ignore[union-attr]


def test_traffic_log_counter() -> None:
    """Each connection gets the next number; resetCounter starts again at 1."""
    factory = MemoryLoggingFactory(Server(), "test")
    assert factory._counter == 0
    factory.buildProtocol(ADDR)
    assert factory._counter == 1
    factory.openFile = None
    factory.buildProtocol(ADDR)
    assert factory._counter == 2
    factory.resetCounter()
    assert factory._counter == 0


def test_traffic_log_files_opened_and_closed(tmp_path: Any) -> None:
    """Each connection logs to <prefix>-<n>; the file is closed with the connection."""
    wrapped = protocol.ServerFactory()
    wrapped.protocol = SimpleProtocol
    factory = policies.TrafficLoggingFactory(wrapped, str(tmp_path / "test"))
    first = factory.buildProtocol(ADDR)
    second = factory.buildProtocol(ADDR)
    assert first.logfile.name == str(tmp_path / "test-1")
    assert second.logfile.name == str(tmp_path / "test-2")
    for p in (first, second):
        t = StringTransportWithDisconnection()
        t.protocol = p
        p.makeConnection(t)
        p.dataReceived(b"hi")
        t.loseConnection()
        assert p.logfile.closed
    assert "C 1: b'hi'" in (tmp_path / "test-1").read_text()


# -- on a real reactor ---------------------------------------------------------------------------


def test_throttling_factory_limits_real_connections(reactor: Any) -> None:
    """A ThrottlingFactory with maxConnectionCount=2 closes the third connection."""
    factory = policies.ThrottlingFactory(Server(), maxConnectionCount=2, clock=reactor)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    outcomes: list[str] = []

    class Client(protocol.Protocol):
        def __init__(self, done: Deferred[Any]) -> None:
            self.done = done
            self.data = b""

        def connectionMade(self) -> None:
            self.transport.write(b"hello")

        def dataReceived(self, data: bytes) -> None:
            self.data += data
            if self.data == b"hello" and not self.done.called:
                self.done.callback("echoed")

        def connectionLost(self, reason: Any) -> None:
            if not self.done.called:
                self.done.callback("closed")

    clients = []
    for _ in range(3):
        d: Deferred[Any] = Deferred()
        client = Client(d)
        clients.append(client)
        reactor.connectTCP(
            "127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(lambda c=client: c)
        )
        outcomes.append(runUntil(reactor, d))
    assert outcomes == ["echoed", "echoed", "closed"]
    assert factory.connectionCount == 2
    for client in clients[:2]:
        client.transport.loseConnection()
    runUntil(reactor, port.stopListening())
