"""Interfaces as ``typing.Protocol`` classes, named after Twisted's.

Twisted declares interfaces with zope.interface and checks them with
``providedBy``.  torsion uses structural typing instead: a class provides an
interface by having its methods; nothing needs to inherit from these classes
or be decorated.  They exist for type checkers and documentation.  A few are
``runtime_checkable`` because torsion itself decides behaviour from them
(e.g. :class:`IHalfCloseableProtocol`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torsion.internet._defer import Deferred
    from torsion.python.failure import Failure

__all__ = [
    "IAddress",
    "IConnector",
    "IConsumer",
    "IDelayedCall",
    "IHalfCloseableProtocol",
    "IListeningPort",
    "ILoggingContext",
    "IMulticastTransport",
    "IProcessProtocol",
    "IProcessTransport",
    "IProducer",
    "IProtocol",
    "IProtocolFactory",
    "IPullProducer",
    "IPushProducer",
    "IReactorCore",
    "IReactorMulticast",
    "IReactorProcess",
    "IReactorSSL",
    "IReactorTCP",
    "IReactorThreads",
    "IReactorTime",
    "IReactorUDP",
    "IReactorUNIX",
    "IReactorUNIXDatagram",
    "ISSLTransport",
    "IStreamClientEndpoint",
    "IStreamServerEndpoint",
    "ITCPTransport",
    "ITLSTransport",
    "ITransport",
    "IUDPTransport",
]


class IAddress(Protocol):
    """Any address object (``IPv4Address``, ``UNIXAddress``, ...)."""


class ILoggingContext(Protocol):
    def logPrefix(self) -> str:
        """The prefix used for log lines about this object."""


class IProtocol(Protocol):
    """A stream protocol. Twisted: ``interfaces.IProtocol``."""

    def makeConnection(self, transport: Any) -> None: ...
    def connectionMade(self) -> None: ...
    def dataReceived(self, data: bytes) -> None: ...
    def connectionLost(self, reason: Failure) -> None: ...


@runtime_checkable
class IHalfCloseableProtocol(Protocol):
    """A protocol that wants to know about each half of a close separately.

    Twisted: ``interfaces.IHalfCloseableProtocol``.  torsion treats any
    protocol with a ``readConnectionLost`` method as providing it.
    """

    def readConnectionLost(self) -> None: ...
    def writeConnectionLost(self) -> None: ...


class IProtocolFactory(Protocol):
    """Builds protocols for connections. Twisted: ``interfaces.IProtocolFactory``."""

    def buildProtocol(self, addr: Any) -> Any: ...
    def doStart(self) -> None: ...
    def doStop(self) -> None: ...


class IProducer(Protocol):
    def stopProducing(self) -> None: ...


class IPushProducer(IProducer, Protocol):
    """Produces data until paused. Twisted: ``interfaces.IPushProducer``."""

    def pauseProducing(self) -> None: ...
    def resumeProducing(self) -> None: ...


class IPullProducer(IProducer, Protocol):
    """Produces one chunk per ``resumeProducing``. Twisted: ``interfaces.IPullProducer``."""

    def resumeProducing(self) -> None: ...


class IConsumer(Protocol):
    """Accepts data and flow-controls a producer. Twisted: ``interfaces.IConsumer``."""

    def registerProducer(self, producer: Any, streaming: bool) -> None: ...
    def unregisterProducer(self) -> None: ...
    def write(self, data: bytes) -> None: ...


class ITransport(Protocol):
    """A byte stream to the peer. Twisted: ``interfaces.ITransport``."""

    def write(self, data: bytes) -> None: ...
    def writeSequence(self, data: Iterable[bytes]) -> None: ...
    def loseConnection(self) -> None: ...
    def getPeer(self) -> Any: ...
    def getHost(self) -> Any: ...


class ITCPTransport(ITransport, Protocol):
    """A TCP transport. Twisted: ``interfaces.ITCPTransport``."""

    def loseWriteConnection(self) -> None: ...
    def abortConnection(self) -> None: ...
    def getTcpNoDelay(self) -> bool: ...
    def setTcpNoDelay(self, enabled: bool) -> None: ...
    def getTcpKeepAlive(self) -> bool: ...
    def setTcpKeepAlive(self, enabled: bool) -> None: ...


class IConnector(Protocol):
    """An outgoing connection attempt that can be repeated. Twisted: ``IConnector``."""

    def stopConnecting(self) -> None: ...
    def disconnect(self) -> None: ...
    def connect(self) -> None: ...
    def getDestination(self) -> Any: ...


class IListeningPort(Protocol):
    """A listening socket. Twisted: ``interfaces.IListeningPort``."""

    def startListening(self) -> None: ...
    def stopListening(self) -> Deferred[None] | None: ...
    def getHost(self) -> Any: ...


class IDelayedCall(Protocol):
    """A scheduled call. Twisted: ``interfaces.IDelayedCall``."""

    def getTime(self) -> float: ...
    def cancel(self) -> None: ...
    def delay(self, secondsLater: float) -> None: ...
    def reset(self, secondsFromNow: float) -> None: ...
    def active(self) -> bool: ...


class IReactorTime(Protocol):
    """Twisted: ``interfaces.IReactorTime``."""

    def seconds(self) -> float: ...
    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> IDelayedCall: ...
    def getDelayedCalls(self) -> list[IDelayedCall]: ...


class IReactorCore(Protocol):
    """Twisted: ``interfaces.IReactorCore``."""

    running: bool

    def run(self) -> None: ...
    def stop(self) -> None: ...
    def crash(self) -> None: ...
    def callWhenRunning(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any: ...
    def addSystemEventTrigger(
        self, phase: str, eventType: str, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any: ...
    def removeSystemEventTrigger(self, triggerID: Any) -> None: ...
    def fireSystemEvent(self, eventType: str) -> None: ...
    def resolve(self, name: str, timeout: Any = ...) -> Deferred[str]: ...


class IReactorTCP(Protocol):
    """Twisted: ``interfaces.IReactorTCP``."""

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> IListeningPort: ...
    def connectTCP(
        self,
        host: str,
        port: int,
        factory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector: ...


class IReactorThreads(Protocol):
    """Twisted: ``interfaces.IReactorThreads``."""

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None: ...
    def callInThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None: ...
    def getThreadPool(self) -> Any: ...
    def suggestThreadPoolSize(self, size: int) -> None: ...


class IStreamServerEndpoint(Protocol):
    """Twisted: ``interfaces.IStreamServerEndpoint``."""

    def listen(self, protocolFactory: Any) -> Deferred[Any]: ...


class IStreamClientEndpoint(Protocol):
    """Twisted: ``interfaces.IStreamClientEndpoint``."""

    def connect(self, protocolFactory: Any) -> Deferred[Any]: ...


# -- TLS, UNIX, UDP and processes -------------------------------------------------


class IReactorSSL(Protocol):
    """Twisted: ``interfaces.IReactorSSL``."""

    def listenSSL(
        self, port: int, factory: Any, contextFactory: Any, backlog: int = 50, interface: str = ""
    ) -> IListeningPort: ...
    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> IConnector: ...


class IReactorUNIX(Protocol):
    """Twisted: ``interfaces.IReactorUNIX``."""

    def listenUNIX(
        self, address: Any, factory: Any, backlog: int = 50, mode: int = 0o666, wantPID: int = 0
    ) -> IListeningPort: ...
    def connectUNIX(
        self, address: Any, factory: Any, timeout: float = 30, checkPID: int = 0
    ) -> IConnector: ...


class IReactorUNIXDatagram(Protocol):
    """Twisted: ``interfaces.IReactorUNIXDatagram``."""

    def listenUNIXDatagram(
        self, address: Any, protocol: Any, maxPacketSize: int = 8192, mode: int = 0o666
    ) -> IListeningPort: ...
    def connectUNIXDatagram(
        self,
        address: Any,
        protocol: Any,
        maxPacketSize: int = 8192,
        mode: int = 0o666,
        bindAddress: Any = None,
    ) -> IListeningPort: ...


class IReactorUDP(Protocol):
    """Twisted: ``interfaces.IReactorUDP``."""

    def listenUDP(
        self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192
    ) -> IListeningPort: ...


class IReactorMulticast(Protocol):
    """Twisted: ``interfaces.IReactorMulticast``."""

    def listenMulticast(
        self,
        port: int,
        protocol: Any,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> IListeningPort: ...


class IReactorProcess(Protocol):
    """Twisted: ``interfaces.IReactorProcess``."""

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: Any,
        args: Any = (),
        env: Any = ...,
        path: Any = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: Any = 0,
        childFDs: Any = None,
    ) -> IProcessTransport: ...


class ITLSTransport(ITCPTransport, Protocol):
    """A TCP transport that can switch to TLS. Twisted: ``interfaces.ITLSTransport``."""

    def startTLS(self, contextFactory: Any, normal: bool = True) -> None: ...


class ISSLTransport(ITCPTransport, Protocol):
    """A TLS transport. Twisted: ``interfaces.ISSLTransport``."""

    def getPeerCertificate(self) -> Any: ...


class IUDPTransport(Protocol):
    """Twisted: ``interfaces.IUDPTransport`` (``write``'s first parameter is
    named as in Twisted's ``udp.Port``, not as in the interface)."""

    def write(self, datagram: bytes, addr: Any = None) -> Any: ...
    def connect(self, host: str, port: int) -> None: ...
    def getHost(self) -> Any: ...
    def stopListening(self) -> Deferred[None]: ...
    def setBroadcastAllowed(self, enabled: bool) -> None: ...
    def getBroadcastAllowed(self) -> bool: ...


class IMulticastTransport(IUDPTransport, Protocol):
    """Twisted: ``interfaces.IMulticastTransport``."""

    def getOutgoingInterface(self) -> str: ...
    def setOutgoingInterface(self, addr: str) -> Deferred[Any]: ...
    def getLoopbackMode(self) -> int: ...
    def setLoopbackMode(self, mode: int) -> None: ...
    def getTTL(self) -> int: ...
    def setTTL(self, ttl: int) -> None: ...
    def joinGroup(self, addr: str, interface: str = "") -> Deferred[Any]: ...
    def leaveGroup(self, addr: str, interface: str = "") -> Deferred[Any]: ...


class IProcessTransport(Protocol):
    """Twisted: ``interfaces.IProcessTransport``."""

    pid: int | None

    def closeStdin(self) -> None: ...
    def closeStdout(self) -> None: ...
    def closeStderr(self) -> None: ...
    def closeChildFD(self, childFD: int) -> None: ...
    def writeToChild(self, childFD: int, data: bytes) -> None: ...
    def loseConnection(self) -> None: ...
    def signalProcess(self, signalID: str | int) -> None: ...
    def write(self, data: bytes) -> None: ...


class IProcessProtocol(Protocol):
    """Twisted: ``interfaces.IProcessProtocol``."""

    def makeConnection(self, process: Any) -> None: ...
    def childDataReceived(self, childFD: int, data: bytes) -> None: ...
    def childConnectionLost(self, childFD: int) -> None: ...
    def processExited(self, reason: Failure) -> None: ...
    def processEnded(self, reason: Failure) -> None: ...
