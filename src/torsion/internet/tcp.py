"""TCP: accepted connections, outgoing connections, ports and connectors.

Twisted: ``twisted.internet.tcp``.  The transport itself is
:class:`torsion.internet._stream.Connection`; this module adds what is
specific to TCP servers and clients.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred
from torsion.internet._stream import Connection
from torsion.internet._stream import prefixOf as _prefix
from torsion.internet._tcpconn import Client, Server, forgetClosedSocket
from torsion.internet._tcpconn import _connectError as _connectError
from torsion.internet.address import IPv4Address, IPv6Address, fromSockname
from torsion.internet.base import isIPv6Address
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["Client", "Connection", "Connector", "Port", "Server", "forgetClosedSocket"]


class Port:
    """A listening TCP socket. Twisted: ``twisted.internet.tcp.Port``.

    Args:
        port: the port number (0 for ephemeral) or a service name.
        factory: builds one protocol per accepted connection.
        backlog: the listen queue size.
        interface: local address; '' for all IPv4 interfaces.
        reactor: the reactor.
    """

    connected = False
    disconnected = False
    #: Set SO_REUSEPORT before binding (several processes share the port).
    reusePort = False
    _realPortNumber: Any = None
    _kind = "TCP"

    def __init__(
        self,
        port: int | str,
        factory: Any,
        backlog: int = 50,
        interface: str = "",
        reactor: Any = None,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor as globalReactor

            reactor = globalReactor
        self.port = port
        self.factory = factory
        self.backlog = backlog
        self.interface = interface
        self.reactor = reactor
        self.sessionno = 0
        self.socket: socket.socket | None = None
        self._server: Any = None
        self._serverTask: asyncio.Future[Any] | None = None
        self._stopped: Deferred[None] | None = None
        if isIPv6Address(interface):
            self.addressFamily = socket.AF_INET6
        else:
            self.addressFamily = socket.AF_INET

    def startListening(self) -> None:
        """Bind and listen; raises ``CannotListenError`` at once on failure."""
        sock = self._bindSocket()
        sock.setblocking(False)
        self.socket = sock
        self._realPortNumber = self._listeningName(sock)
        log.msg(f"{_prefix(self.factory)} starting on {self._realPortNumber}")
        self.factory.doStart()
        self.connected = True
        self.reactor._ports.add(self)
        loop = self.reactor._getLoop()
        self._serverTask = asyncio.ensure_future(self._serve(loop, sock), loop=loop)
        self._serverTask.add_done_callback(self._serving)

    def _bindSocket(self) -> socket.socket:
        """A bound, listening socket; raises ``CannotListenError``."""
        portNumber = _portNumber(self.port)
        sock = socket.socket(self.addressFamily, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.reusePort:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.interface, portNumber))
            sock.listen(self.backlog)
        except OSError as e:
            sock.close()
            raise error.CannotListenError(self.interface, self.port, e) from None
        return sock

    def _listeningName(self, sock: socket.socket) -> Any:
        """What log lines and ``repr`` call this port (the port number)."""
        return sock.getsockname()[1]

    def _serve(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> Any:
        """Start the asyncio server on ``sock`` (an awaitable of the server).

        Subclasses override this for TLS (``ssl=``) or UNIX sockets.
        """
        return loop.create_server(self._buildServer, sock=sock, backlog=self.backlog)

    def _buildServer(self) -> Server:
        return Server(self)

    def _serving(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.err(exc, f"Could not start serving on port {self._realPortNumber}")
            return
        self._server = task.result()
        if not self.connected:
            self._server.close()

    def _close(self) -> bool:
        if not self.connected:
            return False
        self.connected = False
        self.reactor._ports.discard(self)
        task = self._serverTask
        if self._server is not None:
            self._server.close()
        elif task is not None and not task.done():
            task.cancel()
        if self.socket is not None:
            try:
                self.socket.close()
            except OSError:
                pass
        return True

    def _finishClose(self) -> None:
        self.disconnected = True
        log.msg(f"({self._kind} Port {self._realPortNumber} Closed)")
        try:
            self.factory.doStop()
        except Exception:
            log.err(None, "Error in factory.doStop")

    def stopListening(self) -> Deferred[None]:
        """Stop accepting connections (open connections stay).

        Twisted: ``IListeningPort.stopListening``.

        Returns:
            A Deferred that fires once the socket is closed and the factory's
            ``doStop`` has run.
        """
        if self._stopped is not None:
            return self._stopped
        d: Deferred[None] = Deferred()
        self._stopped = d
        if not self._close():
            d.callback(None)
            return d

        def finish() -> None:
            self._finishClose()
            d.callback(None)

        self.reactor._getLoop().call_soon(self.reactor._dispatch, finish)
        return d

    loseConnection = stopListening

    def _shutdown(self) -> None:
        if self._close():
            self._finishClose()
            if self._stopped is None:
                self._stopped = Deferred()
                self._stopped.callback(None)

    def getHost(self) -> IPv4Address | IPv6Address:
        """The address the port is bound to. Twisted: ``IListeningPort.getHost``."""
        assert self.socket is not None
        return fromSockname(self.socket.getsockname())

    def logPrefix(self) -> str:
        return _prefix(self.factory)

    def __repr__(self) -> str:
        if self._realPortNumber is not None:
            return f"<{_prefix(self.factory)} on {self._realPortNumber}>"
        return f"<{_prefix(self.factory)} (not listening)>"


def _portNumber(port: int | str) -> int:
    if isinstance(port, str):
        try:
            return socket.getservbyname(port, "tcp")
        except OSError as e:
            raise error.ServiceNameUnknownError(string=f"{e} ({port!r})") from None
    return int(port)


class Connector:
    """Connects a client factory to a host and port, repeatably.

    Twisted: ``twisted.internet.tcp.Connector``.  The same connector is
    reused when a factory reconnects (``connector.connect()`` from
    ``clientConnectionLost``/``clientConnectionFailed``).

    Attributes:
        state: ``'disconnected'``, ``'connecting'`` or ``'connected'``.
        factory: the client factory.
        transport: the current :class:`Client`, if any.
        timeout: seconds before an attempt fails with ``TimeoutError``.
    """

    def __init__(
        self,
        host: str,
        port: int | str,
        factory: Any,
        timeout: float | None,
        bindAddress: tuple[str, int] | None,
        reactor: Any,
    ) -> None:
        if isinstance(port, str):
            port = _portNumber(port)
        self.host = host
        self.port = port
        self.factory = factory
        self.timeout = timeout
        self.bindAddress = bindAddress
        self.reactor = reactor
        self.state = "disconnected"
        self.factoryStarted = 0
        self.transport: Client | None = None
        self.timeoutID: Any = None

    def connect(self) -> None:
        """Start a connection attempt. Twisted: ``IConnector.connect``.

        Raises:
            RuntimeError: unless disconnected.
        """
        if self.state != "disconnected":
            raise RuntimeError("can't connect in this state")
        self.state = "connecting"
        if not self.factoryStarted:
            self.factory.doStart()
            self.factoryStarted = 1
        self.transport = transport = self._makeTransport()
        if self.timeout is not None:
            self.timeoutID = self.reactor.callLater(
                self.timeout, transport.failIfNotConnected, error.TimeoutError()
            )
        self.factory.startedConnecting(self)

    def _makeTransport(self) -> Client:
        """The transport for one attempt. Twisted: ``BaseConnector._makeTransport``."""
        return Client(self)

    def stopConnecting(self) -> None:
        """Abandon the attempt in progress; the factory sees ``UserError``.

        Twisted: ``IConnector.stopConnecting``.

        Raises:
            NotConnectingError: unless connecting.
        """
        if self.state != "connecting":
            raise error.NotConnectingError("we're not trying to connect")
        assert self.transport is not None
        self.transport.failIfNotConnected(error.UserError())
        self.transport = None

    def disconnect(self) -> None:
        """Stop connecting, or close the connection. Twisted: ``IConnector.disconnect``."""
        if self.state == "connecting":
            self.stopConnecting()
        elif self.state == "connected" and self.transport is not None:
            self.transport.loseConnection()

    def getDestination(self) -> IPv4Address:
        """The address being connected to, as given. Twisted: ``getDestination``."""
        return IPv4Address("TCP", self.host, self.port)

    def _cancelTimeout(self) -> None:
        if self.timeoutID is not None:
            try:
                self.timeoutID.cancel()
            except ValueError:
                pass
            self.timeoutID = None

    def buildProtocol(self, addr: Any) -> Any:
        self.state = "connected"
        self._cancelTimeout()
        return self.factory.buildProtocol(addr)

    def connectionFailed(self, reason: Failure) -> None:
        self._cancelTimeout()
        self.transport = None
        self.state = "disconnected"
        self.factory.clientConnectionFailed(self, reason)
        if self.state == "disconnected":
            self.factory.doStop()
            self.factoryStarted = 0

    def connectionLost(self, reason: Failure) -> None:
        self.state = "disconnected"
        self.factory.clientConnectionLost(self, reason)
        if self.state == "disconnected":
            self.factory.doStop()
            self.factoryStarted = 0

    def __repr__(self) -> str:
        return (
            f"<{type(self).__module__}.{type(self).__qualname__} instance at 0x{id(self):x} "
            f"{self.state} {self.getDestination()}>"
        )
