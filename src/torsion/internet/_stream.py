"""The stream transport shared by TCP, UNIX and TLS connections.

:class:`Connection` is two things at once: the ``asyncio.Protocol`` that the
event loop's transport drives, and the Twisted transport (``self.transport``
of the user's protocol).  asyncio events are translated into Twisted calls:

=====================  ==============================================
asyncio                Twisted
=====================  ==============================================
``connection_made``    ``buildProtocol`` + ``makeConnection``
``data_received``      ``dataReceived`` (the bound method, no extra frame)
``eof_received``       ``readConnectionLost`` (half-close) or close
``connection_lost``    ``connectionLost(Failure(...))`` exactly once
``pause_writing``      ``producer.pauseProducing()``
``resume_writing``     ``producer.resumeProducing()``
=====================  ==============================================

Writes made while torsion dispatches protocol code are collected and
flushed once when the dispatch ends; see :mod:`torsion.internet.asyncioreactor`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from typing import Any

from torsion._monomorphic import originalOf, ownCopies
from torsion.internet import error
from torsion.internet._streamextras import (
    FLUSH_COUNT,
    PRODUCER_FLUSH_BYTES,
    FlowControl,
    SocketInfo,
)
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["Connection", "prefixOf"]


def _done() -> Failure:
    return Failure._withoutTraceback(error.ConnectionDone())


def _lost() -> Failure:
    return Failure._withoutTraceback(error.ConnectionLost())


class Connection(FlowControl, SocketInfo, asyncio.BaseProtocol):
    """A TCP connection: Twisted's ``ITCPTransport`` over an asyncio transport.

    Twisted: ``twisted.internet.tcp.Connection``.

    Attributes:
        protocol: the user's protocol.
        connected: 1 while connected.
        disconnecting: set by :meth:`loseConnection`.
        disconnected: set once the connection is closed.
        producer: the registered producer, if any.
        streamingProducer: whether it is a push producer.
    """

    _t: Any = None
    protocol: Any = None
    producer: Any = None
    streamingProducer = False
    connected = 0
    disconnecting = False
    disconnected = 0
    logstr = "Uninitialized"
    TLS = False
    _tlsClientDefault = False
    #: Whether this class's ``write`` is Connection's own (see _writeSinkOwner).
    _plainWrite = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plainWrite = originalOf(cls.write) is Connection.write
        # Each connection class runs these with its own inline caches: a
        # proxy's server and client connections would otherwise keep
        # de-specializing each other's attribute reads (see _monomorphic).
        ownCopies(cls, _HOT_METHODS)

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.producer = None
        self._pending: list[bytes] = []
        self._pendingBytes = 0
        self._flushed = False
        # ``_pending`` itself while this connection collects the writes of
        # the current dispatch (and is writable), else None: write() then
        # only appends.  LineReceiver.sendLine and IntNStringReceiver's
        # sendString append to it directly (one call less per message), but
        # only when ``_writeSinkOwner`` is the transport they hold: not
        # through a wrapper that forwards attributes, nor when a subclass
        # has its own ``write``.
        self._writeSink: list[bytes] | None = None
        self._writeSinkOwner = self if self._plainWrite else None
        # Read by protocols once per message (LineReceiver checks
        # ``transport.disconnecting`` after every line): instance attributes
        # are cheaper to read than class attributes on CPython 3.11.
        self.connected = 0
        self.disconnecting = False
        self.disconnected = 0
        self._writable = False
        self._reason: Failure | None = None
        self._lost = False
        self._aborted = False
        self._writePaused = False
        self._producerPaused = False
        self._readPaused = False
        self._pullScheduled = False
        self._readDisconnected = False
        self._writeDisconnected = False
        self._peer: IPv4Address | IPv6Address | None = None
        self._host: IPv4Address | IPv6Address | None = None

    # -- asyncio.Protocol side ----------------------------------------------
    # (Connection derives from BaseProtocol, not Protocol, only so that the
    # TLS connections of _tls can also be buffered protocols: uvloop's TLS
    # layer takes the buffered path only for protocols that are not
    # asyncio.Protocol instances.)

    def _startProtocol(self, protocol: Any) -> None:
        """Attach ``protocol`` and run its ``makeConnection`` (in a dispatch)."""
        self.protocol = protocol
        self.connected = 1
        self._writable = True
        self.reactor._connections.add(self)
        protocol.makeConnection(self)

    def data_received(self, data: bytes) -> None:
        # The hot path.  While the protocol runs, ``reactor._dispatching`` is
        # this connection and ``_writeSink`` is ``_pending``, so every write of
        # its own only appends to it (see ``write``); they are handed
        # to the loop right here, as one write, when the protocol returns.
        # Writes to other transports go through the reactor's dirty list as
        # in any dispatch.
        reactor = self.reactor
        if reactor._dispatching:
            try:
                self.protocol.dataReceived(data)
            except Exception:
                self._protocolError()
            return
        reactor._dispatching = self
        if self._writable:
            self._writeSink = self._pending
        try:
            self.protocol.dataReceived(data)
        except Exception:
            self._protocolError()
        finally:
            reactor._dispatching = False
        self._writeSink = None
        pending = self._pending
        if pending:
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            pending.clear()
            if self._writable:
                # (No _flushed = True: that flag only matters inside _pull.)
                self._t.write(data)
        dirty = reactor._dirty
        while dirty:  # (reactor._flushDirty, inline: one call less per read)
            dirty.pop()._flush()

    def eof_received(self) -> bool:
        if self.TLS and not self.disconnecting and _eofWithoutCloseNotify(self._t):
            # Truncated TLS stream: no readConnectionLost; connection_lost
            # follows and _lostReason reports ConnectionLost.
            return False
        self._readDisconnected = True
        readLost = getattr(self.protocol, "readConnectionLost", None)
        if readLost is None or self._lost:
            # Not half-closeable: asyncio closes the transport after flushing,
            # and connection_lost reports ConnectionDone.
            self._writable = False
            return False
        try:
            self.reactor._dispatch(readLost)
        except Exception:
            self._protocolError()
            return True
        if self._writeDisconnected and not self._lost:
            self._writable = False
            self._t.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        reason = self._reason
        if reason is None:
            reason = self._lostReason(exc)
        self._connectionLost(reason)

    def _lostReason(self, exc: Exception | None) -> Failure:
        """The ``connectionLost`` reason for asyncio's ``connection_lost(exc)``."""
        if exc is None:
            if self.TLS and not self._readDisconnected and not self.disconnecting:
                # The TLS layer saw the TCP connection end without the peer's
                # close_notify: the data may have been cut short.
                return Failure._withoutTraceback(
                    error.ConnectionLost("TLS connection closed without close_notify")
                )
            return _done()
        if isinstance(exc, ssl.SSLError):
            return Failure._withoutTraceback(exc)
        return _lost()

    def _connectionLost(self, reason: Failure) -> None:
        self._lost = True
        self._writable = False
        self.connected = 0
        self.disconnected = 1
        self._pending = []
        self._writeSink = None
        self.reactor._connections.discard(self)
        dispatch = self.reactor._dispatch
        producer = self.producer
        if producer is not None:
            self.producer = None
            try:
                dispatch(producer.stopProducing)
            except Exception:
                log.err(None, "Error in producer.stopProducing on connection loss")
        protocol = self.protocol
        if protocol is not None:
            try:
                dispatch(protocol.connectionLost, reason)
            except Exception:
                log.err(None, f"Unhandled error in {protocol!r}.connectionLost")
        self._afterLost(reason)

    def _afterLost(self, reason: Failure) -> None:
        """Hook for clients: tell the connector."""

    def _protocolError(self) -> None:
        """Protocol code raised: log it and close with the exception as reason."""
        failure = Failure()
        log.err(failure)
        self._failConnection(failure)

    def _failConnection(self, reason: Failure) -> None:
        if self._lost or self._reason is not None:
            return
        self._reason = reason
        self._writable = False
        self._pending = []
        self._writeSink = None
        if self._t is not None:
            self._t.abort()

    def _shutdown(self) -> None:
        """Reactor shutdown: drop the connection and report ConnectionLost now."""
        if self._lost:
            return
        self._writable = False
        if self._t is not None:
            self._t.abort()
        self._connectionLost(self._reason or _lost())

    # -- writing -----------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data``. Twisted: ``ITransport.write``.

        Raises:
            TypeError: if ``data`` is not bytes.  Data written after the
                connection closed is silently dropped.
        """
        sink = self._writeSink
        if sink is not None and type(data) is bytes and len(sink) < FLUSH_COUNT:
            # Hot path: collecting this dispatch's writes, with room left.
            sink.append(data)
            return
        if type(data) is not bytes and not isinstance(data, bytes):
            raise TypeError("Data must be bytes")
        if not self._writable or not data:
            return
        if sink is not None:
            # A bytes subclass, or FLUSH_COUNT writes in this dispatch
            # already: the latter are handed over now.
            sink.append(data)
            if len(sink) > FLUSH_COUNT:
                self._flush()
            return
        reactor = self.reactor
        dispatching = reactor._dispatching
        if dispatching:
            pending = self._pending
            if not pending and dispatching is not self:
                # Not inside our own data_received (which flushes us itself).
                reactor._dirty.append(self)
            pending.append(data)
            if self.producer is None:
                if len(pending) > FLUSH_COUNT:
                    self._flush()
                else:
                    self._writeSink = pending
            else:
                # Paced by a producer: hand over every PRODUCER_FLUSH_BYTES,
                # so the loop's high-water mark pauses the producer in time
                # (small writes, like a response head and body, still go
                # out together).
                size = self._pendingBytes + len(data)
                self._pendingBytes = size
                if size >= PRODUCER_FLUSH_BYTES:
                    self._flush()
        else:
            self._t.write(data)

    def writeSequence(self, iovec: Any) -> None:
        """Send each bytes object of ``iovec``. Twisted: ``ITransport.writeSequence``."""
        chunks = list(iovec)
        for chunk in chunks:
            if not isinstance(chunk, bytes):
                raise TypeError("Data must be bytes")
        if chunks:
            self.write(b"".join(chunks))

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()  # (the same list is kept: no new one per flush)
        self._pendingBytes = 0
        self._writeSink = None
        if not self._writable:
            return
        self._flushed = True
        self._t.write(data)

    def doWrite(self) -> None:
        """Hand everything written so far to the event loop now.

        Twisted: ``FileDescriptor.doWrite``.
        """
        self._flush()

    def getBufferSize(self) -> int:
        """Bytes written but not yet sent (pending plus the loop's buffer)."""
        size = sum(map(len, self._pending))
        if self._t is not None and not self._lost:
            size += self._t.get_write_buffer_size()
        return size

    # -- closing -----------------------------------------------------------

    def loseConnection(self) -> None:
        """Close after everything written has been sent.

        Twisted: ``ITransport.loseConnection``.  A registered producer delays
        the close until it is unregistered.
        """
        if not self.connected or self.disconnecting or self._lost:
            return
        self.disconnecting = True
        if self.producer is not None:
            self._pauseReading()
            return
        self._closeNow()

    def _closeNow(self) -> None:
        self._flush()
        self._writable = False
        if self._t is not None and not self._lost:
            self._t.close()

    def abortConnection(self) -> None:
        """Close at once, discarding unsent data, with a TCP reset.

        Twisted: ``ITCPTransport.abortConnection``; ``connectionLost`` gets
        ``ConnectionAborted``.
        """
        if self._lost or self._aborted:
            return
        self._aborted = True
        self.disconnecting = True
        if self._reason is None:
            self._reason = Failure._withoutTraceback(error.ConnectionAborted())
        self._writable = False
        self._pending = []
        self._writeSink = None
        sock = self._t.get_extra_info("socket") if self._t is not None else None
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        if self._t is not None:
            self._t.abort()

    def loseWriteConnection(self) -> None:
        """Half-close: send FIN after the pending data, keep reading.

        Twisted: ``ITCPTransport.loseWriteConnection``; a half-closeable
        protocol then gets ``writeConnectionLost()``.
        """
        if not self.connected or self._writeDisconnected or self._lost:
            return
        self._flush()
        self._writeDisconnected = True
        self._writable = False
        if self._t.can_write_eof():
            self._t.write_eof()
        self.reactor._getLoop().call_soon(self._writeConnectionLost)

    def _writeConnectionLost(self) -> None:
        if self._lost:
            return
        writeLost = getattr(self.protocol, "writeConnectionLost", None)
        if writeLost is not None:
            try:
                self.reactor._dispatch(writeLost)
            except Exception:
                self._protocolError()
                return
        if self._readDisconnected and not self._lost:
            self._t.close()

    def logPrefix(self) -> str:
        return str(self.logstr)


def _eofWithoutCloseNotify(transport: Any) -> bool:
    """Whether asyncio's own TLS layer is reporting a TCP EOF that came
    without the peer's close_notify.

    The stdlib's ``SSLProtocol`` (3.11+) calls ``eof_received`` both for a
    close_notify (while still in its WRAPPED state) and for a bare TCP EOF
    (after moving to SHUTDOWN).  uvloop's TLS layer calls ``connection_lost``
    without ``eof_received`` in the second case and hides its state, so
    this returns False there.
    """
    state = getattr(getattr(transport, "_ssl_protocol", None), "_state", None)
    return getattr(state, "name", None) == "SHUTDOWN"


def prefixOf(obj: Any) -> str:
    """``obj.logPrefix()``, or the class name when that is missing or broken."""
    logPrefix = getattr(obj, "logPrefix", None)
    if logPrefix is not None:
        try:
            return str(logPrefix())
        except Exception:
            pass
    return str(obj.__class__.__name__)


#: The per-message methods each Connection subclass gets its own copy of.
_HOT_METHODS = ("data_received", "write", "_flush")
