"""Protocol wrappers: ``ProtocolWrapper``, ``WrappingFactory``, spewing and traffic logs.

Public through :mod:`torsion.protocols.policies`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import IO, Any

from torsion.internet.protocol import ClientFactory, Protocol
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "ProtocolWrapper",
    "SpewingFactory",
    "SpewingProtocol",
    "TrafficLoggingFactory",
    "TrafficLoggingProtocol",
    "WrappingFactory",
]


def _callLater(clock: Any, delay: float, f: Callable[..., Any]) -> Any:
    if clock is None:
        from torsion.internet.main import getGlobalReactor

        clock = getGlobalReactor()
    return clock.callLater(delay, f)


def _wrappedLogPrefix(wrapper: object, wrapped: object) -> str:
    logPrefix = getattr(wrapped, "logPrefix", None)
    prefix = logPrefix() if callable(logPrefix) else wrapped.__class__.__name__
    return f"{prefix} ({wrapper.__class__.__name__})"


class ProtocolWrapper(Protocol):
    """Wraps a protocol and is its transport.

    Twisted: ``twisted.protocols.policies.ProtocolWrapper``.  Transport
    calls of the wrapped protocol go through the wrapper to the real
    transport (attributes it does not define are looked up there); protocol
    events go through it to the wrapped protocol.

    Attributes:
        wrappedProtocol: the protocol inside (None after connectionLost).
        factory: the :class:`WrappingFactory` that built this wrapper.
        disconnecting: 1 once :meth:`loseConnection` was called.
    """

    disconnecting = 0

    def __init__(self, factory: Any, wrappedProtocol: Any) -> None:
        self.wrappedProtocol = wrappedProtocol
        self.factory = factory

    def logPrefix(self) -> str:
        """``"<wrapped prefix> (<wrapper class>)"``."""
        return _wrappedLogPrefix(self, self.wrappedProtocol)

    def makeConnection(self, transport: Any) -> None:
        """Keep the real transport, register, and connect the wrapped protocol to self."""
        Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        self.wrappedProtocol.makeConnection(self)

    # -- the transport side (what the wrapped protocol calls) ------------------

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.transport.writeSequence(data)

    def loseConnection(self) -> None:
        self.disconnecting = 1
        self.transport.loseConnection()

    def getPeer(self) -> Any:
        return self.transport.getPeer()

    def getHost(self) -> Any:
        return self.transport.getHost()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()

    def stopConsuming(self) -> None:
        self.transport.stopConsuming()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.transport, name)

    # -- the protocol side (what the real transport calls) ----------------------

    def dataReceived(self, data: bytes) -> None:
        self.wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Unregister, tell the wrapped protocol, and drop the reference to it."""
        self.factory.unregisterProtocol(self)
        self.wrappedProtocol.connectionLost(reason)
        self.wrappedProtocol = None


class WrappingFactory(ClientFactory):
    """Wraps a factory: each protocol it builds is wrapped in ``protocol``.

    Twisted: ``twisted.protocols.policies.WrappingFactory``.  Start/stop and
    client connection events are passed to the wrapped factory.  When the
    wrapped factory refuses a connection (``buildProtocol`` returns None),
    so does this one (Twisted wraps None and fails later).

    Attributes:
        wrappedFactory: the factory inside.
        protocols: the live wrappers (a dict used as a set).
    """

    protocol: Any = ProtocolWrapper

    def __init__(self, wrappedFactory: Any) -> None:
        self.wrappedFactory = wrappedFactory
        self.protocols: dict[Any, int] = {}

    def logPrefix(self) -> str:
        return _wrappedLogPrefix(self, self.wrappedFactory)

    def doStart(self) -> None:
        self.wrappedFactory.doStart()
        ClientFactory.doStart(self)

    def doStop(self) -> None:
        self.wrappedFactory.doStop()
        ClientFactory.doStop(self)

    def startedConnecting(self, connector: Any) -> None:
        self.wrappedFactory.startedConnecting(connector)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.wrappedFactory.clientConnectionFailed(connector, reason)

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        self.wrappedFactory.clientConnectionLost(connector, reason)

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap the wrapped factory's protocol (None if it refused)."""
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped)

    def registerProtocol(self, p: Any) -> None:
        """A wrapper is connected."""
        self.protocols[p] = 1

    def unregisterProtocol(self, p: Any) -> None:
        """A wrapper is disconnected."""
        self.protocols.pop(p, None)


class SpewingProtocol(ProtocolWrapper):
    """Logs every byte in both directions. Twisted: ``policies.SpewingProtocol``."""

    def dataReceived(self, data: bytes) -> None:
        log.msg(f"Received: {data!r}")
        ProtocolWrapper.dataReceived(self, data)

    def write(self, data: bytes) -> None:
        log.msg(f"Sending: {data!r}")
        ProtocolWrapper.write(self, data)


class SpewingFactory(WrappingFactory):
    """Wraps protocols in :class:`SpewingProtocol`. Twisted: ``policies.SpewingFactory``."""

    protocol = SpewingProtocol


class TrafficLoggingProtocol(ProtocolWrapper):
    """Writes every event of one connection to a log file.

    Twisted: ``twisted.protocols.policies.TrafficLoggingProtocol``.  Lines:
    ``*`` (connected), ``C n: data`` (received), ``S n: data`` (sent),
    ``SV n: [chunks]`` (writeSequence), ``S n: *`` (loseConnection) and
    ``C n: reason`` (connection lost).  Data longer than ``lengthLimit`` is
    cut and marked ``<... elided>``.
    """

    def __init__(
        self,
        factory: Any,
        wrappedProtocol: Any,
        logfile: IO[str],
        lengthLimit: int | None = None,
        number: int = 0,
    ) -> None:
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.logfile = logfile
        self.lengthLimit = lengthLimit
        self._number = number

    def _log(self, line: str) -> None:
        self.logfile.write(line + "\n")
        self.logfile.flush()

    def _mungeData(self, data: bytes) -> bytes:
        if self.lengthLimit and len(data) > self.lengthLimit:
            data = data[: self.lengthLimit - 12] + b"<... elided>"
        return data

    def connectionMade(self) -> None:
        self._log("*")
        ProtocolWrapper.connectionMade(self)

    def dataReceived(self, data: bytes) -> None:
        self._log(f"C {self._number}: {self._mungeData(data)!r}")
        ProtocolWrapper.dataReceived(self, data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        """Log the reason, pass it on, and close a log file the factory opened."""
        self._log(f"C {self._number}: {reason!r}")
        try:
            ProtocolWrapper.connectionLost(self, reason)
        finally:
            self.factory._closeLog(self.logfile)

    def write(self, data: bytes) -> None:
        self._log(f"S {self._number}: {self._mungeData(data)!r}")
        ProtocolWrapper.write(self, data)

    def writeSequence(self, iovec: Iterable[bytes]) -> None:
        iovec = list(iovec)
        self._log(f"SV {self._number}: {[self._mungeData(d) for d in iovec]!r}")
        ProtocolWrapper.writeSequence(self, iovec)

    def loseConnection(self) -> None:
        self._log(f"S {self._number}: *")
        ProtocolWrapper.loseConnection(self)


class TrafficLoggingFactory(WrappingFactory):
    """Logs the traffic of each connection to ``<logfilePrefix>-<n>``.

    Twisted: ``twisted.protocols.policies.TrafficLoggingFactory``.  Files
    opened by the default :meth:`open` are closed when their connection is
    lost (Twisted leaves them open); files from an overridden ``open`` are
    left to their owner.
    """

    protocol = TrafficLoggingProtocol
    _counter = 0

    def __init__(
        self, wrappedFactory: Any, logfilePrefix: str, lengthLimit: int | None = None
    ) -> None:
        self.logfilePrefix = logfilePrefix
        self.lengthLimit = lengthLimit
        self._ownFiles: set[int] = set()
        WrappingFactory.__init__(self, wrappedFactory)

    def open(self, name: str) -> IO[str]:
        """Open the log file ``name`` for writing (override to log elsewhere)."""
        f = open(name, "w")  # noqa: SIM115 - closed on connectionLost
        self._ownFiles.add(id(f))
        return f

    def _closeLog(self, logfile: IO[str]) -> None:
        if id(logfile) in self._ownFiles:
            self._ownFiles.discard(id(logfile))
            logfile.close()

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap the wrapped factory's protocol, logging to the next numbered file."""
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        self._counter += 1
        logfile = self.open(f"{self.logfilePrefix}-{self._counter}")
        return self.protocol(self, wrapped, logfile, self.lengthLimit, self._counter)

    def resetCounter(self) -> None:
        """Number the next connection 1 again."""
        self._counter = 0
