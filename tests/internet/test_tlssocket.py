"""The socket TLS transport behind listenSSL/connectSSL: flow control both ways,
in-progress handshakes when a port stops, and reading paused by the protocol."""

from __future__ import annotations

import socket
from typing import Any

from tests.internet.tlshelpers import clientContext, inThread, serverContext
from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet._tlssocket import HIGH_WATER
from torsion.internet.defer import Deferred

CHUNK = b"z" * 16384


class Streamer(protocol.Protocol):
    """Writes through a push producer until paused once, then finishes and closes.

    Small socket buffers on both sides make the pause come early.
    """

    def __init__(self, pausedOnce: Deferred[None]) -> None:
        self.pausedOnce = pausedOnce
        self.pauses = 0
        self.sent = 0
        self.paused = False

    def connectionMade(self) -> None:
        self.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        self.transport.registerProducer(self, True)
        self.resumeProducing()

    def pauseProducing(self) -> None:
        self.pauses += 1
        self.paused = True
        if not self.pausedOnce.called:
            self.pausedOnce.callback(None)

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused:
            self.transport.write(CHUNK)
            self.sent += len(CHUNK)
            if self.pauses:  # resumed after the pause: one more chunk, then done
                self.transport.unregisterProducer()
                self.transport.loseConnection()
                return

    def stopProducing(self) -> None:
        self.paused = True


class SlowReader(protocol.Protocol):
    """Reads nothing until ``release()``; then collects everything."""

    def __init__(self, done: Deferred[Any]) -> None:
        self.done = done
        self.received = 0

    def connectionMade(self) -> None:
        self.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        self.transport.pauseProducing()

    def release(self) -> None:
        self.transport.resumeProducing()

    def dataReceived(self, data: bytes) -> None:
        self.received += len(data)

    def connectionLost(self, reason: Any) -> None:
        self.done.callback((self.received, reason))


def test_push_producer_is_paced_by_a_slow_tls_reader(reactor: Any) -> None:
    """The sender is paused while the peer reads nothing; everything arrives after."""
    streamers: list[Streamer] = []

    paused: Deferred[None] = Deferred()

    def build() -> Streamer:
        streamers.append(Streamer(paused))
        return streamers[-1]

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(build), serverContext(), interface="127.0.0.1"
    )
    done: Deferred[Any] = Deferred()
    reader = SlowReader(done)
    reactor.connectSSL(
        "127.0.0.1",
        port.getHost().port,
        protocol.ClientFactory.forProtocol(lambda: reader),
        clientContext(),
    )
    runUntil(reactor, paused)  # the kernel buffers filled, then ours
    streamer = streamers[0]
    assert streamer.transport._t.get_write_buffer_size() > HIGH_WATER
    reader.release()
    received, reason = runUntil(reactor, done, timeout=30)
    assert received == streamer.sent
    assert reason.check(error.ConnectionDone)
    runUntil(reactor, port.stopListening())


def test_stop_listening_cancels_handshakes_in_progress(reactor: Any) -> None:
    """A TCP client that never sends its ClientHello does not outlive the port."""
    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(protocol.Protocol), serverContext(), interface="127.0.0.1"
    )
    number = port.getHost().port
    raw = socket.create_connection(("127.0.0.1", number))
    try:
        runUntil(reactor, _until(reactor, lambda: bool(port._handshakes)))
        runUntil(reactor, port.stopListening())
        raw.settimeout(5)
        assert runUntil(reactor, inThread(reactor, lambda: raw.recv(10))) == b""
        assert not port._handshakes
    finally:
        raw.close()


def test_reading_paused_from_data_received_resumes_with_the_rest(reactor: Any) -> None:
    """pauseProducing() in dataReceived stops delivery; resumeProducing() goes on."""
    port = reactor.listenSSL(
        0,
        protocol.Factory.forProtocol(lambda: _Sender(b"a" * 40000)),
        serverContext(),
        interface="127.0.0.1",
    )
    done: Deferred[Any] = Deferred()
    chunks: list[int] = []

    class PauseOnce(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            chunks.append(len(data))
            if len(chunks) == 1:
                self.transport.pauseProducing()
                reactor.callLater(0.05, self.transport.resumeProducing)

        def connectionLost(self, reason: Any) -> None:
            done.callback(sum(chunks))

    reactor.connectSSL(
        "127.0.0.1",
        port.getHost().port,
        protocol.ClientFactory.forProtocol(PauseOnce),
        clientContext(),
    )
    assert runUntil(reactor, done) == 40000
    assert len(chunks) > 1
    runUntil(reactor, port.stopListening())


class _Sender(protocol.Protocol):
    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def connectionMade(self) -> None:
        self.transport.write(self.payload)
        self.transport.loseConnection()


def test_accept_failure_pauses_accepting_instead_of_spinning(reactor: Any) -> None:
    """An accept() error (EMFILE, typically) is logged; accepting resumes a second later."""
    import errno

    from torsion.internet import _tls

    port = reactor.listenSSL(
        0, protocol.Factory.forProtocol(protocol.Protocol), serverContext(), interface="127.0.0.1"
    )
    runUntil(reactor, _until(reactor, lambda: port._server is not None))
    acceptor = port._server
    assert isinstance(acceptor, _tls._Acceptor)
    calls: list[Deferred[None]] = [Deferred(), Deferred()]
    real = acceptor._sock

    class Exhausted:
        def accept(self) -> Any:
            fired = [d for d in calls if not d.called]
            if fired:
                fired[0].callback(None)
            raise OSError(errno.EMFILE, "Too many open files")

    acceptor._sock = Exhausted()  # type: ignore[assignment]
    raw = socket.create_connection(("127.0.0.1", port.getHost().port))
    try:
        runUntil(reactor, calls[0])
        runUntil(reactor, _settle(reactor))  # time for a retry loop to show
        assert not calls[1].called  # the reader is off: no retry loop
        # About a second later accepting resumes (and meets the error again).
        runUntil(reactor, calls[1], timeout=5)
    finally:
        acceptor._sock = real
        raw.close()
    runUntil(reactor, port.stopListening())


def _settle(reactor: Any) -> Deferred[None]:
    """Fires 50 ms later: for checking that something does *not* happen."""
    d: Deferred[None] = Deferred()
    reactor.callLater(0.05, d.callback, None)
    return d


def _until(reactor: Any, condition: Any) -> Deferred[None]:
    """Fires once ``condition()`` holds, checked every 10 ms (state with no event)."""
    d: Deferred[None] = Deferred()

    def check() -> None:
        if condition():
            d.callback(None)
        else:
            reactor.callLater(0.01, check)

    check()
    return d


def test_shutdown_timeout_covers_unsent_data(reactor: Any) -> None:
    """loseConnection with data the peer never reads: dropped after shutdownTimeout."""
    lost: Deferred[Any] = Deferred()
    held: list[Any] = []

    class FloodThenClose(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
            self.transport.write(b"f" * (4 * 1024 * 1024))
            self.transport.loseConnection()

        def connectionLost(self, reason: Any) -> None:
            lost.callback([reason])

    port = reactor.listenSSL(
        0,
        protocol.Factory.forProtocol(FloodThenClose),
        serverContext(),
        interface="127.0.0.1",
        shutdownTimeout=0.3,
    )

    def client() -> None:
        raw = socket.create_connection(("127.0.0.1", port.getHost().port), timeout=10)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        held.append(clientContext().wrap_socket(raw, server_hostname="localhost"))

    try:
        runUntil(reactor, inThread(reactor, client))
        [reason] = runUntil(reactor, lost, timeout=5)
        assert reason.check(error.ConnectionLost, error.ConnectionDone)
    finally:
        for s in held:
            s.close()
    runUntil(reactor, port.stopListening())
