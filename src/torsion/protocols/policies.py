"""Protocol wrappers that add policies: timeouts, throttling, limits, logging.

Twisted: ``twisted.protocols.policies``.  A :class:`WrappingFactory` builds,
for each connection, a :class:`ProtocolWrapper` around the protocol of the
factory it wraps; the wrapper is that protocol's transport, so it sees (and
can act on) every byte in both directions.

Everything that needs time takes a clock: a ``clock`` argument or attribute
(any ``IReactorTime``, e.g. :class:`torsion.internet.task.Clock` in tests),
or, when it is None, the global reactor, looked up only when a call is
scheduled.  Overriding ``callLater`` works too, as with Twisted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import IO, Any, cast

from torsion.internet import error
from torsion.internet.protocol import ClientFactory, Protocol, ServerFactory
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "LimitConnectionsByPeer",
    "LimitTotalConnectionsFactory",
    "ProtocolWrapper",
    "SpewingFactory",
    "SpewingProtocol",
    "ThrottlingFactory",
    "ThrottlingProtocol",
    "TimeoutFactory",
    "TimeoutMixin",
    "TimeoutProtocol",
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


class ThrottlingProtocol(ProtocolWrapper):
    """Counts the bytes of one connection for a :class:`ThrottlingFactory`.

    Twisted: ``twisted.protocols.policies.ThrottlingProtocol``.
    """

    producer: Any = None

    def write(self, data: bytes) -> None:
        self.factory.registerWritten(len(data))
        ProtocolWrapper.write(self, data)

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        seq = list(seq)
        self.factory.registerWritten(sum(map(len, seq)))
        ProtocolWrapper.writeSequence(self, seq)

    def dataReceived(self, data: bytes) -> None:
        self.factory.registerRead(len(data))
        ProtocolWrapper.dataReceived(self, data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer
        ProtocolWrapper.registerProducer(self, producer, streaming)

    def unregisterProducer(self) -> None:
        self.producer = None
        ProtocolWrapper.unregisterProducer(self)

    def throttleReads(self) -> None:
        """Stop reading from the peer."""
        self.transport.pauseProducing()

    def unthrottleReads(self) -> None:
        """Read from the peer again."""
        self.transport.resumeProducing()

    def throttleWrites(self) -> None:
        """Pause the registered producer, if any."""
        if self.producer is not None:
            self.producer.pauseProducing()

    def unthrottleWrites(self) -> None:
        """Resume the registered producer, if any."""
        if self.producer is not None:
            self.producer.resumeProducing()


class ThrottlingFactory(WrappingFactory):
    """Limits connections and read/write bandwidth (bytes per second).

    Twisted: ``twisted.protocols.policies.ThrottlingFactory``.  Once a
    second the bytes of the last second are compared with the limits; over
    a limit, every connection stops reading (or its producer is paused) for
    as long as the excess would take at the limit.  Writes are throttled
    only through a registered producer.

    Args:
        wrappedFactory: the factory to wrap.
        maxConnectionCount: refuse connections beyond this many.
        readLimit: bytes per second read, or None.
        writeLimit: bytes per second written, or None.
        clock: the ``IReactorTime`` to use (torsion addition; default: the
            global reactor).
    """

    protocol = ThrottlingProtocol

    def __init__(
        self,
        wrappedFactory: Any,
        maxConnectionCount: int = sys.maxsize,
        readLimit: float | None = None,
        writeLimit: float | None = None,
        clock: Any = None,
    ) -> None:
        WrappingFactory.__init__(self, wrappedFactory)
        self.clock = clock
        self.connectionCount = 0
        self.maxConnectionCount = maxConnectionCount
        self.readLimit = readLimit
        self.writeLimit = writeLimit
        self.readThisSecond = 0
        self.writtenThisSecond = 0
        self.unthrottleReadsID: Any = None
        self.checkReadBandwidthID: Any = None
        self.unthrottleWritesID: Any = None
        self.checkWriteBandwidthID: Any = None

    def callLater(self, period: float, func: Callable[[], Any]) -> Any:
        """Schedule ``func`` on ``self.clock`` (or the global reactor)."""
        return _callLater(self.clock, period, func)

    def registerWritten(self, length: int) -> None:
        """A protocol wrote ``length`` more bytes."""
        self.writtenThisSecond += length

    def registerRead(self, length: int) -> None:
        """A protocol read ``length`` more bytes."""
        self.readThisSecond += length

    def checkReadBandwidth(self) -> None:
        """Once a second: throttle reads if the last second exceeded the limit."""
        assert self.readLimit is not None
        if self.readThisSecond > self.readLimit:
            self.throttleReads()
            throttleTime = float(self.readThisSecond) / self.readLimit - 1.0
            self.unthrottleReadsID = self.callLater(throttleTime, self.unthrottleReads)
        self.readThisSecond = 0
        self.checkReadBandwidthID = self.callLater(1, self.checkReadBandwidth)

    def checkWriteBandwidth(self) -> None:
        """Once a second: throttle writes if the last second exceeded the limit."""
        assert self.writeLimit is not None
        if self.writtenThisSecond > self.writeLimit:
            self.throttleWrites()
            throttleTime = float(self.writtenThisSecond) / self.writeLimit - 1.0
            self.unthrottleWritesID = self.callLater(throttleTime, self.unthrottleWrites)
        self.writtenThisSecond = 0
        self.checkWriteBandwidthID = self.callLater(1, self.checkWriteBandwidth)

    def throttleReads(self) -> None:
        """Stop reading on every connection."""
        log.msg(f"Throttling reads on {self}")
        for p in list(self.protocols):
            p.throttleReads()

    def unthrottleReads(self) -> None:
        """Read again on every connection."""
        self.unthrottleReadsID = None
        log.msg(f"Stopped throttling reads on {self}")
        for p in list(self.protocols):
            p.unthrottleReads()

    def throttleWrites(self) -> None:
        """Pause the producer of every connection."""
        log.msg(f"Throttling writes on {self}")
        for p in list(self.protocols):
            p.throttleWrites()

    def unthrottleWrites(self) -> None:
        """Resume the producer of every connection."""
        self.unthrottleWritesID = None
        log.msg(f"Stopped throttling writes on {self}")
        for p in list(self.protocols):
            p.unthrottleWrites()

    def buildProtocol(self, addr: Any) -> Any:
        if self.connectionCount == 0:
            if self.readLimit is not None:
                self.checkReadBandwidth()
            if self.writeLimit is not None:
                self.checkWriteBandwidth()
        if self.connectionCount >= self.maxConnectionCount:
            log.msg("Max connection count reached!")
            self._maybeStopChecking()
            return None
        self.connectionCount += 1
        p = WrappingFactory.buildProtocol(self, addr)
        if p is None:
            self.connectionCount -= 1
            self._maybeStopChecking()
        return p

    def unregisterProtocol(self, p: Any) -> None:
        WrappingFactory.unregisterProtocol(self, p)
        self.connectionCount -= 1
        self._maybeStopChecking()

    def _maybeStopChecking(self) -> None:
        if self.connectionCount:
            return
        for name in (
            "unthrottleReadsID",
            "checkReadBandwidthID",
            "unthrottleWritesID",
            "checkWriteBandwidthID",
        ):
            call = getattr(self, name)
            setattr(self, name, None)
            if call is not None and call.active():
                call.cancel()


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


def _hostOf(addr: Any) -> Any:
    host = getattr(addr, "host", None)
    if host is not None:
        return host
    return addr[0]


class LimitConnectionsByPeer(WrappingFactory):
    """Refuses more than ``maxConnectionsPerPeer`` connections from one host.

    Twisted: ``twisted.protocols.policies.LimitConnectionsByPeer``, which
    indexes addresses as the tuples of old Twisted versions and fails with
    today's address objects; torsion uses ``addr.host`` (tuples still work).

    Attributes:
        maxConnectionsPerPeer: the limit per host (5).
        peerConnections: live connections per host.
    """

    maxConnectionsPerPeer = 5

    def __init__(self, wrappedFactory: Any) -> None:
        WrappingFactory.__init__(self, wrappedFactory)
        self.peerConnections: dict[Any, int] = {}
        self._peerOf: dict[Any, Any] = {}

    def startFactory(self) -> None:
        self.peerConnections = {}

    def buildProtocol(self, addr: Any) -> Any:
        peerHost = _hostOf(addr)
        count = self.peerConnections.get(peerHost, 0)
        if count >= self.maxConnectionsPerPeer:
            return None
        p = WrappingFactory.buildProtocol(self, addr)
        if p is not None:
            self.peerConnections[peerHost] = count + 1
            self._peerOf[p] = peerHost
        return p

    def unregisterProtocol(self, p: Any) -> None:
        WrappingFactory.unregisterProtocol(self, p)
        peerHost = self._peerOf.pop(p, None)
        if peerHost is None or peerHost not in self.peerConnections:
            return
        self.peerConnections[peerHost] -= 1
        if self.peerConnections[peerHost] <= 0:
            del self.peerConnections[peerHost]


class LimitTotalConnectionsFactory(ServerFactory):
    """Limits the number of simultaneous connections.

    Twisted: ``twisted.protocols.policies.LimitTotalConnectionsFactory``.
    Beyond ``connectionLimit``, connections get ``overflowProtocol`` or, if
    it is None, are refused.  Overflow connections count too.

    Attributes:
        connectionCount: live connections.
        connectionLimit: the limit, or None for no limit.
        overflowProtocol: the protocol class for connections over the limit.
    """

    connectionCount = 0
    connectionLimit: int | None = None
    overflowProtocol: Callable[[], Any] | None = None

    def buildProtocol(self, addr: Any) -> Any:
        if self.connectionLimit is None or self.connectionCount < self.connectionLimit:
            assert self.protocol is not None, f"{self!r}.protocol is not set"
            wrappedProtocol = self.protocol()
        elif self.overflowProtocol is None:
            return None
        else:
            wrappedProtocol = self.overflowProtocol()
        wrappedProtocol.factory = self
        p = ProtocolWrapper(self, wrappedProtocol)
        self.connectionCount += 1
        return p

    def registerProtocol(self, p: Any) -> None:
        pass

    def unregisterProtocol(self, p: Any) -> None:
        self.connectionCount -= 1


class TimeoutProtocol(ProtocolWrapper):
    """Closes its connection after ``timeoutPeriod`` idle seconds.

    Twisted: ``twisted.protocols.policies.TimeoutProtocol``.  Data in either
    direction restarts the countdown.
    """

    def __init__(self, factory: Any, wrappedProtocol: Any, timeoutPeriod: float | None) -> None:
        ProtocolWrapper.__init__(self, factory, wrappedProtocol)
        self.timeoutCall: Any = None
        self.timeoutPeriod: float | None = None
        self.setTimeout(timeoutPeriod)

    def setTimeout(self, timeoutPeriod: float | None = None) -> None:
        """Cancel the countdown and, unless ``timeoutPeriod`` is None, start a new one."""
        self.cancelTimeout()
        self.timeoutPeriod = timeoutPeriod
        if timeoutPeriod is not None:
            self.timeoutCall = self.factory.callLater(timeoutPeriod, self.timeoutFunc)

    def cancelTimeout(self) -> None:
        """Stop the countdown (harmless if there is none)."""
        self.timeoutPeriod = None
        if self.timeoutCall:
            try:
                self.timeoutCall.cancel()
            except (error.AlreadyCalled, error.AlreadyCancelled):
                pass
            self.timeoutCall = None

    def resetTimeout(self) -> None:
        """Restart the countdown: something happened."""
        if self.timeoutCall:
            self.timeoutCall.reset(self.timeoutPeriod)

    def write(self, data: bytes) -> None:
        self.resetTimeout()
        ProtocolWrapper.write(self, data)

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        self.resetTimeout()
        ProtocolWrapper.writeSequence(self, seq)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        ProtocolWrapper.dataReceived(self, data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.cancelTimeout()
        ProtocolWrapper.connectionLost(self, reason)

    def timeoutFunc(self) -> None:
        """The connection was idle too long: close it (override to do otherwise)."""
        self.loseConnection()


class TimeoutFactory(WrappingFactory):
    """Wraps protocols in :class:`TimeoutProtocol`.

    Twisted: ``twisted.protocols.policies.TimeoutFactory``.

    Args:
        wrappedFactory: the factory to wrap.
        timeoutPeriod: idle seconds before closing (30 minutes).
        clock: the ``IReactorTime`` to use (torsion addition; default: the
            global reactor).
    """

    protocol = TimeoutProtocol

    def __init__(
        self, wrappedFactory: Any, timeoutPeriod: float = 30 * 60, clock: Any = None
    ) -> None:
        self.timeoutPeriod = timeoutPeriod
        self.clock = clock
        WrappingFactory.__init__(self, wrappedFactory)

    def buildProtocol(self, addr: Any) -> Any:
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        return self.protocol(self, wrapped, timeoutPeriod=self.timeoutPeriod)

    def callLater(self, period: float, func: Callable[[], Any]) -> Any:
        """Schedule ``func`` on ``self.clock`` (or the global reactor)."""
        return _callLater(self.clock, period, func)


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
        wrapped = self.wrappedFactory.buildProtocol(addr)
        if wrapped is None:
            return None
        self._counter += 1
        logfile = self.open(f"{self.logfilePrefix}-{self._counter}")
        return self.protocol(self, wrapped, logfile, self.lengthLimit, self._counter)

    def resetCounter(self) -> None:
        """Number the next connection 1 again."""
        self._counter = 0


class TimeoutMixin:
    """Gives a protocol one idle timeout.

    Twisted: ``twisted.protocols.policies.TimeoutMixin``.  :meth:`setTimeout`
    starts (or changes, or with None cancels) the countdown,
    :meth:`resetTimeout` restarts it, and when it runs out
    :meth:`timeoutConnection` is called (by default: close).

    Attributes:
        timeOut: the current period in seconds, or None.
        clock: the ``IReactorTime`` used (torsion addition; None means the
            global reactor).  Overriding :meth:`callLater` works too.
    """

    timeOut: float | None = None
    clock: Any = None
    __timeoutCall: Any = None

    def callLater(self, period: float, func: Callable[[], Any]) -> Any:
        """Schedule ``func`` on ``self.clock`` (or the global reactor)."""
        return _callLater(self.clock, period, func)

    def resetTimeout(self) -> None:
        """Restart the countdown, unless it ran out or was cancelled."""
        if self.__timeoutCall is not None and self.timeOut is not None:
            self.__timeoutCall.reset(self.timeOut)

    def setTimeout(self, period: float | None) -> float | None:
        """Set the period (None cancels the timeout); return the previous one."""
        prev = self.timeOut
        self.timeOut = period
        if self.__timeoutCall is not None:
            if period is None:
                try:
                    self.__timeoutCall.cancel()
                except (error.AlreadyCancelled, error.AlreadyCalled):
                    pass
                self.__timeoutCall = None
            else:
                self.__timeoutCall.reset(period)
        elif period is not None:
            self.__timeoutCall = self.callLater(period, self.__timedOut)
        return prev

    def __timedOut(self) -> None:
        self.__timeoutCall = None
        self.timeoutConnection()

    def timeoutConnection(self) -> None:
        """The timeout ran out: close the connection (override to do otherwise)."""
        cast(Any, self).transport.loseConnection()
