"""TCP connections: accepted (:class:`Server`) and outgoing (:class:`Client`).

Twisted: ``twisted.internet.tcp.Server`` and ``tcp.Client``; the public
names are in :mod:`torsion.internet.tcp`.  The transport itself is
:class:`torsion.internet._stream.Connection`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from typing import TYPE_CHECKING, Any

from torsion.internet import error
from torsion.internet._loops import lookupIPv4
from torsion.internet._stream import Connection
from torsion.internet._stream import prefixOf as _prefix
from torsion.internet.address import IPv4Address, IPv6Address, fromSockname
from torsion.internet.base import isIPv4Address, isIPv6Address
from torsion.python import log
from torsion.python.failure import Failure

if TYPE_CHECKING:
    from torsion.internet.tcp import Connector, Port

__all__ = ["Client", "Server", "forgetClosedSocket"]


class Server(Connection):
    """A connection accepted by a :class:`Port`. Twisted: ``tcp.Server``."""

    sessionno = 0

    def __init__(self, port: Port) -> None:
        super().__init__(port.reactor)
        self.server = port

    def connection_made(self, transport: Any) -> None:
        self._t = transport
        port = self.server
        if transport.get_extra_info("peername") is None:
            # The peer reset the connection before we could look at it.
            self._lost = True
            transport.abort()
            return
        try:
            addr = self.getPeer()
            protocol = self.reactor._dispatch(port.factory.buildProtocol, addr)
        except Exception:
            log.err(None, f"Error building protocol for {port!r}")
            self._lost = True
            transport.abort()
            return
        if protocol is None:
            self._lost = True
            transport.close()
            return
        self.sessionno = port.sessionno
        port.sessionno += 1
        host = getattr(addr, "host", None) or getattr(addr, "name", None)
        self.logstr = f"{_prefix(protocol)},{self.sessionno},{host}"
        try:
            self.reactor._dispatch(self._startProtocol, protocol)
        except Exception:
            self._protocolError()

    def __repr__(self) -> str:
        return f"<{_prefix(self.protocol)} #{self.sessionno} on {self.server._realPortNumber}>"


class Client(Connection):
    """An outgoing connection made by a :class:`Connector`. Twisted: ``tcp.Client``."""

    _tlsClientDefault = True

    def __init__(self, connector: Connector) -> None:
        super().__init__(connector.reactor)
        self.connector = connector
        self.addr = (connector.host, connector.port)
        self._task: asyncio.Task[Any] | None = None
        self._destination: tuple[str, int] | None = None
        self._failed = False
        self.reactor._connecting.add(self)
        self.reactor._getLoop().call_soon(self._begin)

    def _begin(self) -> None:
        if self._failed:
            return
        self._task = asyncio.ensure_future(self._attempt(), loop=self.reactor._getLoop())

    async def _attempt(self) -> None:
        loop = self.reactor._getLoop()
        sock: socket.socket | None = None
        try:
            sock = await self._connectSocket(loop)
            owned, sock = sock, None
            await self._makeTransport(loop, owned)
        except asyncio.CancelledError:
            if sock is not None:
                sock.close()
        except Exception as e:
            if sock is not None:
                sock.close()
            if isinstance(e, OSError) and not isinstance(e, (error.DNSLookupError, ssl.SSLError)):
                e = _connectError(e)
            try:
                self.reactor._dispatch(self.failIfNotConnected, e)
            except Exception:
                log.err(None, "Unhandled error in clientConnectionFailed")

    async def _connectSocket(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        """Resolve, create, bind and connect the socket (closed on failure)."""
        connector = self.connector
        host, port = connector.host, connector.port
        if isIPv6Address(host):
            family, address = socket.AF_INET6, host
        elif isIPv4Address(host):
            family, address = socket.AF_INET, host
        else:
            # Like Twisted's connectTCP, a host name resolves to IPv4.
            family, address = socket.AF_INET, await lookupIPv4(loop, host, port)
        self._destination = (address, port)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if connector.bindAddress is not None:
                try:
                    sock.bind(connector.bindAddress)
                except OSError as e:
                    raise error.ConnectBindError(e.errno, e.strerror) from None
            try:
                await loop.sock_connect(sock, (address, port))
            except OSError as e:
                raise _connectError(e) from None
        except BaseException:
            sock.close()
            raise
        return sock

    async def _makeTransport(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        """Wrap the connected ``sock`` in an asyncio transport driving ``self``.

        Subclasses (TLS) override this to add a handshake.
        """
        transport, _ = await loop.create_connection(lambda: self, sock=sock)
        forgetClosedSocket(loop, transport, sock)

    def _peerFallback(self) -> IPv4Address | IPv6Address | None:
        destination = self._destination
        if destination is None:
            return None
        return fromSockname(destination)

    def failIfNotConnected(self, err: BaseException) -> None:
        """Report ``err`` to the connector unless already connected.

        Twisted: ``tcp.BaseClient.failIfNotConnected``.
        """
        if self.connected or self._failed or self._lost:
            return
        self._failed = True
        self.reactor._connecting.discard(self)
        task = self._task
        if task is not None and not task.done() and task is not _currentTask():
            task.cancel()
        if self._t is not None:
            self._t.abort()
        self.connector.connectionFailed(Failure._withoutTraceback(err))

    def connection_made(self, transport: Any) -> None:
        self._t = transport
        self.reactor._connecting.discard(self)
        if self._failed:
            self._lost = True
            transport.abort()
            return
        connector = self.connector
        try:
            protocol = self.reactor._dispatch(connector.buildProtocol, self.getPeer())
        except Exception:
            failure = Failure()
            self._failed = True
            self._lost = True
            transport.abort()
            connector.connectionFailed(
                Failure._withoutTraceback(error.ConnectError(string=failure))
            )
            return
        self.logstr = f"{_prefix(protocol)},client"
        if protocol is None:
            from torsion.internet.protocol import Protocol

            protocol = Protocol()
            self._startProtocol(protocol)
            self.loseConnection()
            return
        try:
            self.reactor._dispatch(self._startProtocol, protocol)
        except Exception:
            self._protocolError()

    def _afterLost(self, reason: Failure) -> None:
        try:
            self.reactor._dispatch(self.connector.connectionLost, reason)
        except Exception:
            log.err(None, "Unhandled error in clientConnectionLost")

    def getDestination(self) -> IPv4Address:
        return IPv4Address("TCP", self.connector.host, self.connector.port)

    def __repr__(self) -> str:
        return f"<{self.__class__} to {self.addr} at {id(self):x}>"


def forgetClosedSocket(loop: Any, transport: Any, sock: socket.socket) -> None:
    """Detach ``sock`` if uvloop closed its fd before attaching it.

    uvloop's ``create_connection(sock=...)`` attaches the socket object to
    the transport only after ``connection_made`` returned.  When the
    protocol closed the transport in ``connectionMade``, libuv has already
    closed the fd and the object would close that fd number again when
    collected (by then possibly another file).  libuv owns the fd under
    uvloop in any case, so detaching is safe there; the stdlib loop closes
    the socket object itself and is left alone.
    """
    if transport.is_closing() and not isinstance(loop, asyncio.BaseEventLoop):
        sock.detach()


def _connectError(e: OSError) -> error.ConnectError:
    """Map a connect failure, with the plain errno text (not asyncio's wording)."""
    if e.errno:
        return error.getConnectError((e.errno, os.strerror(e.errno)))
    return error.ConnectError(string=str(e))


def _currentTask() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


# Both are public as torsion.internet.tcp.Server/Client (as in Twisted), and
# their reprs, which programs print, name that module.
Server.__module__ = Client.__module__ = "torsion.internet.tcp"
