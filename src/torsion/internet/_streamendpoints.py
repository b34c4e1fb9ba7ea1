"""TCP and UNIX stream endpoints, and ``connectProtocol``.

Twisted: the corresponding classes of ``twisted.internet.endpoints``.  An
endpoint holds the *where* (reactor, address, options); ``listen(factory)``
and ``connect(factory)`` do the *when*, and always return a Deferred: a
synchronous failure (e.g. ``CannotListenError``) arrives as a failed
Deferred, never as an exception.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from torsion.internet._defer import Deferred, execute, fail
from torsion.internet._resolve import resolveTCP
from torsion.internet._wrapping import WrappingFactory
from torsion.internet.base import isIPv6Address
from torsion.internet.error import DNSLookupError
from torsion.internet.protocol import Factory

__all__ = [
    "TCP4ClientEndpoint",
    "TCP4ServerEndpoint",
    "TCP6ClientEndpoint",
    "TCP6ServerEndpoint",
    "UNIXClientEndpoint",
    "UNIXServerEndpoint",
    "connectProtocol",
]


class _TCPServerEndpoint:
    """Listens with ``reactor.listenTCP``."""

    def __init__(self, reactor: Any, port: int, backlog: int, interface: str) -> None:
        self._reactor = reactor
        self._port = port
        self._backlog = backlog
        self._interface = interface

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """Start listening. Twisted: ``IStreamServerEndpoint.listen``.

        Returns:
            A Deferred firing with the listening port (``IListeningPort``), or
            failing with e.g. ``CannotListenError``.
        """
        return execute(
            self._reactor.listenTCP,
            self._port,
            protocolFactory,
            backlog=self._backlog,
            interface=self._interface,
        )

    def __repr__(self) -> str:
        host = f"[{self._interface}]" if ":" in self._interface else self._interface
        return f"<{type(self).__name__} {host}:{self._port}>"


class TCP4ServerEndpoint(_TCPServerEndpoint):
    """A TCP server on IPv4. Twisted: ``endpoints.TCP4ServerEndpoint``.

    Args:
        reactor: provides ``listenTCP``.
        port: the port number (0 for an ephemeral port).
        backlog: the listen queue size.
        interface: the local address to bind; '' for all IPv4 interfaces.
    """

    def __init__(self, reactor: Any, port: int, backlog: int = 50, interface: str = "") -> None:
        super().__init__(reactor, port, backlog, interface)


class TCP6ServerEndpoint(_TCPServerEndpoint):
    """A TCP server on IPv6. Twisted: ``endpoints.TCP6ServerEndpoint``.

    Args:
        reactor: provides ``listenTCP``.
        port: the port number (0 for an ephemeral port).
        backlog: the listen queue size.
        interface: the local IPv6 address to bind; ``'::'`` for all.
    """

    def __init__(self, reactor: Any, port: int, backlog: int = 50, interface: str = "::") -> None:
        super().__init__(reactor, port, backlog, interface)


def connectWith(connect: Callable[[Any], Any], protocolFactory: Any) -> Deferred[Any]:
    """Start a connection with ``connect(factory)`` for an endpoint's ``connect``.

    The returned Deferred fires with ``protocolFactory``'s protocol once its
    ``connectionMade`` ran, fails with the connection error (``NoProtocol``
    when the factory refuses), and cancels as ``ConnectingCancelledError``.
    Shared by the TCP, UNIX and TLS client endpoints.
    """
    try:
        wf = WrappingFactory(protocolFactory)
        connect(wf)
        return wf._onConnection
    except Exception:
        return fail()


def _connectTCP(
    reactor: Any,
    host: str,
    port: int,
    protocolFactory: Any,
    timeout: float,
    bindAddress: Any,
) -> Deferred[Any]:
    return connectWith(
        lambda wf: reactor.connectTCP(host, port, wf, timeout=timeout, bindAddress=bindAddress),
        protocolFactory,
    )


class _TCPClientEndpoint:
    """Holds what ``connectTCP`` needs."""

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> None:
        self._reactor = reactor
        self._host = host
        self._port = port
        self._timeout = timeout
        self._bindAddress = bindAddress

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._host}:{self._port}>"


class TCP4ClientEndpoint(_TCPClientEndpoint):
    """A TCP client over IPv4. Twisted: ``endpoints.TCP4ClientEndpoint``.

    Args:
        reactor: provides ``connectTCP``.
        host: the host name or IPv4 address to connect to.
        port: the port number.
        timeout: seconds before an attempt fails with ``TimeoutError``.
        bindAddress: a ``(host, port)`` local address to bind, or None.
    """

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect. Twisted: ``IStreamClientEndpoint.connect``.

        Returns:
            A Deferred firing with the protocol built by ``protocolFactory``
            once its ``connectionMade`` has run; failing with the connection
            error, with ``NoProtocol`` when the factory returns None, or with
            ``ConnectingCancelledError`` when cancelled (the attempt stops).
        """
        return _connectTCP(
            self._reactor, self._host, self._port, protocolFactory, self._timeout, self._bindAddress
        )


class TCP6ClientEndpoint(_TCPClientEndpoint):
    """A TCP client over IPv6. Twisted: ``endpoints.TCP6ClientEndpoint``.

    A host name is resolved to its first IPv6 address before connecting.

    Args:
        reactor: provides ``connectTCP`` (and name resolution, see
            :mod:`torsion.internet._resolve`).
        host: an IPv6 literal or a host name with an IPv6 address.
        port: the port number.
        timeout: seconds before an attempt fails with ``TimeoutError``.
        bindAddress: a ``(host, port)`` local address to bind, or None.
    """

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Resolve (unless given a literal), then connect. Twisted: ``connect``."""
        if isIPv6Address(self._host):
            return self._resolvedHostConnect(self._host, protocolFactory)
        resolving = resolveTCP(self._reactor, self._host, self._port, socket.AF_INET6)

        def first(addresses: list[Any]) -> str:
            if not addresses:
                raise DNSLookupError(f"no IPv6 address for {self._host!r}")
            return str(addresses[0].host)

        return resolving.addCallback(first).addCallback(self._resolvedHostConnect, protocolFactory)

    def _resolvedHostConnect(self, host: str, protocolFactory: Any) -> Deferred[Any]:
        return _connectTCP(
            self._reactor, host, self._port, protocolFactory, self._timeout, self._bindAddress
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self._host}]:{self._port}>"


class UNIXServerEndpoint:
    """A UNIX socket server. Twisted: ``endpoints.UNIXServerEndpoint``.

    Args:
        reactor: provides ``listenUNIX``.
        address: the socket's file system path.
        backlog: the listen queue size.
        mode: the permissions of the socket file.
        wantPID: also create a lock file holding our PID.
    """

    def __init__(
        self,
        reactor: Any,
        address: str,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> None:
        self._reactor = reactor
        self._address = address
        self._backlog = backlog
        self._mode = mode
        self._wantPID = wantPID

    def listen(self, protocolFactory: Any) -> Deferred[Any]:
        """Start listening. Twisted: ``IStreamServerEndpoint.listen``."""
        return execute(
            self._reactor.listenUNIX,
            self._address,
            protocolFactory,
            backlog=self._backlog,
            mode=self._mode,
            wantPID=self._wantPID,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._address}>"


class UNIXClientEndpoint:
    """A UNIX socket client. Twisted: ``endpoints.UNIXClientEndpoint``.

    Args:
        reactor: provides ``connectUNIX``.
        path: the socket's file system path.
        timeout: seconds before an attempt fails.
        checkPID: check the server's lock file first.
    """

    def __init__(self, reactor: Any, path: str, timeout: float = 30, checkPID: int = 0) -> None:
        self._reactor = reactor
        self._path = path
        self._timeout = timeout
        self._checkPID = checkPID

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Connect. Twisted: ``IStreamClientEndpoint.connect`` (see TCP4ClientEndpoint)."""
        return connectWith(
            lambda wf: self._reactor.connectUNIX(
                self._path, wf, timeout=self._timeout, checkPID=self._checkPID
            ),
            protocolFactory,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._path}>"


def connectProtocol(endpoint: Any, protocol: Any) -> Deferred[Any]:
    """Connect ``protocol`` (an instance) through ``endpoint``, without a factory.

    Twisted: ``twisted.internet.endpoints.connectProtocol``.

    Returns:
        ``endpoint.connect(...)``: a Deferred that fires with ``protocol``.
    """

    class OneShotFactory(Factory):
        def buildProtocol(self, addr: Any) -> Any:
            return protocol

    connecting: Deferred[Any] = endpoint.connect(OneShotFactory())
    return connecting
