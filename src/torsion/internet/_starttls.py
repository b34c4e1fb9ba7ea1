"""STARTTLS: TLS layered over a live TCP or UNIX connection.

Twisted: ``ITLSTransport.startTLS``.  Unlike ``listenSSL``/``connectSSL``
connections (:mod:`torsion.internet._tlssocket`), the connection already
has an asyncio transport, so the loop's ``start_tls`` takes it over and
runs TLS in its own layer.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from typing import Any

from torsion.internet import error
from torsion.internet._pending import PendingTransport
from torsion.internet._tls import (
    HANDSHAKE_TIMEOUT,
    SHUTDOWN_TIMEOUT,
    _handshakeError,
    contextFor,
)
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["startTLS"]


def _timeouts(loop: Any, handshake: float, shutdown: float) -> dict[str, float]:
    kwargs = {"ssl_handshake_timeout": handshake}
    # The stdlib loop takes ssl_shutdown_timeout from Python 3.11 on; uvloop always.
    if sys.version_info >= (3, 11) or not isinstance(loop, asyncio.BaseEventLoop):
        kwargs["ssl_shutdown_timeout"] = shutdown
    return kwargs


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
