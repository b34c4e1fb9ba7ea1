"""The factory and protocol wrappers behind client endpoints' ``connect()``.

Twisted: ``twisted.internet.endpoints._WrappingFactory`` and
``_WrappingProtocol``.  The wrapping factory turns the connector callbacks
of ``reactor.connectTCP``/``connectUNIX`` into one Deferred that fires with
the application's protocol once its ``connectionMade`` has run.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred
from torsion.internet.protocol import ClientFactory, Protocol, connectionDone
from torsion.python.failure import Failure

__all__ = ["WrappingFactory", "WrappingProtocol", "wrapProtocol"]

# Methods a transport looks for on its protocol (torsion finds interfaces by
# the methods an object has).  The wrapper has one only if the wrapped
# protocol has it, so that e.g. half-close support is passed through exactly.
_OPTIONAL_METHODS = (
    "readConnectionLost",
    "writeConnectionLost",
    "handshakeCompleted",
    "fileDescriptorReceived",
)


class WrappingProtocol(Protocol):
    """Passes every event to the wrapped protocol; fires a Deferred when connected.

    Twisted: ``twisted.internet.endpoints._WrappingProtocol``.
    """

    def __init__(self, connectedDeferred: Deferred[Any], wrappedProtocol: Any) -> None:
        self._connectedDeferred = connectedDeferred
        self._wrappedProtocol = wrappedProtocol

    def logPrefix(self) -> str:
        """The wrapped protocol's log prefix (or its class name)."""
        logPrefix = getattr(self._wrappedProtocol, "logPrefix", None)
        if logPrefix is not None:
            return str(logPrefix())
        return str(self._wrappedProtocol.__class__.__name__)

    def connectionMade(self) -> None:
        """Connect the wrapped protocol, then fire the Deferred with it."""
        self._wrappedProtocol.makeConnection(self.transport)
        self._connectedDeferred.callback(self._wrappedProtocol)

    def dataReceived(self, data: bytes) -> None:
        self._wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._wrappedProtocol.connectionLost(reason)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapping {self._wrappedProtocol!r}>"


def _forwarder(name: str) -> Any:
    def forward(self: WrappingProtocol, *args: Any) -> Any:
        return getattr(self._wrappedProtocol, name)(*args)

    forward.__name__ = name
    forward.__doc__ = f"Pass ``{name}`` to the wrapped protocol."
    return forward


@cache
def _wrapperClass(methods: tuple[str, ...]) -> type[WrappingProtocol]:
    if not methods:
        return WrappingProtocol
    namespace = {name: _forwarder(name) for name in methods}
    return type("WrappingProtocol", (WrappingProtocol,), namespace)


def wrapProtocol(connectedDeferred: Deferred[Any], wrappedProtocol: Any) -> WrappingProtocol:
    """A :class:`WrappingProtocol` with exactly the optional methods of ``wrappedProtocol``."""
    methods = tuple(name for name in _OPTIONAL_METHODS if hasattr(wrappedProtocol, name))
    return _wrapperClass(methods)(connectedDeferred, wrappedProtocol)


class WrappingFactory(ClientFactory):
    """Wraps an application factory for one endpoint connection attempt.

    Twisted: ``twisted.internet.endpoints._WrappingFactory``.

    Attributes:
        _onConnection: fires with the application protocol once connected;
            fails with the connection error, with ``NoProtocol`` if the
            application factory returns None, or with
            ``ConnectingCancelledError`` when cancelled (which also stops the
            connector).
    """

    noisy = False

    def __init__(self, wrappedFactory: Any) -> None:
        self._wrappedFactory = wrappedFactory
        self._connector: Any = None
        self._onConnection: Deferred[Any] = Deferred(self._canceller)

    def startedConnecting(self, connector: Any) -> None:
        """Remember the connector, to stop it on cancellation."""
        self._connector = connector

    def _canceller(self, deferred: Deferred[Any]) -> None:
        connector = self._connector
        destination = connector.getDestination() if connector is not None else None
        deferred.errback(error.ConnectingCancelledError(destination))
        if connector is not None:
            connector.stopConnecting()

    def doStart(self) -> None:
        """Passed to the wrapped factory."""
        self._wrappedFactory.doStart()

    def doStop(self) -> None:
        """Passed to the wrapped factory."""
        self._wrappedFactory.doStop()

    def buildProtocol(self, addr: Any) -> Any:
        """Wrap the application's protocol; None (refuse) if it gives none."""
        try:
            protocol = self._wrappedFactory.buildProtocol(addr)
            if protocol is None:
                raise error.NoProtocol()
        except Exception:
            self._onConnection.errback(Failure())
            return None
        return wrapProtocol(self._onConnection, protocol)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Fail the Deferred, unless it already has a result (e.g. cancelled)."""
        if not self._onConnection.called:
            self._onConnection.errback(reason)
