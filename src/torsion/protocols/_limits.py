"""Resource limits: throttled bandwidth and connection counts.

Public through :mod:`torsion.protocols.policies`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from torsion.internet.protocol import ServerFactory
from torsion.protocols._wrapping import ProtocolWrapper, WrappingFactory, _callLater
from torsion.python import log

__all__ = [
    "LimitConnectionsByPeer",
    "LimitTotalConnectionsFactory",
    "ThrottlingFactory",
    "ThrottlingProtocol",
]


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
        """Wrap a new protocol, or refuse (None) past ``maxConnectionCount``."""
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
        """Count a closed connection; with none left, stop the bandwidth checks."""
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
        """Start counting from zero."""
        self.peerConnections = {}

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap a new protocol, or refuse (None) if the host is at its limit."""
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
        """Count a closed connection against its host."""
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
        """A wrapped ``protocol``, ``overflowProtocol`` past the limit, or None."""
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
        """Nothing to do: connections are counted in :meth:`buildProtocol`."""

    def unregisterProtocol(self, p: Any) -> None:
        """Count a closed connection."""
        self.connectionCount -= 1
