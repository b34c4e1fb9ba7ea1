"""Connect a server and a client protocol to each other, for tests.

Twisted: ``twisted.protocols.loopback``.  :func:`loopbackAsync` joins two
protocol instances in memory and moves the bytes each writes to the other
until one closes; :func:`loopbackTCP` does the same over a real loopback
TCP connection.  Both return a Deferred that fires once both sides got
``connectionLost``.

torsion addition: each function takes the clock or reactor to use as a
keyword argument (default: the global reactor, looked up only when needed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torsion.internet import error, protocol
from torsion.internet._defer import Deferred, maybeDeferred, succeed
from torsion.protocols import policies
from torsion.python.failure import Failure

__all__ = [
    "LoopbackClientFactory",
    "LoopbackRelay",
    "collapsingPumpPolicy",
    "identityPumpPolicy",
    "loopbackAsync",
    "loopbackTCP",
]


def _reactorOr(reactor: Any) -> Any:
    if reactor is None:
        from torsion.internet.main import getGlobalReactor

        reactor = getGlobalReactor()
    return reactor


class _LoopbackQueue:
    """The bytes one side wrote (None marks a close); fires a Deferred on put."""

    _notificationDeferred: Deferred[None] | None = None
    disconnect = False

    def __init__(self) -> None:
        self._queue: list[bytes | None] = []

    def put(self, v: bytes | None) -> None:
        self._queue.append(v)
        if self._notificationDeferred is not None:
            d, self._notificationDeferred = self._notificationDeferred, None
            d.callback(None)

    def __bool__(self) -> bool:
        return bool(self._queue)

    def get(self) -> bytes | None:
        return self._queue.pop(0)


class _LoopbackAddress:
    """The address of either end of a :func:`loopbackAsync` connection."""


class _LoopbackTransport:
    """The transport of one side of :func:`loopbackAsync`."""

    disconnecting = False
    producer: Any = None
    streamingProducer = False

    def __init__(self, q: _LoopbackQueue) -> None:
        self.q = q

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError("Can only write bytes to ITransport")
        self.q.put(data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        self.q.put(b"".join(iovec))

    def loseConnection(self) -> None:
        self.q.disconnect = True
        self.q.put(None)

    def abortConnection(self) -> None:
        """The same as :meth:`loseConnection` here."""
        self.loseConnection()

    def getPeer(self) -> _LoopbackAddress:
        return _LoopbackAddress()

    def getHost(self) -> _LoopbackAddress:
        return _LoopbackAddress()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        assert self.producer is None
        self.producer = producer
        self.streamingProducer = streaming
        self._pollProducer()

    def unregisterProducer(self) -> None:
        assert self.producer is not None
        self.producer = None

    def _pollProducer(self) -> None:
        if self.producer is not None and not self.streamingProducer:
            self.producer.resumeProducing()


def identityPumpPolicy(queue: _LoopbackQueue, target: Any) -> None:
    """Deliver each written chunk as it was written.

    Twisted: ``loopback.identityPumpPolicy``.
    """
    while queue:
        data = queue.get()
        if data is None:
            break
        target.dataReceived(data)


def collapsingPumpPolicy(queue: _LoopbackQueue, target: Any) -> None:
    """Deliver everything written so far as a single chunk.

    Twisted: ``loopback.collapsingPumpPolicy``.
    """
    chunks = []
    while queue:
        chunk = queue.get()
        if chunk is None:
            break
        chunks.append(chunk)
    if chunks:
        target.dataReceived(b"".join(chunks))


PumpPolicy = Callable[[_LoopbackQueue, Any], None]


def loopbackAsync(
    server: Any,
    client: Any,
    pumpPolicy: PumpPolicy = identityPumpPolicy,
    *,
    clock: Any = None,
) -> Deferred[None]:
    """Connect ``server`` and ``client`` in memory and run them until one closes.

    Twisted: ``twisted.protocols.loopback.loopbackAsync``.  What one side
    writes is queued and handed to the other by ``pumpPolicy(queue,
    protocol)``; when neither side has written anything, pumping resumes on
    a later clock tick after the next write.  When one side closes, what it
    wrote is delivered, then both get ``connectionLost(ConnectionDone)``.

    Args:
        server: the server protocol instance.
        client: the client protocol instance.
        pumpPolicy: :func:`identityPumpPolicy` or :func:`collapsingPumpPolicy`.
        clock: schedules the later pumping (torsion addition; default: the
            global reactor).

    Returns:
        A Deferred fired (with None) once both sides were disconnected.
    """
    serverToClient = _LoopbackQueue()
    clientToServer = _LoopbackQueue()
    server.makeConnection(_LoopbackTransport(serverToClient))
    client.makeConnection(_LoopbackTransport(clientToServer))
    return _loopbackAsyncBody(server, serverToClient, client, clientToServer, pumpPolicy, clock)


def _loopbackAsyncBody(
    server: Any,
    serverToClient: _LoopbackQueue,
    client: Any,
    clientToServer: _LoopbackQueue,
    pumpPolicy: PumpPolicy,
    clock: Any,
) -> Deferred[None]:
    def pump(source: Any, q: _LoopbackQueue, target: Any) -> bool:
        if not q:
            return False
        pumpPolicy(q, target)
        if not q:
            # The writer's buffer is empty: a pull producer may write more.
            source.transport._pollProducer()
        return True

    while True:
        serverSent = pump(server, serverToClient, client)
        clientSent = pump(client, clientToServer, server)
        if not serverSent and not clientSent:
            # Nothing moved: wait for the next write, then go on later.
            d: Deferred[None] = Deferred()
            clientToServer._notificationDeferred = d
            serverToClient._notificationDeferred = d
            d.addCallback(
                _loopbackAsyncContinue,
                server,
                serverToClient,
                client,
                clientToServer,
                pumpPolicy,
                clock,
            )
            return d
        disconnect = False
        if serverToClient.disconnect:
            disconnect = True
            pump(server, serverToClient, client)
        elif clientToServer.disconnect:
            disconnect = True
            pump(client, clientToServer, server)
        if disconnect:
            server.connectionLost(Failure(error.ConnectionDone()))
            client.connectionLost(Failure(error.ConnectionDone()))
            return succeed(None)


def _loopbackAsyncContinue(
    ignored: object,
    server: Any,
    serverToClient: _LoopbackQueue,
    client: Any,
    clientToServer: _LoopbackQueue,
    pumpPolicy: PumpPolicy,
    clock: Any,
) -> Deferred[None]:
    clientToServer._notificationDeferred = None
    serverToClient._notificationDeferred = None
    # Pump on a later tick, not from inside the write that woke us: a real
    # transport never calls dataReceived from within write().
    result: Deferred[None] = Deferred(lambda _: call.cancel())

    def later() -> None:
        maybeDeferred(
            _loopbackAsyncBody,
            server,
            serverToClient,
            client,
            clientToServer,
            pumpPolicy,
            clock,
        ).chainDeferred(result)

    call = _reactorOr(clock).callLater(0, later)
    return result


class LoopbackRelay:
    """An old-style in-memory transport that buffers until :meth:`clearBuffer`.

    Twisted: ``twisted.protocols.loopback.LoopbackRelay``.
    """

    buffer = b""
    shouldLose = 0
    disconnecting = 0
    producer: Any = None

    def __init__(self, target: Any, logFile: Any = None) -> None:
        self.target = target
        self.logFile = logFile

    def write(self, data: bytes) -> None:
        self.buffer = self.buffer + data
        if self.logFile:
            self.logFile.write(f"loopback writing {data!r}\n")

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        self.write(b"".join(iovec))

    def clearBuffer(self) -> None:
        """Deliver what was written to the target (and the close, if asked)."""
        if self.shouldLose == -1:
            return
        if self.producer:
            self.producer.resumeProducing()
        if self.buffer:
            if self.logFile:
                self.logFile.write(f"loopback receiving {self.buffer!r}\n")
            buffer, self.buffer = self.buffer, b""
            self.target.dataReceived(buffer)
        if self.shouldLose == 1:
            self.shouldLose = -1
            self.target.connectionLost(Failure(error.ConnectionDone()))

    def loseConnection(self) -> None:
        if self.shouldLose != -1:
            self.shouldLose = 1

    def getHost(self) -> str:
        return "loopback"

    def getPeer(self) -> str:
        return "loopback"

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    def logPrefix(self) -> str:
        return f"Loopback({self.target.__class__.__name__!r})"


class LoopbackClientFactory(protocol.ClientFactory):
    """Hands out one protocol instance and fires ``deferred`` when it disconnects.

    Twisted: ``twisted.protocols.loopback.LoopbackClientFactory``.
    """

    def __init__(self, protocol: Any) -> None:
        self.disconnected = 0
        self.deferred: Deferred[None] = Deferred()
        self.protocol = protocol

    def buildProtocol(self, addr: Any) -> Any:
        return self.protocol

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        self.disconnected = 1
        self.deferred.callback(None)


class _FireOnClose(policies.ProtocolWrapper):
    def __init__(self, factory: Any, wrapped: Any) -> None:
        policies.ProtocolWrapper.__init__(self, factory, wrapped)
        self.deferred: Deferred[None] = Deferred()

    def connectionLost(self, reason: Failure | None = None) -> None:
        policies.ProtocolWrapper.connectionLost(self, reason)
        self.deferred.callback(None)


def loopbackTCP(
    server: Any, client: Any, port: int = 0, noisy: bool = True, *, reactor: Any = None
) -> Deferred[None]:
    """Run ``server`` and ``client`` over a TCP connection on 127.0.0.1.

    Twisted: ``twisted.protocols.loopback.loopbackTCP``.

    Args:
        server: the server protocol instance.
        client: the client protocol instance.
        port: the port to listen on (0: any free port).
        noisy: whether the factories log starting and stopping.
        reactor: the reactor to use (torsion addition; default: the global
            reactor).

    Returns:
        A Deferred fired once both sides are disconnected and the port is
        closed.
    """
    reactor = _reactorOr(reactor)
    f = policies.WrappingFactory(protocol.Factory())
    serverWrapper = _FireOnClose(f, server)
    f.noisy = noisy
    f.buildProtocol = lambda addr: serverWrapper  # type: ignore[method-assign]
    serverPort = reactor.listenTCP(port, f, interface="127.0.0.1")
    clientF = LoopbackClientFactory(client)
    clientF.noisy = noisy
    reactor.connectTCP("127.0.0.1", serverPort.getHost().port, clientF)
    d = clientF.deferred
    d.addCallback(lambda _: serverWrapper.deferred)
    d.addCallback(lambda _: serverPort.stopListening())
    return d
