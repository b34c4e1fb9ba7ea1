"""Test doubles: transports and reactors that do no real I/O.

Twisted: ``twisted.internet.testing``.  Protocol tests drive ``dataReceived``
by hand and read what was written from :meth:`StringTransport.value`;
:class:`MemoryReactor` records ``listenTCP``/``connectTCP`` calls instead of
opening sockets, and :class:`MemoryReactorClock` adds a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from io import BytesIO
from socket import AF_INET, AF_INET6
from typing import Any, overload

from torsion.internet import error, protocol
from torsion.internet._defer import Deferred
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.base import isIPv6Address
from torsion.internet.task import Clock
from torsion.python.failure import Failure

__all__ = [
    "AccumulatingProtocol",
    "EventLoggingObserver",
    "MemoryReactor",
    "MemoryReactorClock",
    "NonStreamingProducer",
    "RaisingMemoryReactor",
    "StringIOWithoutClosing",
    "StringTransport",
    "StringTransportWithDisconnection",
    "waitUntilAllDisconnected",
]


class AccumulatingProtocol(protocol.Protocol):
    """Records what happens to it. Twisted: ``testing.AccumulatingProtocol``.

    Attributes:
        made: 1 once connected.
        data: every byte received.
        closed: 1 once the connection was lost.
        closedReason: the Failure given to ``connectionLost``.
        closedDeferred: fired (with None) on ``connectionLost`` if set.
    """

    made = closed = 0
    closedReason: Failure | None = None
    closedDeferred: Deferred[None] | None = None
    data = b""
    factory: Any = None

    def connectionMade(self) -> None:
        self.made = 1
        factory = self.factory
        if factory is not None and getattr(factory, "protocolConnectionMade", None) is not None:
            d = factory.protocolConnectionMade
            factory.protocolConnectionMade = None
            d.callback(self)

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.closed = 1
        self.closedReason = reason
        if self.closedDeferred is not None:
            d, self.closedDeferred = self.closedDeferred, None
            d.callback(None)


class StringTransport:
    """A transport that keeps what is written in memory.

    Twisted: ``twisted.internet.testing.StringTransport``.
    ``loseConnection`` only sets ``disconnecting``; nothing calls
    ``connectionLost`` (use :class:`StringTransportWithDisconnection`).

    Args:
        hostAddress: what ``getHost`` returns (default ``10.0.0.1:12345``).
        peerAddress: what ``getPeer`` returns (default ``192.168.1.1:54321``).
        lenient: allow ``resumeProducing`` after ``loseConnection``.
    """

    disconnecting = False
    disconnected = False
    producer: Any = None
    streaming: bool | None = None
    hostAddr: Any = None
    peerAddr: Any = None
    producerState = "producing"

    def __init__(
        self, hostAddress: Any = None, peerAddress: Any = None, lenient: bool = False
    ) -> None:
        self.clear()
        if hostAddress is not None:
            self.hostAddr = hostAddress
        if peerAddress is not None:
            self.peerAddr = peerAddress
        self.connected = True
        self._lenient = lenient

    def clear(self) -> None:
        """Forget what was written."""
        self.io = BytesIO()

    def value(self) -> bytes:
        """Everything written since the last :meth:`clear`."""
        return self.io.getvalue()

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError("Data must be bytes")
        self.io.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.io.write(b"".join(data))

    def loseConnection(self) -> None:
        self.disconnecting = True

    def abortConnection(self) -> None:
        self.disconnected = True
        self.loseConnection()

    def getPeer(self) -> Any:
        if self.peerAddr is None:
            return IPv4Address("TCP", "192.168.1.1", 54321)
        return self.peerAddr

    def getHost(self) -> Any:
        if self.hostAddr is None:
            return IPv4Address("TCP", "10.0.0.1", 12345)
        return self.hostAddr

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        if self.producer is not None:
            raise RuntimeError("Cannot register two producers")
        self.producer = producer
        self.streaming = streaming

    def unregisterProducer(self) -> None:
        if self.producer is None:
            raise RuntimeError("Cannot unregister a producer unless one is registered")
        self.producer = None
        self.streaming = None

    def _checkState(self) -> None:
        if self.disconnecting and not self._lenient:
            raise RuntimeError("Cannot resume producing after loseConnection")
        if self.producerState == "stopped":
            raise RuntimeError("Cannot resume a stopped producer")

    def pauseProducing(self) -> None:
        self._checkState()
        self.producerState = "paused"

    def stopProducing(self) -> None:
        self.producerState = "stopped"

    def resumeProducing(self) -> None:
        self._checkState()
        self.producerState = "producing"

    def getTcpNoDelay(self) -> bool:
        return False

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass

    def getTcpKeepAlive(self) -> bool:
        return False

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass

    def loseWriteConnection(self) -> None:
        self.disconnecting = True


class StringTransportWithDisconnection(StringTransport):
    """A StringTransport whose ``loseConnection`` calls ``connectionLost`` once.

    Twisted: ``testing.StringTransportWithDisconnection``.  Set ``protocol``
    before closing.
    """

    protocol: Any = None

    def loseConnection(self) -> None:
        if self.connected:
            self.connected = False
            self.protocol.connectionLost(Failure(error.ConnectionDone("Bye.")))


class StringIOWithoutClosing(BytesIO):
    """A BytesIO whose ``close`` does nothing."""

    def close(self) -> None:
        pass


class _FakePort:
    def __init__(self, hostAddress: Any) -> None:
        self._hostAddress = hostAddress

    def startListening(self) -> None:
        pass

    def stopListening(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        d.callback(None)
        return d

    def getHost(self) -> Any:
        return self._hostAddress


class _FakeConnector:
    """Records whether it was asked to stop or disconnect."""

    _disconnected = False
    stoppedConnecting = False

    def __init__(self, address: Any) -> None:
        self._address = address

    def stopConnecting(self) -> None:
        self.stoppedConnecting = True

    def disconnect(self) -> None:
        self._disconnected = True

    def connect(self) -> None:
        pass

    def getDestination(self) -> Any:
        return self._address


class _FakeProcess:
    """A process transport that records what is done to it (no process runs).

    ``end(status)`` makes the "child" exit: the protocol gets
    ``processExited`` and ``processEnded`` with Twisted's reasons.
    """

    pid: int | None = 4242

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.written: list[tuple[int, bytes]] = []
        self.closed: list[int] = []
        self.signals: list[Any] = []

    def write(self, data: bytes) -> None:
        self.written.append((0, data))

    def writeToChild(self, childFD: int, data: bytes) -> None:
        self.written.append((childFD, data))

    def closeChildFD(self, childFD: int) -> None:
        self.closed.append(childFD)

    def closeStdin(self) -> None:
        self.closeChildFD(0)

    def loseConnection(self) -> None:
        for fd in (0, 1, 2):
            self.closeChildFD(fd)

    def signalProcess(self, signalID: Any) -> None:
        if self.pid is None:
            raise error.ProcessExitedAlready()
        self.signals.append(signalID)

    def end(self, status: int = 0) -> None:
        import os

        if os.WIFEXITED(status):
            code = os.WEXITSTATUS(status)
            reason: Exception = (
                error.ProcessDone(status)
                if code == 0
                else error.ProcessTerminated(code, None, status)
            )
        else:
            reason = error.ProcessTerminated(None, os.WTERMSIG(status), status)
        self.pid = None
        self.proto.processExited(Failure(reason))
        self.proto.processEnded(Failure(reason))


class MemoryReactor:
    """Records connection calls and never does I/O.

    Twisted: ``twisted.internet.testing.MemoryReactor``.

    Attributes:
        tcpClients: ``(host, port, factory, timeout, bindAddress)`` tuples.
        tcpServers: ``(port, factory, backlog, interface)`` tuples.
        sslClients, sslServers, unixClients, unixServers: the same for
            the other transports.
        connectors: the fake connectors handed out.
        triggers: ``{phase: {eventType: [(callable, args, kw)]}}``.
    """

    def __init__(self) -> None:
        self.hasInstalled = False
        self.running: bool | None = False
        self.hasRun = False
        self.hasStopped = False
        self.hasCrashed = False
        self.whenRunningHooks: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
        self.whenRunningHooks = []
        self.triggers: dict[str, dict[str, list[Any]]] = {}
        self.tcpClients: list[Any] = []
        self.tcpServers: list[Any] = []
        self.sslClients: list[Any] = []
        self.sslServers: list[Any] = []
        self.unixClients: list[Any] = []
        self.unixServers: list[Any] = []
        self.udpPorts: list[Any] = []
        self.adoptedPorts: list[Any] = []
        self.adoptedStreamConnections: list[Any] = []
        self.connectors: list[_FakeConnector] = []
        self.unixDatagramPorts: list[Any] = []
        self.processes: list[Any] = []
        self.readers: set[Any] = set()
        self.writers: set[Any] = set()

    def install(self) -> None:
        self.hasInstalled = True

    def resolve(self, name: str, timeout: Any = 10) -> Deferred[str]:
        raise NotImplementedError("MemoryReactor does not resolve names")

    def run(self) -> None:
        """Run the ``callWhenRunning`` hooks, then stop."""
        assert self.running is False
        self.running = True
        self.hasRun = True
        for f, args, kw in self.whenRunningHooks:
            f(*args, **kw)
        self.stop()

    def stop(self) -> None:
        self.running = False
        self.hasStopped = True

    def crash(self) -> None:
        self.running = None
        self.hasCrashed = True

    def iterate(self, delay: float = 0) -> None:
        raise NotImplementedError("MemoryReactor does not iterate")

    def fireSystemEvent(self, eventType: str) -> None:
        raise NotImplementedError("MemoryReactor does not fire events")

    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> None:
        self.triggers.setdefault(phase, {}).setdefault(eventType, []).append((callable, args, kw))

    def removeSystemEventTrigger(self, triggerID: Any) -> None:
        raise NotImplementedError("MemoryReactor does not remove triggers")

    def callWhenRunning(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None:
        if self.running or self.hasRun:
            callable(*args, **kw)
            return None
        self.whenRunningHooks.append((callable, args, kw))
        return None

    def adoptStreamPort(self, fileno: int, addressFamily: int, factory: Any) -> _FakePort:
        self.adoptedPorts.append((fileno, addressFamily, factory))
        return _FakePort(_anyAddress("TCP", addressFamily))

    def adoptStreamConnection(self, fileDescriptor: int, addressFamily: int, factory: Any) -> None:
        self.adoptedStreamConnections.append((fileDescriptor, addressFamily, factory))

    def adoptDatagramPort(
        self, fileno: int, addressFamily: int, protocol: Any, maxPacketSize: int = 8192
    ) -> _FakePort:
        self.adoptedPorts.append((fileno, addressFamily, protocol, maxPacketSize))
        return _FakePort(_anyAddress("UDP", addressFamily))

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        self.tcpServers.append((port, factory, backlog, interface))
        if isIPv6Address(interface):
            return _FakePort(IPv6Address("TCP", interface, port))
        return _FakePort(IPv4Address("TCP", "0.0.0.0", port))

    def _connect(self, address: Any, factory: Any) -> _FakeConnector:
        conn = _FakeConnector(address)
        factory.startedConnecting(conn)
        self.connectors.append(conn)
        return conn

    def connectTCP(
        self, host: str, port: int, factory: Any, timeout: float = 30, bindAddress: Any = None
    ) -> Any:
        self.tcpClients.append((host, port, factory, timeout, bindAddress))
        addrType = IPv6Address if isIPv6Address(host) else IPv4Address
        return self._connect(addrType("TCP", host, port), factory)

    def listenSSL(
        self, port: int, factory: Any, contextFactory: Any, backlog: int = 50, interface: str = ""
    ) -> Any:
        self.sslServers.append((port, factory, contextFactory, backlog, interface))
        return _FakePort(IPv4Address("TCP", "0.0.0.0", port))

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Any:
        self.sslClients.append((host, port, factory, contextFactory, timeout, bindAddress))
        return self._connect(IPv4Address("TCP", host, port), factory)

    def listenUNIX(
        self, address: str, factory: Any, backlog: int = 50, mode: int = 0o666, wantPID: int = 0
    ) -> Any:
        self.unixServers.append((address, factory, backlog, mode, wantPID))
        return _FakePort(UNIXAddress(address))

    def connectUNIX(
        self, address: str, factory: Any, timeout: float = 30, checkPID: int = 0
    ) -> Any:
        self.unixClients.append((address, factory, timeout, checkPID))
        return self._connect(UNIXAddress(address), factory)

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> Any:
        self.udpPorts.append((port, protocol, interface, maxPacketSize))
        return _FakePort(IPv4Address("UDP", interface or "0.0.0.0", port))

    def listenMulticast(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> Any:
        self.udpPorts.append((port, protocol, interface, maxPacketSize, listenMultiple))
        return _FakePort(IPv4Address("UDP", interface or "0.0.0.0", port))

    def listenUNIXDatagram(
        self, address: str, protocol: Any, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> Any:
        self.unixDatagramPorts.append((address, protocol, maxPacketSize, mode))
        return _FakePort(UNIXAddress(address))

    def connectUNIXDatagram(
        self,
        address: str,
        protocol: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: Any = None,
    ) -> Any:
        self.unixDatagramPorts.append((address, protocol, maxPacketSize, mode, bindAddress))
        return _FakePort(UNIXAddress(bindAddress))

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: Any,
        args: Any = (),
        env: Any = {},  # noqa: B006 - Twisted's default
        path: Any = None,
        uid: Any = None,
        gid: Any = None,
        usePTY: Any = 0,
        childFDs: Any = None,
    ) -> _FakeProcess:
        """Record the call and connect the protocol to a :class:`_FakeProcess`."""
        self.processes.append(
            (processProtocol, executable, args, env, path, uid, gid, usePTY, childFDs)
        )
        process = _FakeProcess(processProtocol)
        processProtocol.makeConnection(process)
        return process

    def addReader(self, reader: Any) -> None:
        self.readers.add(reader)

    def removeReader(self, reader: Any) -> None:
        self.readers.discard(reader)

    def addWriter(self, writer: Any) -> None:
        self.writers.add(writer)

    def removeWriter(self, writer: Any) -> None:
        self.writers.discard(writer)

    def getReaders(self) -> list[Any]:
        return list(self.readers)

    def getWriters(self) -> list[Any]:
        return list(self.writers)

    def removeAll(self) -> list[Any]:
        everything = list(self.readers | self.writers)
        self.readers.clear()
        self.writers.clear()
        return everything


def _anyAddress(kind: Any, family: int) -> Any:
    if family == AF_INET:
        return IPv4Address(kind, "0.0.0.0", 1234)
    if family == AF_INET6:
        return IPv6Address(kind, "::", 1234)
    raise error.UnsupportedAddressFamily()


class MemoryReactorClock(MemoryReactor, Clock):
    """A MemoryReactor with a fake clock. Twisted: ``testing.MemoryReactorClock``."""

    def __init__(self) -> None:
        MemoryReactor.__init__(self)
        Clock.__init__(self)


class RaisingMemoryReactor:
    """A reactor whose listen/connect methods raise a given exception.

    Twisted: ``testing.RaisingMemoryReactor``.
    """

    def __init__(
        self, listenException: Exception | None = None, connectException: Exception | None = None
    ):
        self._listenException = listenException
        self._connectException = connectException

    def _raise(self, exc: Exception | None) -> Any:
        if exc is None:
            raise RuntimeError("no exception configured")
        raise exc

    def listenTCP(self, *a: Any, **kw: Any) -> Any:
        return self._raise(self._listenException)

    listenSSL = listenUNIX = listenUDP = adoptStreamPort = adoptDatagramPort = listenTCP

    def connectTCP(self, *a: Any, **kw: Any) -> Any:
        return self._raise(self._connectException)

    connectSSL = connectUNIX = adoptStreamConnection = connectTCP


class NonStreamingProducer:
    """A pull producer that writes ``b'0'`` ... ``b'9'`` then unregisters.

    Twisted: ``testing.NonStreamingProducer``.  ``result`` fires when done.
    """

    counter = 0
    stopped = False

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.result: Deferred[None] = Deferred()

    def resumeProducing(self) -> None:
        if self.consumer is None or self.counter >= 10:
            raise RuntimeError("BUG: resume after unregister/stop.")
        self.consumer.write(b"%d" % (self.counter,))
        self.counter += 1
        if self.counter == 10:
            self.consumer.unregisterProducer()
            self._done()

    def pauseProducing(self) -> None:
        raise RuntimeError("BUG: pause should never be called.")

    def _done(self) -> None:
        self.consumer = None
        d = self.result
        del self.result
        d.callback(None)

    def stopProducing(self) -> None:
        self.stopped = True
        self._done()


def waitUntilAllDisconnected(reactor: Any, protocols: Sequence[Any]) -> Deferred[None]:
    """Fire once no protocol in ``protocols`` has a connected transport.

    Twisted: ``testing.waitUntilAllDisconnected``; polls every 10 ms.
    """
    d: Deferred[None] = Deferred()

    def check() -> None:
        if any(p.transport.connected for p in protocols):
            reactor.callLater(0.01, check)
        else:
            d.callback(None)

    check()
    return d


class EventLoggingObserver(Sequence[dict[str, Any]]):
    """A log observer that keeps every event it sees.

    Twisted: ``testing.EventLoggingObserver``.
    """

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self._events[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._events)

    def __call__(self, event: dict[str, Any]) -> None:
        self._events.append(event)

    @classmethod
    def createWithCleanup(cls, testInstance: Any, publisher: Any) -> EventLoggingObserver:
        """Add a new observer to ``publisher``; remove it at the test's cleanup."""
        observer = cls()
        publisher.addObserver(observer)
        testInstance.addCleanup(publisher.removeObserver, observer)
        return observer
