"""TLS transports: ``listenSSL``, ``connectSSL`` and STARTTLS.

Twisted: ``twisted.internet.ssl`` (``Port``, ``Client``, ``Connector``) and
``twisted.internet._newtls``.  Twisted runs TLS in Python over a pyOpenSSL
memory BIO.  torsion takes an ``ssl.SSLContext``: ``listenSSL`` and
``connectSSL`` connections run OpenSSL on the socket itself
(:mod:`torsion.internet._tlssocket`), STARTTLS uses the loop's
``start_tls``; either way :class:`torsion.internet._stream.Connection` is
the Twisted transport, as for TCP.

Consequences (listed in docs/compat.md): ``connectionMade`` runs once the
handshake has completed; a failed client handshake reaches
``clientConnectionFailed`` (not ``connectionLost``); a failed server
handshake builds no protocol at all.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

from torsion.internet import error, tcp
from torsion.internet._tlssocket import SocketTLSTransport, handshake, sharedReadBuffer
from torsion.python import log

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "Client",
    "Connector",
    "Port",
    "ReactorSSLMixin",
    "Server",
    "contextFor",
]

#: Seconds a TLS handshake may take before the connection is dropped.
HANDSHAKE_TIMEOUT = 60.0
#: Seconds to wait for the peer's close_notify before dropping the connection.
SHUTDOWN_TIMEOUT = 30.0


def contextFor(contextFactory: Any, server: bool) -> tuple[ssl.SSLContext, str | None]:
    """The ``ssl.SSLContext`` (and host name to verify) for one side.

    Args:
        contextFactory: an ``ssl.SSLContext``, or an object whose
            ``getContext()`` returns one (the options objects of
            :mod:`torsion.internet.ssl` also say which host name to verify).
        server: True for the accepting side.

    Raises:
        TypeError: for anything else (a pyOpenSSL context in particular).
        ValueError: for a context made for the other side.
    """
    hostname: str | None = None
    if isinstance(contextFactory, ssl.SSLContext):
        context = contextFactory
    else:
        side = "_serverContext" if server else "_clientContext"
        getContext = getattr(contextFactory, side, None) or getattr(
            contextFactory, "getContext", None
        )
        if getContext is None:
            raise TypeError(
                f"{contextFactory!r} is neither an ssl.SSLContext nor has a getContext() method"
            )
        context = getContext()
        if not isinstance(context, ssl.SSLContext):
            raise TypeError(
                f"{contextFactory!r}.getContext() returned {type(context).__name__}; "
                "torsion needs an ssl.SSLContext (pyOpenSSL contexts are not supported)"
            )
        hostname = getattr(contextFactory, "_hostname", None)
    wrong = ssl.PROTOCOL_TLS_CLIENT if server else ssl.PROTOCOL_TLS_SERVER
    if context.protocol == wrong:
        side = "server" if server else "client"
        other = "client" if server else "server"
        raise ValueError(f"a {other}-side SSLContext was given for the {side} side")
    return context, hostname


def _handshakeError(exc: BaseException, handshakeTimeout: float) -> BaseException:
    """A clear exception for a failed handshake (TLS errors are kept as they are)."""
    if isinstance(exc, type):
        exc = exc()
    if isinstance(exc, ssl.SSLError):
        return exc
    if isinstance(exc, (ConnectionAbortedError, asyncio.TimeoutError, TimeoutError)):
        return error.TimeoutError(
            string=f"TLS handshake did not complete within {handshakeTimeout} seconds"
        )
    return error.SSLError(string=f"connection lost during the TLS handshake ({exc!r})")


class Server(tcp.Server):
    """A TLS connection accepted by a :class:`Port`. Twisted: ``ssl.Server``."""

    TLS = True


class Port(tcp.Port):
    """A TLS listening port. Twisted: ``twisted.internet.ssl.Port``.

    Args:
        port: the port number (0 for ephemeral).
        factory: builds one protocol per connection (after the handshake).
        contextFactory: an ``ssl.SSLContext`` or an object with ``getContext()``.
        backlog: the listen queue size.
        interface: the local address.
        reactor: the reactor.
        handshakeTimeout: seconds a handshake may take.
        shutdownTimeout: seconds to wait for the peer's close_notify.
    """

    _kind = "TLS"

    def __init__(
        self,
        port: int | str,
        factory: Any,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
        reactor: Any = None,
        handshakeTimeout: float = HANDSHAKE_TIMEOUT,
        shutdownTimeout: float = SHUTDOWN_TIMEOUT,
    ) -> None:
        super().__init__(port, factory, backlog, interface, reactor)
        self.ctxFactory = contextFactory
        self._context, _ = contextFor(contextFactory, server=True)
        self._handshakeTimeout = handshakeTimeout
        self._shutdownTimeout = shutdownTimeout
        self._handshakes: set[asyncio.Future[None]] = set()

    def _buildServer(self) -> Server:
        return Server(self)

    async def _serve(self, loop: Any, sock: socket.socket) -> _Acceptor:
        acceptor = _Acceptor(loop, sock, self)
        acceptor.start()
        return acceptor

    def _close(self) -> bool:
        closing = super()._close()
        if closing:
            for task in list(self._handshakes):
                task.cancel()
        return closing

    async def _handshake(self, loop: Any, sock: socket.socket) -> None:
        """Complete the handshake of an accepted socket, then build the connection.

        A failed handshake (or one past the timeout) closes the socket
        quietly: no protocol is built for it.
        """
        try:
            tls = await handshake(loop, sock, self._context, True, None, self._handshakeTimeout)
        except (OSError, asyncio.TimeoutError):  # ssl.SSLError is an OSError
            return
        except Exception:
            log.err(None, f"TLS handshake failed on {self!r}")
            return
        transport = SocketTLSTransport(
            loop, tls, self._buildServer(), sharedReadBuffer(self.reactor), self._shutdownTimeout
        )
        transport.start()


class _Acceptor:
    """Accepts TCP connections for a TLS :class:`Port` (the loop only watches)."""

    def __init__(self, loop: Any, sock: socket.socket, port: Port) -> None:
        self._loop = loop
        self._sock = sock
        self._port = port
        self._fd = sock.fileno()
        self._active = False
        self._resumeCall: Any = None

    def start(self) -> None:
        self._active = True
        self._loop.add_reader(self._fd, self._accept)

    def close(self) -> None:
        if self._active:
            self._active = False
            self._loop.remove_reader(self._fd)
        if self._resumeCall is not None:
            self._resumeCall.cancel()
            self._resumeCall = None

    def _accept(self) -> None:
        port = self._port
        for _ in range(max(port.backlog, 1)):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # Out of file descriptors, typically: stop accepting for a
                # second instead of spinning (as asyncio's servers do).
                log.msg(f"Could not accept a connection on {port!r}: {e}")
                self._loop.remove_reader(self._fd)
                self._resumeCall = self._loop.call_later(1.0, self._resume)
                return
            conn.setblocking(False)
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            task = asyncio.ensure_future(port._handshake(self._loop, conn), loop=self._loop)
            port._handshakes.add(task)
            task.add_done_callback(port._handshakes.discard)

    def _resume(self) -> None:
        self._resumeCall = None
        if self._active:
            self._loop.add_reader(self._fd, self._accept)


class Client(tcp.Client):
    """An outgoing TLS connection. Twisted: ``ssl.Client``."""

    TLS = True
    connector: Connector

    async def _makeTransport(self, loop: Any, sock: socket.socket) -> None:
        connector = self.connector
        try:
            tls = await handshake(
                loop,
                sock,
                connector._context,
                False,
                connector._hostname or connector.host,
                connector._handshakeTimeout,
            )
        except ssl.SSLError:
            raise
        except (OSError, asyncio.TimeoutError) as e:
            raise _handshakeError(e, connector._handshakeTimeout) from None
        transport = SocketTLSTransport(
            loop, tls, self, sharedReadBuffer(self.reactor), connector._shutdownTimeout
        )
        transport.start()


class Connector(tcp.Connector):
    """Connects a client factory over TLS. Twisted: ``ssl.Connector``.

    The connector's ``timeout`` covers the TCP connection and the handshake
    (``buildProtocol`` runs once the handshake is done).
    """

    def __init__(
        self,
        host: str,
        port: int | str,
        factory: Any,
        contextFactory: Any,
        timeout: float | None,
        bindAddress: tuple[str, int] | None,
        reactor: Any,
        handshakeTimeout: float = HANDSHAKE_TIMEOUT,
        shutdownTimeout: float = SHUTDOWN_TIMEOUT,
    ) -> None:
        super().__init__(host, port, factory, timeout, bindAddress, reactor)
        self.contextFactory = contextFactory
        self._context, self._hostname = contextFor(contextFactory, server=False)
        self._handshakeTimeout = handshakeTimeout
        self._shutdownTimeout = shutdownTimeout

    def _makeTransport(self) -> Client:
        return Client(self)


class ReactorSSLMixin:
    """``IReactorSSL`` for :class:`torsion.internet.asyncioreactor.AsyncioReactor`."""

    def listenSSL(
        self,
        port: int,
        factory: Any,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
        *,
        handshakeTimeout: float = HANDSHAKE_TIMEOUT,
        shutdownTimeout: float = SHUTDOWN_TIMEOUT,
    ) -> Port:
        """Listen for TLS connections. Twisted: ``IReactorSSL.listenSSL``.

        Args:
            port: the port number (0 for an ephemeral port).
            factory: builds a protocol per connection, after the handshake.
            contextFactory: an ``ssl.SSLContext`` (server side) or an object
                whose ``getContext()`` returns one.
            backlog: the listen queue size.
            interface: the local address.
            handshakeTimeout: seconds a handshake may take (torsion only).
            shutdownTimeout: seconds to wait for the peer's close_notify
                after ``loseConnection`` (torsion only).

        Raises:
            CannotListenError: at once, if binding fails.
        """
        p = Port(
            port,
            factory,
            contextFactory,
            backlog,
            interface,
            self,
            handshakeTimeout,
            shutdownTimeout,
        )
        p.startListening()
        return p

    def connectSSL(
        self,
        host: str,
        port: int,
        factory: Any,
        contextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
        *,
        handshakeTimeout: float = HANDSHAKE_TIMEOUT,
        shutdownTimeout: float = SHUTDOWN_TIMEOUT,
    ) -> Connector:
        """Connect over TLS. Twisted: ``IReactorSSL.connectSSL``.

        The host name checked against the server's certificate is the one
        given to :func:`torsion.internet.ssl.optionsForClientTLS`, else
        ``host``; whether it is checked is up to the context
        (``check_hostname``).  A failed handshake or certificate check
        reaches ``clientConnectionFailed`` with the ``ssl.SSLError`` (e.g.
        ``ssl.SSLCertVerificationError``); a handshake that takes too long
        fails with ``TimeoutError``.
        """
        c = Connector(
            host,
            port,
            factory,
            contextFactory,
            timeout,
            bindAddress,
            self,
            handshakeTimeout,
            shutdownTimeout,
        )
        c.connect()
        return c
