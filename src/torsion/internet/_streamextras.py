"""The parts of :class:`~torsion.internet._stream.Connection` off the hot path.

Two mixins, kept apart from the read/write path in ``_stream``:

* :class:`FlowControl`: producers and consumers.  Connection is a consumer
  (``registerProducer``) paced by the event loop's write-buffer marks
  (``pause_writing``/``resume_writing``), and a push producer itself
  (``pauseProducing`` stops reading from the peer).
* :class:`SocketInfo`: addresses, socket options and the TLS accessors.
"""

from __future__ import annotations

import socket
from typing import Any

from torsion.internet import error
from torsion.internet.address import IPv4Address, IPv6Address, fromSockname

__all__ = ["FLUSH_COUNT", "PRODUCER_FLUSH_BYTES", "FlowControl", "SocketInfo"]

#: Above this many writes pending inside one dispatch, they are handed to the
#: loop early, so a callback that writes in a long loop starts sending (and
#: meets the loop's flow control) before it returns.  Counting writes rather
#: than bytes keeps the hot path to an append and a length check.
FLUSH_COUNT = 128

#: With a producer registered, pending writes are handed over once they reach
#: this many bytes, so the loop's high-water mark (64 KiB) pauses the
#: producer about when Twisted's ``bufferSize`` rule would.
PRODUCER_FLUSH_BYTES = 16384


class FlowControl:
    """Producer/consumer support for :class:`~torsion.internet._stream.Connection`."""

    # Provided by Connection.
    reactor: Any
    _t: Any
    producer: Any
    streamingProducer: bool
    connected: int
    disconnecting: int
    _lost: bool
    _writePaused: bool
    _producerPaused: bool
    _readPaused: bool
    _pullScheduled: bool
    _flushed: bool
    _writeSink: list[bytes] | None
    _pending: list[bytes]

    def _protocolError(self) -> None:
        raise NotImplementedError

    def _closeNow(self) -> None:
        raise NotImplementedError

    def loseConnection(self) -> None:
        raise NotImplementedError

    def pause_writing(self) -> None:
        self._writePaused = True
        producer = self.producer
        if producer is not None and self.streamingProducer and not self._producerPaused:
            self._producerPaused = True
            self._callProducer(producer.pauseProducing)

    def resume_writing(self) -> None:
        self._writePaused = False
        producer = self.producer
        if producer is None:
            return
        if self.streamingProducer:
            if self._producerPaused:
                self._producerPaused = False
                self._callProducer(producer.resumeProducing)
        else:
            self._schedulePull()

    def _callProducer(self, method: Any) -> None:
        try:
            self.reactor._dispatch(method)
        except Exception:
            self._protocolError()

    # -- producers and consumers ---------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Let ``producer`` feed this transport, paced by its buffer.

        Twisted: ``IConsumer.registerProducer``.  A push producer
        (``streaming=True``) is paused above the high-water mark and resumed
        after the buffer drains; a pull producer is asked for data whenever
        there is room.

        Raises:
            RuntimeError: if a producer is registered already.
        """
        if self.producer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer!r}, because producer "
                f"{self.producer!r} was never unregistered."
            )
        if self._lost or not self.connected:
            producer.stopProducing()
            return
        self.producer = producer
        self.streamingProducer = bool(streaming)
        self._producerPaused = False
        # Later writes take write()'s byte-bounded path (see PRODUCER_FLUSH_BYTES).
        self._writeSink = None
        if not streaming:
            self._schedulePull()
        elif self._writePaused:
            self._producerPaused = True
            producer.pauseProducing()

    def unregisterProducer(self) -> None:
        """Detach the producer; a pending ``loseConnection`` proceeds.

        Twisted: ``IConsumer.unregisterProducer``.
        """
        self.producer = None
        self._producerPaused = False
        if self.connected and self.disconnecting and not self._lost:
            self._closeNow()

    def _schedulePull(self) -> None:
        if not self._pullScheduled:
            self._pullScheduled = True
            self.reactor._getLoop().call_soon(self._pull)

    def _pull(self) -> None:
        self._pullScheduled = False
        producer = self.producer
        if producer is None or self.streamingProducer or self._lost or self._writePaused:
            return
        reactor = self.reactor
        outer = reactor._dispatching
        reactor._dispatching = True
        self._flushed = False
        try:
            producer.resumeProducing()
        except Exception:
            self._protocolError()
        finally:
            if not outer:
                reactor._dispatching = False
        wrote = self._flushed or bool(self._pending)
        if not outer and reactor._dirty:
            reactor._flushDirty()
        if wrote and self.producer is producer and not self._writePaused:
            self._schedulePull()

    def pauseProducing(self) -> None:
        """Stop reading from the peer. Twisted: ``IPushProducer.pauseProducing``."""
        self._pauseReading()

    def resumeProducing(self) -> None:
        """Read from the peer again. Twisted: ``IPushProducer.resumeProducing``."""
        if self.connected and not self.disconnecting and self._readPaused and not self._lost:
            self._readPaused = False
            self._t.resume_reading()

    def stopProducing(self) -> None:
        """Close the connection. Twisted: ``IPushProducer.stopProducing``."""
        self.loseConnection()

    def _pauseReading(self) -> None:
        if not self._readPaused and self._t is not None and not self._lost:
            self._readPaused = True
            try:
                self._t.pause_reading()
            except RuntimeError:
                pass

    # Twisted's FileDescriptor names for the same thing.
    stopReading = _pauseReading

    def startReading(self) -> None:
        self.resumeProducing()


class SocketInfo:
    """Addresses, socket options and TLS details of a connection."""

    _t: Any
    _peer: IPv4Address | IPv6Address | None
    _host: IPv4Address | IPv6Address | None

    # -- addresses and socket options ----------------------------------------

    def getPeer(self) -> IPv4Address | IPv6Address:
        """The remote address. Twisted: ``ITransport.getPeer``."""
        if self._peer is None:
            peername = self._t.get_extra_info("peername")
            peer = self._peerFallback() if peername is None else fromSockname(peername)
            if peer is None:
                raise error.ConnectionLost("the peer address is no longer available")
            self._peer = peer
        return self._peer

    def _peerFallback(self) -> IPv4Address | IPv6Address | None:
        """The peer address when the socket can no longer tell (reset early)."""
        return None

    def getHost(self) -> IPv4Address | IPv6Address:
        """The local address. Twisted: ``ITransport.getHost``."""
        if self._host is None:
            self._host = fromSockname(self._t.get_extra_info("sockname"))
        return self._host

    def getHandle(self) -> Any:
        """The socket (a socket-like object under uvloop)."""
        return self._t.get_extra_info("socket")

    def _sockopt(self, level: int, option: int, value: int | None = None) -> int:
        sock = self.getHandle()
        if sock is None:
            raise error.ConnectionClosed()
        if value is None:
            return int(sock.getsockopt(level, option))
        sock.setsockopt(level, option, value)
        return value

    def getTcpNoDelay(self) -> bool:
        """Whether Nagle's algorithm is off. Twisted: ``getTcpNoDelay``."""
        return bool(self._sockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    def setTcpNoDelay(self, enabled: bool) -> None:
        """Turn Nagle's algorithm off (True) or on. Twisted: ``setTcpNoDelay``."""
        self._sockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(bool(enabled)))

    def getTcpKeepAlive(self) -> bool:
        """Whether SO_KEEPALIVE is set. Twisted: ``getTcpKeepAlive``."""
        return bool(self._sockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))

    def setTcpKeepAlive(self, enabled: bool) -> None:
        """Set SO_KEEPALIVE. Twisted: ``setTcpKeepAlive``."""
        self._sockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, int(bool(enabled)))

    # -- TLS (ITLSTransport, ISSLTransport) ----------------------------------

    def startTLS(self, contextFactory: Any, normal: bool = True) -> None:
        """Switch this connection to TLS (STARTTLS).

        Twisted: ``ITLSTransport.startTLS``.  Bytes written before the call
        are sent in plaintext first; bytes written after it are encrypted.
        See :func:`torsion.internet._starttls.startTLS`.
        """
        from torsion.internet._starttls import startTLS

        startTLS(self, contextFactory, normal)

    def getPeerCertificate(self) -> Any:
        """The peer's certificate as a dict (``SSLObject.getpeercert()``), or None.

        Twisted: ``ISSLTransport.getPeerCertificate`` (which returns a
        pyOpenSSL ``X509``).
        """
        sslObject = self._t.get_extra_info("ssl_object") if self._t is not None else None
        return None if sslObject is None else sslObject.getpeercert()

    @property
    def negotiatedProtocol(self) -> bytes | None:
        """The ALPN protocol agreed with the peer. Twisted: ``INegotiated``."""
        sslObject = self._t.get_extra_info("ssl_object") if self._t is not None else None
        if sslObject is None:
            return None
        selected = sslObject.selected_alpn_protocol()
        return None if selected is None else selected.encode("ascii")
