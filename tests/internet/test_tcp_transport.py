"""ITCPTransport behaviour over real loopback connections, on both loops."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.internet.pairs import Recorder, closePair, connectPair
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred
from torsion.internet.testing import NonStreamingProducer


def test_write_rejects_non_bytes_and_drops_after_close(reactor: Any) -> None:
    """write() needs bytes; writes after the connection closed are dropped silently."""
    s, c, port = connectPair(reactor)
    with pytest.raises(TypeError):
        c.transport.write("text")
    with pytest.raises(TypeError):
        c.transport.writeSequence([b"ok", "text"])
    c.transport.writeSequence([b"a", b"b", b"c"])
    closePair(reactor, c, s, port=port)
    assert s.data == b"abc"
    c.transport.write(b"late")
    assert c.transport.connected == 0 and c.transport.disconnected == 1


def test_lose_connection_flushes_everything_first(reactor: Any) -> None:
    """4 MiB written then loseConnection() all arrive before the clean close."""
    s, c, port = connectPair(reactor)
    payload = bytes(range(256)) * 16384
    s.transport.pauseProducing()
    c.transport.write(payload)
    c.transport.loseConnection()
    assert c.transport.disconnecting
    s.transport.resumeProducing()
    [reason] = runUntil(reactor, s.lost)
    assert reason.check(error.ConnectionDone)
    assert s.data == payload
    runUntil(reactor, c.lost)
    assert c.reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_registered_producer_delays_lose_connection(reactor: Any) -> None:
    """loseConnection() waits for unregisterProducer(), then closes."""
    s, c, port = connectPair(reactor)

    class Producer:
        def pauseProducing(self) -> None: ...
        def resumeProducing(self) -> None: ...
        def stopProducing(self) -> None: ...

    c.transport.registerProducer(Producer(), True)
    c.transport.write(b"before")
    c.transport.loseConnection()
    done: Deferred[None] = Deferred()
    reactor.callLater(0.05, done.callback, None)
    runUntil(reactor, done)
    assert c.transport.connected and not c.lost.called
    c.transport.write(b"+after")
    c.transport.unregisterProducer()
    runUntil(reactor, s.lost)
    assert s.data == b"before+after"
    runUntil(reactor, c.lost)
    runUntil(reactor, port.stopListening())


def test_abort_connection(reactor: Any) -> None:
    """abortConnection(): ConnectionAborted here, ConnectionLost (reset) at the peer."""
    s, c, port = connectPair(reactor)
    c.transport.write(b"discarded?")
    c.transport.abortConnection()
    c.transport.abortConnection()
    c.transport.loseConnection()
    [reason] = runUntil(reactor, c.lost)
    assert reason.check(error.ConnectionAborted)
    [peerReason] = runUntil(reactor, s.lost)
    assert peerReason.check(error.ConnectionLost)
    assert c.lostCount == 1 and s.lostCount == 1
    runUntil(reactor, port.stopListening())


class HalfCloser(Recorder):
    def readConnectionLost(self) -> None:
        self.events.append("readLost")
        self.transport.write(b"reply after eof")
        self.transport.loseConnection()

    def writeConnectionLost(self) -> None:
        self.events.append("writeLost")


def test_half_close(reactor: Any) -> None:
    """loseWriteConnection(): the peer gets readConnectionLost and can still answer."""
    s, c, port = connectPair(reactor, server=HalfCloser, client=HalfCloserClient)
    c.transport.write(b"request")
    c.transport.loseWriteConnection()
    [reason] = runUntil(reactor, c.lost)
    assert reason.check(error.ConnectionDone)
    assert c.data == b"reply after eof"
    assert c.events == ["made", "writeLost", "lost"]
    runUntil(reactor, s.lost)
    assert s.data == b"request"
    assert s.events == ["made", "readLost", "lost"]
    runUntil(reactor, port.stopListening())


class HalfCloserClient(Recorder):
    def writeConnectionLost(self) -> None:
        self.events.append("writeLost")

    def readConnectionLost(self) -> None:
        self.transport.loseConnection()


def test_peer_eof_without_half_close_support(reactor: Any) -> None:
    """A protocol without readConnectionLost gets connectionLost(ConnectionDone) on EOF."""
    s, c, port = connectPair(reactor)
    c.transport.loseWriteConnection()
    [reason] = runUntil(reactor, s.lost)
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, c.lost)
    runUntil(reactor, port.stopListening())


def test_addresses_and_socket_options(reactor: Any) -> None:
    """getPeer/getHost give IPv4Address objects; TCP_NODELAY and SO_KEEPALIVE toggle."""
    s, c, port = connectPair(reactor)
    assert c.transport.getPeer() == s.transport.getHost()
    assert s.transport.getPeer() == c.transport.getHost()
    assert c.transport.getPeer().type == "TCP"
    assert c.transport.getPeer().port == port.getHost().port
    c.transport.setTcpNoDelay(False)
    assert c.transport.getTcpNoDelay() is False
    c.transport.setTcpNoDelay(True)
    assert c.transport.getTcpNoDelay() is True
    c.transport.setTcpKeepAlive(True)
    assert c.transport.getTcpKeepAlive() is True
    closePair(reactor, c, s, port=port)


def test_ipv6_listen_and_connect(reactor: Any) -> None:
    """An IPv6 literal interface listens on IPv6; addresses are IPv6Address."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no ::1")
    s, c, port = connectPair(reactor, interface="::1")
    peer = c.transport.getPeer()
    assert type(peer).__name__ == "IPv6Address" and peer.host == "::1"
    closePair(reactor, c, s, port=port)


class Flood(Recorder):
    """A push producer writing 16 KiB chunks while not paused."""

    chunk = b"z" * 16384

    def connectionMade(self) -> None:
        super().connectionMade()
        self.paused = False
        self.pauses = 0
        self.resumes = 0
        self.written = 0
        self.maxBuffered = 0
        self.stopped = False
        self.transport.registerProducer(self, True)
        self.reactor.callLater(0, self.produce)

    def produce(self) -> None:
        while not self.paused and not self.stopped and self.written < 8 * 1024 * 1024:
            self.transport.write(self.chunk)
            self.written += len(self.chunk)
            self.maxBuffered = max(self.maxBuffered, self.transport.getBufferSize())
        if self.written >= 8 * 1024 * 1024 and not self.stopped:
            self.stopped = True
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def resumeProducing(self) -> None:
        self.paused = False
        self.resumes += 1
        self.reactor.callLater(0, self.produce)

    def stopProducing(self) -> None:
        self.stopped = True


def test_push_producer_paused_by_slow_reader(reactor: Any) -> None:
    """A slow reader pauses a push producer: the write buffer stays bounded, no data lost."""

    def makeFlood() -> Flood:
        f = Flood()
        f.reactor = reactor
        return f

    s, c, port = connectPair(reactor, server=makeFlood)
    pending: list[Any] = []

    def slowRead() -> None:
        # Read in bursts: pause the client transport most of the time.
        c.transport.resumeProducing()
        pending[:] = [
            reactor.callLater(0.002, c.transport.pauseProducing),
            reactor.callLater(0.004, slowRead),
        ]

    c.transport.pauseProducing()
    pending.append(reactor.callLater(0.004, slowRead))
    runUntil(reactor, c.lost, timeout=30)
    for call in pending:
        if call.active():
            call.cancel()
    assert len(c.data) == 8 * 1024 * 1024
    assert s.pauses >= 1 and s.resumes >= 1
    # High-water mark (64 KiB) plus at most one chunk above it before pausing.
    assert s.maxBuffered <= 64 * 1024 + 2 * len(Flood.chunk)
    runUntil(reactor, s.lost)
    runUntil(reactor, port.stopListening())


def test_pull_producer(reactor: Any) -> None:
    """A pull producer is asked for data until it unregisters."""
    s, c, port = connectPair(reactor)
    producer = NonStreamingProducer(c.transport)
    c.transport.registerProducer(producer, False)
    runUntil(reactor, producer.result)
    c.transport.loseConnection()
    runUntil(reactor, s.lost)
    assert s.data == b"0123456789"
    runUntil(reactor, c.lost)
    runUntil(reactor, port.stopListening())


def test_transport_is_a_push_producer(reactor: Any) -> None:
    """pauseProducing() stops delivery of received data; resumeProducing() restarts it."""
    s, c, port = connectPair(reactor)
    s.transport.pauseProducing()
    c.transport.write(b"held")
    tick: Deferred[None] = Deferred()
    reactor.callLater(0.05, tick.callback, None)
    runUntil(reactor, tick)
    assert s.data == b""
    gotData: Deferred[None] = Deferred()
    s.dataReceived = lambda data: (setattr(s, "data", s.data + data), gotData.callback(None))
    s.transport.resumeProducing()
    runUntil(reactor, gotData)
    assert s.data == b"held"
    closePair(reactor, c, s, port=port)


def test_do_write_flushes_inside_dispatch(reactor: Any) -> None:
    """doWrite() hands pending writes to the loop at once, even inside a callback."""
    s, c, port = connectPair(reactor)
    sizes: list[int] = []

    def inCallback() -> None:
        c.transport.write(b"x" * 10)
        sizes.append(sum(map(len, c.transport._pending)))
        c.transport.doWrite()
        sizes.append(sum(map(len, c.transport._pending)))

    reactor.callLater(0, inCallback)
    got: Deferred[None] = Deferred()
    s.dataReceived = lambda data: got.callback(data)
    assert runUntil(reactor, got) == b"x" * 10
    assert sizes == [10, 0]
    closePair(reactor, c, s, port=port)


class Raiser(Recorder):
    def dataReceived(self, data: bytes) -> None:
        raise RuntimeError("bad data")


def test_exception_in_data_received(reactor: Any, logged_errors: Any) -> None:
    """An exception in dataReceived is logged and becomes the connectionLost reason."""
    s, c, port = connectPair(reactor, server=Raiser)
    c.transport.write(b"trigger")
    [reason] = runUntil(reactor, s.lost)
    assert reason.check(RuntimeError)
    assert len(logged_errors.flush(RuntimeError)) == 1
    # Like Twisted, the socket is closed without flushing: the peer sees EOF.
    runUntil(reactor, c.lost)
    assert c.reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


class RaiseOnMade(Recorder):
    def connectionMade(self) -> None:
        super().connectionMade()
        raise KeyError("in connectionMade")


def test_exception_in_server_connection_made(reactor: Any, logged_errors: Any) -> None:
    """An exception in a server's connectionMade closes that connection only."""
    failing = Deferred()

    class F(protocol.Factory):
        noisy = False

        def buildProtocol(self, addr: Any) -> Any:
            p = RaiseOnMade()
            p.lost.chainDeferred(failing)
            return p

    port = reactor.listenTCP(0, F(), interface="127.0.0.1")
    clientLost: Deferred[Any] = Deferred()

    class CF(protocol.ClientFactory):
        noisy = False

        def buildProtocol(self, addr: Any) -> Any:
            return Recorder()

        def clientConnectionLost(self, connector: Any, reason: Any) -> None:
            clientLost.callback([reason])

    reactor.connectTCP("127.0.0.1", port.getHost().port, CF())
    [reason] = runUntil(reactor, failing)
    assert reason.check(KeyError)
    runUntil(reactor, clientLost)
    assert len(logged_errors.flush(KeyError)) == 1
    # The port still accepts connections.
    s, c, _ = connectPair(reactor)
    closePair(reactor, c, s, port=port)
    runUntil(reactor, _.stopListening())


def test_peer_reset_mid_stream(reactor: Any, logged_errors: Any) -> None:
    """A reset from the peer gives ConnectionLost and logs nothing."""
    s, c, port = connectPair(reactor)
    c.transport.write(b"partial")
    s.transport.abortConnection()
    [reason] = runUntil(reactor, c.lost)
    assert reason.check(error.ConnectionLost)
    assert not reason.check(error.ConnectionAborted)
    runUntil(reactor, s.lost)
    runUntil(reactor, port.stopListening())
    assert logged_errors.records == []


def test_thousand_connections(reactor: Any) -> None:
    """1,000 connections opened and closed: each gets connectionLost exactly once."""
    lost: list[Any] = []
    allLost: Deferred[None] = Deferred()
    total = 1000

    class Server(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)
            self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            lost.append(("server", reason.type.__name__))
            if len(lost) == 2 * total:
                allLost.callback(None)

    class Client(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"ping")

        def connectionLost(self, reason: Any) -> None:
            lost.append(("client", reason.type.__name__))
            if len(lost) == 2 * total:
                allLost.callback(None)

    sf = protocol.Factory.forProtocol(Server)
    sf.noisy = False
    port = reactor.listenTCP(0, sf, backlog=1024, interface="127.0.0.1")
    cf = protocol.ClientFactory.forProtocol(Client)
    cf.noisy = False
    for _ in range(total):
        reactor.connectTCP("127.0.0.1", port.getHost().port, cf)
    runUntil(reactor, allLost, timeout=60)
    assert len(lost) == 2 * total
    assert {kind for _, kind in lost} == {"ConnectionDone"}
    assert cf.numPorts == 0
    runUntil(reactor, port.stopListening())
