"""torsion.protocols.policies: TimeoutMixin, TimeoutProtocol and TimeoutFactory."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import error, protocol, task
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


# -- TimeoutProtocol / TimeoutFactory ---------------------------------------------------------


def timeoutPair(period: float | None) -> tuple[Any, task.Clock]:
    clock = task.Clock()
    wrapped = protocol.ServerFactory()
    wrapped.protocol = SimpleProtocol
    factory = policies.TimeoutFactory(wrapped, period, clock=clock)  # type: ignore[arg-type]
    proto = factory.buildProtocol(ADDR)
    transport = StringTransportWithDisconnection()
    transport.protocol = proto
    proto.makeConnection(transport)
    return proto, clock


def test_timeout_protocol_cancel() -> None:
    """cancelTimeout stops the countdown; cancelling twice or late is harmless."""
    proto, clock = timeoutPair(None)
    assert proto.timeoutCall is None
    proto.cancelTimeout()
    proto.setTimeout(3)
    clock.advance(1)
    proto.cancelTimeout()
    assert proto.timeoutCall is None
    clock.advance(3)
    assert not proto.wrappedProtocol.disconnected
    proto.setTimeout(3)
    proto.timeoutCall.cancel()
    proto.cancelTimeout()
    assert not proto.wrappedProtocol.disconnected


def test_timeout_protocol_cancel_after_it_fired() -> None:
    """cancelTimeout after the timeout fired does not raise."""
    proto, clock = timeoutPair(None)
    wrapped = proto.wrappedProtocol
    proto.setTimeout(3)
    clock.advance(3)
    assert wrapped.disconnected
    proto.cancelTimeout()


def test_timeout_factory_idle_connection_closed() -> None:
    """An idle connection is closed when the period elapses."""
    proto, clock = timeoutPair(3)
    wrapped = proto.wrappedProtocol
    clock.pump([0.0, 0.5, 1.0, 1.0, 0.4])
    assert not wrapped.disconnected
    clock.pump([0.0, 0.2])
    assert wrapped.disconnected


def test_timeout_factory_traffic_restarts_the_countdown() -> None:
    """Writes, writeSequence and received data each restart the countdown."""
    proto, clock = timeoutPair(3)
    wrapped = proto.wrappedProtocol
    clock.pump([0.0, 0.5, 1.0])
    proto.write(b"bytes bytes bytes")
    clock.pump([0.0, 1.0, 1.0])
    assert not wrapped.disconnected
    proto.writeSequence([b"bytes"] * 3)
    clock.pump([0.0, 1.0, 1.0])
    assert not wrapped.disconnected
    proto.dataReceived(b"in")
    clock.pump([0.0, 1.0, 1.0])
    assert not wrapped.disconnected
    clock.pump([0.0, 2.0])
    assert wrapped.disconnected


# -- TimeoutMixin -------------------------------------------------------------------------------


class TimeoutTester(protocol.Protocol, policies.TimeoutMixin):
    timeOut: float | None = 3
    timedOut = False

    def __init__(self, clock: Any) -> None:
        self.clock = clock

    def connectionMade(self) -> None:
        self.setTimeout(self.timeOut)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()

    def connectionLost(self, reason: Any = None) -> None:
        self.setTimeout(None)

    def timeoutConnection(self) -> None:
        self.timedOut = True


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


def test_mixin_uses_the_injected_clock(clock: task.Clock) -> None:
    """setTimeout schedules on the protocol's clock."""
    TimeoutTester(clock).setTimeout(10)
    assert len(clock.calls) == 1


def test_mixin_overridden_call_later() -> None:
    """Overriding callLater (Twisted's way of injecting a clock) works too."""
    other = task.Clock()

    class Overriding(TimeoutTester):
        def callLater(self, period: float, func: Any) -> Any:
            return other.callLater(period, func)

    Overriding(None).setTimeout(10)
    assert len(other.calls) == 1


def test_mixin_times_out(clock: task.Clock) -> None:
    """The protocol times out after timeOut seconds."""
    proto = TimeoutTester(clock)
    proto.makeConnection(StringTransport())
    clock.pump([0, 0.5, 1.0, 1.0])
    assert not proto.timedOut
    clock.pump([0, 1.0])
    assert proto.timedOut


def test_mixin_data_delays_timeout(clock: task.Clock) -> None:
    """resetTimeout on data pushes the timeout back."""
    proto = TimeoutTester(clock)
    proto.makeConnection(StringTransport())
    clock.pump([0, 0.5, 1.0, 1.0])
    proto.dataReceived(b"hello there")
    clock.pump([0, 1.0, 1.0, 0.5])
    assert not proto.timedOut
    clock.pump([0, 1.0])
    assert proto.timedOut


def test_mixin_new_period_and_cancel(clock: task.Clock) -> None:
    """A new period replaces the old one; None cancels."""
    proto = TimeoutTester(clock)
    proto.timeOut = None
    proto.makeConnection(StringTransport())
    proto.setTimeout(1)
    assert proto.timeOut == 1
    clock.pump([0, 0.9])
    assert not proto.timedOut
    clock.pump([0, 0.2])
    assert proto.timedOut

    proto2 = TimeoutTester(clock)
    proto2.timeOut = 5
    proto2.makeConnection(StringTransport())
    proto2.setTimeout(None)
    assert proto2.timeOut is None
    clock.pump([0, 5, 5, 5])
    assert not proto2.timedOut


def test_mixin_set_timeout_returns_previous(clock: task.Clock) -> None:
    """setTimeout returns the previous period."""
    proto = TimeoutTester(clock)
    proto.timeOut = 5
    assert proto.setTimeout(10) == 5
    assert proto.setTimeout(None) == 10
    assert proto.setTimeout(1) is None
    assert proto.timeOut == 1
    proto.setTimeout(None)
    assert clock.calls == []


def test_mixin_cancel_after_external_cancel(clock: task.Clock) -> None:
    """setTimeout(None) after the call was cancelled elsewhere does not raise."""
    proto = TimeoutTester(clock)
    proto.setTimeout(3)
    clock.getDelayedCalls()[0].cancel()
    proto.setTimeout(None)
    assert proto.timeOut is None


def test_mixin_default_closes_the_transport(clock: task.Clock) -> None:
    """The default timeoutConnection closes the transport."""

    class Plain(protocol.Protocol, policies.TimeoutMixin):
        pass

    proto = Plain()
    proto.clock = clock
    proto.makeConnection(StringTransport())
    proto.setTimeout(2)
    clock.advance(2)
    assert proto.transport.disconnecting


def test_timeout_mixin_on_real_reactor(reactor: Any) -> None:
    """An idle TimeoutMixin server closes the connection on the real reactor."""
    lost: Deferred[Any] = Deferred()

    class Idle(basic.LineReceiver, policies.TimeoutMixin):
        def connectionMade(self) -> None:
            self.clock = reactor
            self.setTimeout(0.05)

        def lineReceived(self, line: bytes) -> None:
            self.resetTimeout()
            self.sendLine(line)

        def connectionLost(self, reason: Any) -> None:
            self.setTimeout(None)
            lost.callback([reason])

    port = reactor.listenTCP(0, protocol.Factory.forProtocol(Idle), interface="127.0.0.1")
    received: Deferred[Any] = Deferred()

    class Client(protocol.Protocol):
        data = b""

        def connectionMade(self) -> None:
            self.transport.write(b"ping\r\n")

        def dataReceived(self, data: bytes) -> None:
            self.data += data

        def connectionLost(self, reason: Any) -> None:
            received.callback(self.data)

    reactor.connectTCP("127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(Client))
    [reason] = runUntil(reactor, lost)
    assert reason.check(error.ConnectionDone)
    assert runUntil(reactor, received) == b"ping\r\n"
    runUntil(reactor, port.stopListening())
