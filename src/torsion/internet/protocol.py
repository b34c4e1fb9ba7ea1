"""Protocols and the factories that build them.

Twisted: ``twisted.internet.protocol``.  A *protocol* handles one
connection's events (``connectionMade``, ``dataReceived``,
``connectionLost``); a *factory* builds one protocol per connection and is
told about the connection attempts of client connectors.  Factories need not
inherit from :class:`Factory`: any object with ``buildProtocol``,
``doStart`` and ``doStop`` (and, for clients, ``startedConnecting``,
``clientConnectionFailed`` and ``clientConnectionLost``) works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "AbstractDatagramProtocol",
    "BaseProtocol",
    "ClientCreator",
    "ClientFactory",
    "ConnectedDatagramProtocol",
    "DatagramProtocol",
    "Factory",
    "ProcessProtocol",
    "Protocol",
    "ReconnectingClientFactory",
    "ServerFactory",
    "connectionDone",
]

#: The default ``reason`` of :meth:`Protocol.connectionLost`.
connectionDone = Failure(error.ConnectionDone())


class Factory:
    """Builds protocols. Twisted: ``twisted.internet.protocol.Factory``.

    Attributes:
        protocol: the class :meth:`buildProtocol` instantiates.
        numPorts: how many ports/connectors currently use this factory.
        noisy: log "Starting factory" / "Stopping factory".
    """

    protocol: Callable[[], Any] | None = None
    numPorts = 0
    noisy = True

    @classmethod
    def forProtocol(cls, protocol: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A factory of this class whose ``protocol`` is ``protocol``.

        Twisted: ``Factory.forProtocol``; extra arguments go to the factory.
        """
        factory = cls(*args, **kwargs)
        factory.protocol = protocol
        return factory

    def logPrefix(self) -> str:
        """The class name, used in log lines. Twisted: ``Factory.logPrefix``."""
        return self.__class__.__name__

    def doStart(self) -> None:
        """Count one more user; the first one calls :meth:`startFactory`.

        Twisted: ``Factory.doStart``.
        """
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Starting factory {self!r}")
            self.startFactory()
        self.numPorts += 1

    def doStop(self) -> None:
        """Count one user less; the last one calls :meth:`stopFactory`.

        Twisted: ``Factory.doStop``.  Extra calls are ignored.
        """
        if self.numPorts == 0:
            return
        self.numPorts -= 1
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Stopping factory {self!r}")
            self.stopFactory()

    def startFactory(self) -> None:
        """Hook: the factory is about to be used. Twisted: ``Factory.startFactory``."""

    def stopFactory(self) -> None:
        """Hook: the factory is no longer used. Twisted: ``Factory.stopFactory``."""

    def buildProtocol(self, addr: Any) -> Any:
        """Create a protocol for a connection from/to ``addr``.

        Twisted: ``Factory.buildProtocol``.  Return None to refuse the
        connection.
        """
        assert self.protocol is not None, f"{self!r}.protocol is not set"
        p = self.protocol()
        p.factory = self
        return p


class ServerFactory(Factory):
    """A factory for servers (a marker subclass). Twisted: ``ServerFactory``."""


class ClientFactory(Factory):
    """A factory for clients, told about connection attempts.

    Twisted: ``twisted.internet.protocol.ClientFactory``.
    """

    def startedConnecting(self, connector: Any) -> None:
        """A connection attempt started. Twisted: ``startedConnecting``."""

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """The attempt failed. Twisted: ``clientConnectionFailed``."""

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        """An established connection was lost. Twisted: ``clientConnectionLost``."""


class _InstanceFactory(ClientFactory):
    """One-shot factory behind :class:`ClientCreator`."""

    noisy = False
    pending: Any = None

    def __init__(self, reactor: Any, instance: Any, deferred: Deferred[Any]) -> None:
        self.reactor = reactor
        self.instance = instance
        self.deferred = deferred

    def __repr__(self) -> str:
        return f"<ClientCreator factory: {self.instance!r}>"

    def buildProtocol(self, addr: Any) -> Any:
        self.pending = self.reactor.callLater(0, self.fire, self.deferred.callback, self.instance)
        self.deferred = None  # type: ignore[assignment]
        return self.instance

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.pending = self.reactor.callLater(0, self.fire, self.deferred.errback, reason)
        self.deferred = None  # type: ignore[assignment]

    def fire(self, func: Callable[[Any], Any], value: Any) -> None:
        self.pending = None
        func(value)


class ClientCreator:
    """Connect and get a Deferred that fires with the protocol instance.

    Twisted: ``twisted.internet.protocol.ClientCreator`` (an older helper;
    endpoints are the modern API).

    Args:
        reactor: the reactor to connect with.
        protocolClass: called with ``*args, **kwargs`` for each connection.
    """

    def __init__(self, reactor: Any, protocolClass: Callable[..., Any], *args: Any, **kwargs: Any):
        self.reactor = reactor
        self.protocolClass = protocolClass
        self.args = args
        self.kwargs = kwargs

    def _connect(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Deferred[Any]:
        def cancelConnect(deferred: Deferred[Any]) -> None:
            connector.disconnect()
            if f.pending is not None:
                f.pending.cancel()

        d: Deferred[Any] = Deferred(cancelConnect)
        f = _InstanceFactory(self.reactor, self.protocolClass(*self.args, **self.kwargs), d)
        connector = method(*args, factory=f, **kwargs)
        return d

    def connectTCP(
        self, host: str, port: int, timeout: float = 30, bindAddress: Any = None
    ) -> Deferred[Any]:
        """Connect over TCP. Twisted: ``ClientCreator.connectTCP``."""
        return self._connect(
            self.reactor.connectTCP, host, port, timeout=timeout, bindAddress=bindAddress
        )

    def connectUNIX(self, address: str, timeout: float = 30, checkPID: int = 0) -> Deferred[Any]:
        """Connect to a UNIX socket. Twisted: ``ClientCreator.connectUNIX``."""
        return self._connect(self.reactor.connectUNIX, address, timeout=timeout, checkPID=checkPID)

    def connectSSL(
        self,
        host: str,
        port: int,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: Any = None,
    ) -> Deferred[Any]:
        """Connect over TLS. Twisted: ``ClientCreator.connectSSL``."""
        return self._connect(
            self.reactor.connectSSL,
            host,
            port,
            contextFactory=contextFactory,
            timeout=timeout,
            bindAddress=bindAddress,
        )


class BaseProtocol:
    """The connection part of a protocol. Twisted: ``protocol.BaseProtocol``.

    Attributes:
        connected: 1 once :meth:`makeConnection` ran (never reset, as in Twisted).
        transport: the transport, once connected.
    """

    connected = 0
    transport: Any = None

    def makeConnection(self, transport: Any) -> None:
        """Attach ``transport`` and call :meth:`connectionMade`.

        Twisted: ``BaseProtocol.makeConnection``.
        """
        self.connected = 1
        self.transport = transport
        self.connectionMade()

    def connectionMade(self) -> None:
        """Hook: the connection is up. Twisted: ``BaseProtocol.connectionMade``."""


class Protocol(BaseProtocol):
    """A stream protocol. Twisted: ``twisted.internet.protocol.Protocol``.

    Attributes:
        factory: the factory that built this protocol, if any.
    """

    factory: Any = None

    def logPrefix(self) -> str:
        """The class name. Twisted: ``Protocol.logPrefix``."""
        return self.__class__.__name__

    def dataReceived(self, data: bytes) -> None:
        """Hook: bytes arrived. Twisted: ``Protocol.dataReceived``."""

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """Hook: the connection is closed. Twisted: ``Protocol.connectionLost``.

        ``reason`` is a Failure wrapping ``ConnectionDone`` (clean close),
        ``ConnectionLost`` (error, reset), ``ConnectionAborted``, or the
        exception raised by this protocol's own code.
        """


class ProcessProtocol(BaseProtocol):
    """Events of a child process. Twisted: ``protocol.ProcessProtocol``."""

    transport: Any = None

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """Data from a child's file descriptor; routes fds 1 and 2."""
        if childFD == 1:
            self.outReceived(data)
        elif childFD == 2:
            self.errReceived(data)

    def outReceived(self, data: bytes) -> None:
        """Hook: the child wrote to stdout."""

    def errReceived(self, data: bytes) -> None:
        """Hook: the child wrote to stderr."""

    def childConnectionLost(self, childFD: int) -> None:
        """A child's file descriptor closed; routes fds 0, 1 and 2."""
        if childFD == 0:
            self.inConnectionLost()
        elif childFD == 1:
            self.outConnectionLost()
        elif childFD == 2:
            self.errConnectionLost()

    def inConnectionLost(self) -> None:
        """Hook: the child's stdin closed."""

    def outConnectionLost(self) -> None:
        """Hook: the child closed its stdout."""

    def errConnectionLost(self) -> None:
        """Hook: the child closed its stderr."""

    def processExited(self, reason: Failure) -> None:
        """Hook: the process exited (its pipes may still be open)."""

    def processEnded(self, reason: Failure) -> None:
        """Hook: the process exited and all its pipes closed.

        ``reason`` wraps ``ProcessDone`` (exit code 0) or ``ProcessTerminated``.
        """


class AbstractDatagramProtocol:
    """Base of datagram protocols. Twisted: ``protocol.AbstractDatagramProtocol``."""

    transport: Any = None
    numPorts = 0
    noisy = True

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["transport"] = None
        return d

    def doStart(self) -> None:
        """Count one more port; the first calls :meth:`startProtocol`."""
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Starting protocol {self!r}")
            self.startProtocol()
        self.numPorts += 1

    def doStop(self) -> None:
        """Count one port less; the last calls :meth:`stopProtocol`."""
        assert self.numPorts > 0
        self.numPorts -= 1
        self.transport = None
        if not self.numPorts:
            if self.noisy:
                log.msg(f"Stopping protocol {self!r}")
            self.stopProtocol()

    def startProtocol(self) -> None:
        """Hook: the protocol is attached to a port."""

    def stopProtocol(self) -> None:
        """Hook: the protocol is detached from its last port."""

    def makeConnection(self, transport: Any) -> None:
        """Attach the datagram transport and start."""
        assert self.transport is None
        self.transport = transport
        self.doStart()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """Hook: a datagram arrived from ``addr``."""


class DatagramProtocol(AbstractDatagramProtocol):
    """A UDP protocol. Twisted: ``protocol.DatagramProtocol``."""

    def logPrefix(self) -> str:
        return self.__class__.__name__

    def connectionRefused(self) -> None:
        """Hook: a datagram sent on a connected port was refused (ICMP)."""


class ConnectedDatagramProtocol(DatagramProtocol):
    """A datagram protocol bound to one peer. Twisted: ``ConnectedDatagramProtocol``."""

    def datagramReceived(self, datagram: bytes, addr: Any = None) -> None:
        """Hook: a datagram arrived from the connected peer."""

    def connectionFailed(self, failure: Failure) -> None:
        """Hook: connecting the port failed."""


from torsion.internet._reconnect import ReconnectingClientFactory  # noqa: E402
