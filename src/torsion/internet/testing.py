"""Test doubles: transports and reactors that do no real I/O.

Twisted: ``twisted.internet.testing``.  Protocol tests drive ``dataReceived``
by hand and read what was written from :meth:`StringTransport.value`;
:class:`MemoryReactor` records ``listenTCP``/``connectTCP`` calls instead of
opening sockets, and :class:`MemoryReactorClock` adds a fake clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from io import BytesIO
from typing import Any, overload

from torsion.internet import error, protocol
from torsion.internet._defer import Deferred
from torsion.internet._memoryreactor import MemoryReactor, MemoryReactorClock, RaisingMemoryReactor
from torsion.internet.address import IPv4Address
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
