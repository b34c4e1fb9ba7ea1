"""torsion.test.iosim: in-memory connected pairs for protocol tests."""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet import error, task
from torsion.internet.protocol import ClientFactory, Factory, Protocol
from torsion.internet.testing import MemoryReactor, MemoryReactorClock
from torsion.protocols import basic
from torsion.python.failure import Failure
from torsion.test.iosim import (
    ConnectionCompleter,
    FakeTransport,
    IOPump,
    connect,
    connectedServerAndClient,
)


def test_each_transport_has_a_serial() -> None:
    """Every FakeTransport gets a distinct integer serial number."""
    a = FakeTransport(object(), True)
    b = FakeTransport(object(), False)
    assert isinstance(a.serial, int) and isinstance(b.serial, int)
    assert a.serial != b.serial
    assert repr(a).startswith("FakeTransport<S,")


def test_write_sequence_and_write_after_close() -> None:
    """writeSequence appends; writes after loseConnection are dropped."""
    a = FakeTransport(object(), False)
    a.write(b"a")
    a.writeSequence([b"b", b"c", b"d"])
    a.loseConnection()
    a.write(b"after")
    assert b"".join(a.stream) == b"abcd"
    with pytest.raises(TypeError):
        a.write("text")  # type: ignore[arg-type]


class StrictPushProducer:
    """A push producer that refuses invalid state transitions."""

    _state = "running"

    def stopProducing(self) -> None:
        if self._state == "stopped":
            raise ValueError("already stopped")
        self._state = "stopped"

    def pauseProducing(self) -> None:
        if self._state != "running":
            raise ValueError(f"cannot pause when {self._state}")
        self._state = "paused"

    def resumeProducing(self) -> None:
        if self._state != "paused":
            raise ValueError(f"cannot resume when {self._state}")
        self._state = "running"


@pytest.mark.parametrize("side", ["server", "client"])
def test_pump_leaves_push_producers_alone(side: str) -> None:
    """Pumping never calls a streaming producer registered on either side."""
    serverProto, clientProto = Protocol(), Protocol()
    serverTransport = FakeTransport(serverProto, isServer=True)
    clientTransport = FakeTransport(clientProto, isServer=False)
    pump = connect(serverProto, serverTransport, clientProto, clientTransport, greet=False)
    producer = StrictPushProducer()
    victim = serverTransport if side == "server" else clientTransport
    victim.registerProducer(producer, streaming=True)
    pump.pump()
    assert producer._state == "running"


def test_pump_advances_the_clock() -> None:
    """Each pump runs the clock's calls that are due now."""
    ran: list[bool] = []
    clock = task.Clock()
    _, _, pump = connectedServerAndClient(Protocol, Protocol, clock=clock)
    clock.callLater(0, lambda: ran.append(True))
    assert not ran
    pump.pump()
    assert ran


class Greeter(basic.LineReceiver):
    def connectionMade(self) -> None:
        self.lines: list[bytes] = []
        self.lost: list[Failure] = []
        self.sendLine(b"hello")

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        if line == b"bye":
            self.transport.loseConnection()
        else:
            self.sendLine(b"ack " + line)

    def connectionLost(self, reason: Any) -> None:
        self.lost.append(reason)


class Talker(basic.LineReceiver):
    def connectionMade(self) -> None:
        self.lines: list[bytes] = []
        self.lost: list[Failure] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)

    def connectionLost(self, reason: Any) -> None:
        self.lost.append(reason)


def test_conversation_and_close() -> None:
    """Greeting, exchange and close travel only when pumped; both sides see the close."""
    client, server = Talker(), Greeter()
    clientIO, serverIO = FakeTransport(client, False), FakeTransport(server, True)
    pump = connect(server, serverIO, client, clientIO, greet=False)
    assert client.lines == [] and server.lines == []
    assert pump.pump()
    assert client.lines == [b"hello"]
    client.sendLine(b"one")
    client.sendLine(b"bye")
    assert server.lines == []
    assert pump.flush()
    assert server.lines == [b"one", b"bye"]
    assert client.lines == [b"hello", b"ack one"]
    assert len(client.lost) == len(server.lost) == 1
    assert client.lost[0].check(error.ConnectionDone)
    assert serverIO.disconnected and clientIO.disconnecting
    assert not pump.flush()


def test_pull_producer_is_polled_by_the_pump() -> None:
    """A pull producer on a fake transport is resumed at each pump."""
    client, server, pump = connectedServerAndClient(Talker, Talker)
    chunks = [b"a\r\n", b"b\r\n", b"c\r\n"]

    class Pull:
        def resumeProducing(self) -> None:
            if chunks:
                server.transport.write(chunks.pop(0))
            else:
                server.transport.unregisterProducer()

        def stopProducing(self) -> None:
            pass

    server.transport.registerProducer(Pull(), False)
    pump.flush()
    assert client.lines == [b"a", b"b", b"c"]


def test_flush_gives_up_on_endless_chatter() -> None:
    """flush raises after 1000 rounds of traffic."""

    class PingPong(Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"x")

        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    with pytest.raises(AssertionError, match="Too long"):
        connectedServerAndClient(PingPong, PingPong)


def test_completer_without_pending_connection() -> None:
    """succeedOnce returns None when no client connection is pending."""
    assert ConnectionCompleter(MemoryReactor()).succeedOnce() is None


def test_completer_connects_matching_client_and_server() -> None:
    """succeedOnce connects a pending client to the listener on its port."""
    mem = MemoryReactor()
    mem.listenTCP(80, Factory.forProtocol(Talker))
    mem.connectTCP("127.0.0.1", 81, ClientFactory.forProtocol(Greeter))
    cc = ConnectionCompleter(mem)
    assert cc.succeedOnce() is None
    mem.connectTCP("127.0.0.1", 80, ClientFactory.forProtocol(Greeter))
    pump = cc.succeedOnce()
    assert isinstance(pump, IOPump)
    assert pump.server.lines == [b"hello"]
    assert len(mem.tcpClients) == 1 and len(mem.connectors) == 1


def test_completer_uses_a_memory_reactor_clock() -> None:
    """With a MemoryReactorClock, pumping advances that reactor's clock."""
    mem = MemoryReactorClock()
    mem.listenTCP(80, Factory.forProtocol(Protocol))
    mem.connectTCP("127.0.0.1", 80, ClientFactory.forProtocol(Protocol))
    pump = ConnectionCompleter(mem).succeedOnce()
    assert pump is not None and pump.clock is mem


def test_completer_fail_once() -> None:
    """failOnce fails the first pending attempt with ConnectionRefusedError."""
    failures: list[Failure] = []

    class Client(ClientFactory):
        def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
            failures.append(reason)

    mem = MemoryReactor()
    mem.connectTCP("127.0.0.1", 80, Client())
    ConnectionCompleter(mem).failOnce()
    assert [f.check(error.ConnectionRefusedError) for f in failures] == [
        error.ConnectionRefusedError
    ]
    assert mem.tcpClients == [] and mem.connectors == []
