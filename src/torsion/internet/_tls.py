"""TLS transports: ``listenSSL``, ``connectSSL`` and STARTTLS.

Twisted: ``twisted.internet.ssl`` (``Port``, ``Client``, ``Connector``) and
``twisted.internet._newtls``.  Twisted runs TLS in Python over a pyOpenSSL
memory BIO; torsion hands the asyncio loop an ``ssl.SSLContext`` instead
(``create_server(ssl=...)``, ``create_connection(ssl=...)``,
``loop.start_tls``), so the loop's own TLS layer (C code under uvloop) does
the work and :class:`torsion.internet._stream.Connection` is the transport
as for TCP.

Consequences (listed in docs/compat.md): ``connectionMade`` runs once the
handshake has completed; a failed client handshake reaches
``clientConnectionFailed`` (not ``connectionLost``); a failed server
handshake builds no protocol at all.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from typing import Any

from torsion.internet import error, tcp
from torsion.internet._pending import PendingTransport
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "SHUTDOWN_TIMEOUT",
    "Client",
    "Connector",
    "Port",
    "ReactorSSLMixin",
    "Server",
    "contextFor",
    "startTLS",
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


def _timeouts(loop: Any, handshake: float, shutdown: float) -> dict[str, float]:
    kwargs = {"ssl_handshake_timeout": handshake}
    # The stdlib loop takes ssl_shutdown_timeout from Python 3.11 on; uvloop always.
    if sys.version_info >= (3, 11) or not isinstance(loop, asyncio.BaseEventLoop):
        kwargs["ssl_shutdown_timeout"] = shutdown
    return kwargs


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


_READ_BUFFER = 256 * 1024


class _BufferedReading(asyncio.BufferedProtocol):
    """Let the loop's TLS layer decrypt into one buffer per reactor.

    Given a plain protocol, asyncio's and uvloop's TLS layers read each
    chunk of plaintext into a new bytes object of their maximum read size
    (256 KiB); given a buffered protocol they decrypt into its buffer.  The
    buffer is shared by the reactor's TLS connections: the data is copied
    out in ``buffer_updated`` before any protocol code runs.
    """

    reactor: Any
    _readBuffer: Any = None

    def get_buffer(self, sizehint: int) -> Any:
        buffer = self._readBuffer
        if buffer is None:
            buffer = getattr(self.reactor, "_tlsReadBuffer", None)
            if buffer is None:
                buffer = self.reactor._tlsReadBuffer = memoryview(bytearray(_READ_BUFFER))
            self._readBuffer = buffer
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        # Copy out before protocol code runs: the buffer is shared.
        self.data_received(bytes(self._readBuffer[:nbytes]))  # type: ignore[attr-defined]


class Server(tcp.Server, _BufferedReading):
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

    def _buildServer(self) -> Server:
        return Server(self)

    def _serve(self, loop: Any, sock: socket.socket) -> Any:
        return loop.create_server(
            self._buildServer,
            sock=sock,
            backlog=self.backlog,
            ssl=self._context,
            **_timeouts(loop, self._handshakeTimeout, self._shutdownTimeout),
        )


class Client(tcp.Client, _BufferedReading):
    """An outgoing TLS connection. Twisted: ``ssl.Client``."""

    TLS = True
    connector: Connector

    async def _makeTransport(self, loop: Any, sock: socket.socket) -> None:
        connector = self.connector
        try:
            await loop.create_connection(
                lambda: self,
                sock=sock,
                ssl=connector._context,
                server_hostname=connector._hostname or connector.host,
                **_timeouts(loop, connector._handshakeTimeout, connector._shutdownTimeout),
            )
        except ssl.SSLError:
            raise
        except OSError as e:
            raise _handshakeError(e, connector._handshakeTimeout) from None


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


def startTLS(
    conn: Any,
    contextFactory: Any,
    normal: bool = True,
    handshakeTimeout: float = HANDSHAKE_TIMEOUT,
    shutdownTimeout: float = SHUTDOWN_TIMEOUT,
    onHandshake: Any = None,
) -> None:
    """Layer TLS over the live connection ``conn`` (STARTTLS).

    Bytes written before the call (including those still being coalesced)
    go out in plaintext first.  From the call on, reading from the plaintext
    transport stops (so no handshake bytes reach the protocol) and writes
    are kept in a :class:`PendingTransport` until ``loop.start_tls`` returns
    the TLS transport; they are then encrypted and sent in order.  A failed
    handshake closes the connection; ``connectionLost`` gets the TLS error.

    Args:
        conn: the connection.
        contextFactory: an ``ssl.SSLContext`` or an object with ``getContext()``.
        normal: True to take the TLS role matching the connection's (client
            for connections we made, server for accepted ones); False for
            the other one.
        handshakeTimeout: seconds the handshake may take.
        shutdownTimeout: seconds to wait for the peer's close_notify.
        onHandshake: called with no argument once the handshake succeeded.

    Raises:
        RuntimeError: if TLS is already active on the connection.
    """
    if conn.TLS:
        raise RuntimeError("TLS is already active on this connection")
    client = conn._tlsClientDefault if normal else not conn._tlsClientDefault
    context, hostname = contextFor(contextFactory, server=not client)
    if conn._lost or not conn.connected or conn._t is None:
        return
    if client and hostname is None:
        connector = getattr(conn, "connector", None)
        if connector is not None and not hasattr(connector, "address"):
            hostname = connector.host  # the name given to connectTCP
        else:
            hostname = getattr(conn.getPeer(), "host", None)  # None for UNIX sockets
    conn._flush()
    old = conn._t
    loop: Any = conn.reactor._getLoop()
    conn.TLS = True
    old.pause_reading()
    handshake: asyncio.Future[Any] | None = None

    def abort() -> None:
        # Before start_tls has run, cancelling keeps it from touching the
        # transport at all; later, it makes start_tls close it.
        if handshake is not None:
            handshake.cancel()
        old.abort()

    pending = PendingTransport(old, abort)
    conn._t = pending
    handshake = task = asyncio.ensure_future(
        loop.start_tls(
            old,
            conn,
            context,
            server_side=not client,
            server_hostname=hostname if client else None,
            **_timeouts(loop, handshakeTimeout, shutdownTimeout),
        ),
        loop=loop,
    )

    def finish(reason: BaseException) -> None:
        # asyncio's TLS layer does not report a connection lost during the
        # handshake to the application protocol: do it here, once.
        if not conn._lost:
            conn._connectionLost(conn._reason or Failure._withoutTraceback(reason))

    def started(task: asyncio.Future[Any]) -> None:
        new = None if task.cancelled() or task.exception() else task.result()
        if new is None:
            exc = None if task.cancelled() else task.exception()
            reason = _handshakeError(exc or ConnectionAbortedError(), handshakeTimeout)
            if not isinstance(reason, ssl.SSLError):
                reason = error.ConnectionLost(str(reason))
            if not conn._lost and conn._reason is None:
                conn._reason = Failure._withoutTraceback(reason)
            old.abort()
            loop.call_soon(finish, reason)
            return
        if conn._lost:
            new.abort()
            return
        conn._t = new
        try:
            pending.attach(new)
        except Exception:
            log.err(None, "Error sending data queued during the TLS handshake")
            new.abort()
            return
        if onHandshake is not None:
            try:
                conn.reactor._dispatch(onHandshake)
            except Exception:
                conn._protocolError()

    task.add_done_callback(started)


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
