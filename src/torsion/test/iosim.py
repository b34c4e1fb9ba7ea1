"""Two protocols connected in memory, with explicit control of the bytes.

Twisted: ``twisted.test.iosim``.  Each side gets a :class:`FakeTransport`
that only records what is written; an :class:`IOPump` moves the recorded
bytes to the other side when the test says so (``pump()`` once,
``flush()`` until nothing moves) and reports disconnections, so a test
sees every step of a conversation without sockets, threads or real time.

Not ported: Twisted's simulated TLS negotiation (``startTLS`` on the fake
transport) and ``connectableEndpoint`` (which needs endpoints).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from torsion.internet import error
from torsion.internet.testing import MemoryReactor, MemoryReactorClock
from torsion.python.failure import Failure

__all__ = [
    "ConnectionCompleter",
    "FakeAddress",
    "FakeTransport",
    "IOPump",
    "connect",
    "connectedServerAndClient",
    "makeFakeClient",
    "makeFakeServer",
]

_serials = itertools.count()


class FakeAddress:
    """The default host and peer address of a :class:`FakeTransport`."""


class FakeTransport:
    """A transport that keeps what is written until an :class:`IOPump` takes it.

    Twisted: ``twisted.test.iosim.FakeTransport``.  ``loseConnection`` and
    ``abortConnection`` only set ``disconnecting``; the pump then reports
    the close to both protocols.  Writes after that are dropped.

    Args:
        protocol: the protocol the bytes of the other side are delivered to.
        isServer: whether this is the accepting side.
        hostAddress: what ``getHost()`` returns (a new FakeAddress if None).
        peerAddress: what ``getPeer()`` returns (a new FakeAddress if None).
    """

    closed = 0
    disconnecting = 0
    disconnected = 0
    disconnectReason: BaseException = error.ConnectionDone("Connection done")
    producer: Any = None
    streamingProducer = 0

    def __init__(
        self,
        protocol: Any,
        isServer: bool,
        hostAddress: Any = None,
        peerAddress: Any = None,
    ) -> None:
        self.protocol = protocol
        self.isServer = isServer
        self.stream: list[bytes] = []
        self.serial = next(_serials)
        self.hostAddress = FakeAddress() if hostAddress is None else hostAddress
        self.peerAddress = FakeAddress() if peerAddress is None else peerAddress

    def __repr__(self) -> str:
        side = "S" if self.isServer else "C"
        return f"FakeTransport<{side},{self.serial},{self.protocol.__class__.__name__}>"

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError("Data must be bytes")
        if self.disconnecting:
            return
        self.stream.append(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        self.write(b"".join(iovec))

    def _checkProducer(self) -> None:
        # Called by the pump at idle points: a pull producer may write more.
        if self.producer and not self.streamingProducer:
            self.producer.resumeProducing()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer
        self.streamingProducer = streaming
        if not streaming:
            producer.resumeProducing()

    def unregisterProducer(self) -> None:
        self.producer = None

    def stopConsuming(self) -> None:
        self.unregisterProducer()
        self.loseConnection()

    def loseConnection(self) -> None:
        self.disconnecting = True

    def abortConnection(self) -> None:
        """Like :meth:`loseConnection` here: written data is still delivered."""
        self.disconnecting = True

    def reportDisconnect(self) -> None:
        """Tell the protocol that the connection is lost."""
        self.protocol.connectionLost(Failure(self.disconnectReason))

    def logPrefix(self) -> str:
        return "iosim"

    def getPeer(self) -> Any:
        return self.peerAddress

    def getHost(self) -> Any:
        return self.hostAddress

    def resumeProducing(self) -> None:
        pass

    def pauseProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        self.loseConnection()

    def getOutBuffer(self) -> bytes | None:
        """Remove and return what was written since the last call (None if nothing)."""
        if self.stream:
            data = b"".join(self.stream)
            self.stream = []
            return data
        return None

    def bufferReceived(self, buf: bytes) -> None:
        """Deliver bytes from the other side to the protocol."""
        self.protocol.dataReceived(buf)

    def getTcpKeepAlive(self) -> bool:
        return False

    def getTcpNoDelay(self) -> bool:
        return False

    def loseWriteConnection(self) -> None:
        pass

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass


def makeFakeClient(clientProtocol: Any) -> FakeTransport:
    """A :class:`FakeTransport` for the connecting side."""
    return FakeTransport(clientProtocol, isServer=False)


def makeFakeServer(serverProtocol: Any) -> FakeTransport:
    """A :class:`FakeTransport` for the accepting side."""
    return FakeTransport(serverProtocol, isServer=True)


class IOPump:
    """Moves bytes between the two transports of a connected pair.

    Twisted: ``twisted.test.iosim.IOPump``.

    Args:
        client, server: the two protocols.
        clientIO, serverIO: their :class:`FakeTransport` objects.
        debug: print what moves.
        clock: advanced by 0 on each :meth:`pump`, so ``callLater(0, ...)``
            calls run (a new :class:`MemoryReactorClock` if None).
    """

    def __init__(
        self,
        client: Any,
        server: Any,
        clientIO: FakeTransport,
        serverIO: FakeTransport,
        debug: bool,
        clock: Any = None,
    ) -> None:
        self.client = client
        self.server = server
        self.clientIO = clientIO
        self.serverIO = serverIO
        self.debug = debug
        self.clock = MemoryReactorClock() if clock is None else clock

    def flush(self, debug: bool = False, advanceClock: bool = True) -> bool:
        """Pump until nothing moves; return whether anything did.

        Raises:
            AssertionError: after 1000 rounds (the two sides never go quiet).
        """
        result = False
        for _ in range(1000):
            if not self.pump(debug, advanceClock):
                return result
            result = True
        raise AssertionError("Too long")

    def pump(self, debug: bool = False, advanceClock: bool = True) -> bool:
        """Move the bytes written so far each way once; report a pending close.

        Returns:
            Whether anything moved (bytes or a disconnection).
        """
        if advanceClock:
            self.clock.advance(0)
        show = self.debug or debug
        if show:
            print("-- GLUG --")
        sData = self.serverIO.getOutBuffer()
        cData = self.clientIO.getOutBuffer()
        self.clientIO._checkProducer()
        self.serverIO._checkProducer()
        if show:
            print(".")
            if cData:
                print(f"C: {cData!r}")
            if sData:
                print(f"S: {sData!r}")
        if cData:
            self.serverIO.bufferReceived(cData)
        if sData:
            self.clientIO.bufferReceived(sData)
        if cData or sData:
            return True
        if self.serverIO.disconnecting and not self.serverIO.disconnected:
            if show:
                print("* C")
            self.serverIO.disconnected = True
            self.clientIO.disconnecting = True
            self.clientIO.reportDisconnect()
            return True
        if self.clientIO.disconnecting and not self.clientIO.disconnected:
            if show:
                print("* S")
            self.clientIO.disconnected = True
            self.serverIO.disconnecting = True
            self.serverIO.reportDisconnect()
            return True
        return False


def connect(
    serverProtocol: Any,
    serverTransport: FakeTransport,
    clientProtocol: Any,
    clientTransport: FakeTransport,
    debug: bool = False,
    greet: bool = True,
    clock: Any = None,
) -> IOPump:
    """Connect two protocols through their fake transports; return the pump.

    Twisted: ``twisted.test.iosim.connect``.  With ``greet``, the pump is
    flushed once so that greetings sent from ``connectionMade`` arrive.
    """
    serverProtocol.makeConnection(serverTransport)
    clientProtocol.makeConnection(clientTransport)
    pump = IOPump(clientProtocol, serverProtocol, clientTransport, serverTransport, debug, clock)
    if greet:
        pump.flush()
    return pump


_S = TypeVar("_S")
_C = TypeVar("_C")


def connectedServerAndClient(
    ServerClass: Callable[[], _S],
    ClientClass: Callable[[], _C],
    clientTransportFactory: Callable[[Any], FakeTransport] = makeFakeClient,
    serverTransportFactory: Callable[[Any], FakeTransport] = makeFakeServer,
    debug: bool = False,
    greet: bool = True,
    clock: Any = None,
) -> tuple[_C, _S, IOPump]:
    """Build a server and a client protocol and connect them.

    Twisted: ``twisted.test.iosim.connectedServerAndClient``.

    Returns:
        ``(client, server, pump)``.
    """
    c = ClientClass()
    s = ServerClass()
    cio = clientTransportFactory(c)
    sio = serverTransportFactory(s)
    return c, s, connect(s, sio, c, cio, debug, greet, clock=clock)


class ConnectionCompleter:
    """Completes or fails the connections recorded by a :class:`MemoryReactor`.

    Twisted: ``twisted.test.iosim.ConnectionCompleter``.  A client is
    connected to the listener recorded with the same port number.
    """

    def __init__(self, memoryReactor: MemoryReactor) -> None:
        self._reactor = memoryReactor

    def succeedOnce(self, debug: bool = False, greet: bool = True) -> IOPump | None:
        """Connect the first client that has a matching listener.

        Returns:
            The pump of the new connection, or None if no client matches.
        """
        memoryReactor = self._reactor
        for clientIdx, clientInfo in enumerate(memoryReactor.tcpClients):
            for serverInfo in memoryReactor.tcpServers:
                if serverInfo[0] != clientInfo[1]:
                    continue
                memoryReactor.tcpClients.remove(clientInfo)
                memoryReactor.connectors.pop(clientIdx)
                clientFactory, serverFactory = clientInfo[2], serverInfo[1]
                clientProtocol = clientFactory.buildProtocol(None)
                serverProtocol = serverFactory.buildProtocol(None)
                return connect(
                    serverProtocol,
                    makeFakeServer(serverProtocol),
                    clientProtocol,
                    makeFakeClient(clientProtocol),
                    debug,
                    greet=greet,
                    clock=memoryReactor if hasattr(memoryReactor, "advance") else None,
                )
        return None

    def failOnce(self, reason: Failure | None = None) -> None:
        """Fail the first pending client connection (ConnectionRefusedError by default)."""
        if reason is None:
            reason = Failure(error.ConnectionRefusedError())
        self._reactor.tcpClients.pop(0)[2].clientConnectionFailed(
            self._reactor.connectors.pop(0), reason
        )
