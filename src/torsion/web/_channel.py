"""The HTTP/1.1 server connection. Twisted: ``twisted.web.http.HTTPChannel``.

Requests on one connection are answered strictly in order: a request is
*processed* (``process()`` called) only once every earlier response has
finished.  Later requests are parsed as they arrive and wait in
``self.requests``; past a bound on their number or buffered body bytes the
channel stops reading the socket (CVE-2023-46137, CVE-2024-41671).

Timeouts, both on the injected clock: an idle timeout (no bytes read or
written for ``timeOut`` seconds) and an absolute deadline for receiving a
request head (``headerTimeout`` seconds from its first byte, answered with
408), which a client dripping one byte at a time cannot extend.
"""

from __future__ import annotations

from typing import Any

from torsion.internet import protocol
from torsion.internet.base import secondsFunction
from torsion.python import log
from torsion.python.failure import Failure
from torsion.web._channelflow import _ERROR, _PIPELINE, _UPGRADE, ChannelFlow
from torsion.web._headers import Headers
from torsion.web._parser import HTTPParseError, RequestParser
from torsion.web._request import Request
from torsion.web._responses import RESPONSES

__all__ = ["HTTPChannel"]


_HTTP11 = b"HTTP/1.1"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _errorResponse(status: int) -> bytes:
    reason = RESPONSES.get(status, b"Error")
    body = b"%d %s\n" % (status, reason)
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
        % (
            status,
            reason,
            len(body),
        )
        + b"Connection: close\r\n\r\n"
        + body
    )


class HTTPChannel(ChannelFlow, protocol.Protocol):
    """An HTTP/1.0 and 1.1 server connection (keep-alive, pipelining, chunked).

    Twisted: ``twisted.web.http.HTTPChannel``.

    Attributes:
        requestFactory: the :class:`Request` class to build per request.
        requests: the requests received and not yet answered, in order.
        maxHeaders: header fields allowed per request (431 above).
        totalHeadersSize: bytes allowed for request line plus headers (431).
        maxBodySize: largest request body accepted (413 above), or None.
        timeOut: idle timeout in seconds, or None.
        headerTimeout: deadline for a whole request head in seconds, or None.
        maxPipelinedRequests: received-but-unanswered requests before
            reading pauses.
        maxPipelineBuffer: body bytes buffered for waiting requests before
            reading pauses.
    """

    requestFactory: Any = Request
    maxHeaders = 100
    totalHeadersSize = 16384
    maxBodySize: int | None = None
    timeOut: float | None = 60.0
    headerTimeout: float | None = 20.0
    maxPipelinedRequests = 16
    maxPipelineBuffer = 65536
    factory: Any = None

    _clock: Any = None
    _timer: Any = None
    _pullCall: Any = None
    _parser: Any = None
    _current: Any = None
    _reqProducer: Any = None
    _reqStreaming = False
    _rawReceiver: Any = None
    _rawLost: Any = None
    _upgradeData: list[bytes] | None = None
    _errorPending: HTTPParseError | None = None
    _headStart: float | None = None
    _closing = False
    _readFlags = 0
    _queuedBytes = 0
    _lost = False
    # Whether writeHeaders is ours: then Request.write may send a response's
    # head and its first body piece in one write (see __init_subclass__).
    _plainHead = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plainHead = cls.writeHeaders is HTTPChannel.writeHeaders

    def __init__(self) -> None:
        self.requests: list[Any] = []
        # Instance copies of the defaults read per request (cheaper on 3.11).
        self._current = None
        self._rawReceiver = None
        self._errorPending = None
        self._upgradeData = None
        self._headStart = None
        self._reqProducer = None
        self._closing = False
        self._readFlags = 0
        self._queuedBytes = 0
        self._lost = False

    # -- connection events -----------------------------------------------------------

    def connectionMade(self) -> None:
        self._parser = RequestParser(self, self.totalHeadersSize, self.maxHeaders, self.maxBodySize)
        clock = self._clock
        if clock is None:
            clock = getattr(self.factory, "_getReactor", None)
            clock = clock() if clock is not None else None
            if clock is None:
                from torsion.internet import reactor as clock
            self._clock = clock
        self._seconds = secondsFunction(clock)
        self._lastActivity = self._seconds()
        self.transport.registerProducer(self, True)
        self._scheduleTimer()

    def dataReceived(self, data: bytes) -> None:
        now = self._lastActivity = self._seconds()
        raw = self._rawReceiver
        if raw is not None:
            raw(data)
            return
        parser = self._parser
        if parser.upgraded or self._errorPending is not None or self._closing:
            if self._upgradeData is not None:
                self._bufferUpgrade(data)
            return
        try:
            parser.feed(data)
        except HTTPParseError as e:
            self._parseFailed(e)
            return
        if parser._headPending:
            if self._headStart is None and parser._rawHead:
                self._headStart = now
        else:
            self._headStart = None

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self._lost = True
        self._cancelTimers()
        lost = self._rawLost
        if lost is not None:
            self._rawLost = self._rawReceiver = None
            lost(reason)
        requests, self.requests = self.requests, []
        for req in requests:
            if not req.finished:
                req.connectionLost(reason)
        producer = self._reqProducer
        if producer is not None:
            self._reqProducer = None
            producer.stopProducing()

    # -- parser sink ------------------------------------------------------------------

    def headReceived(
        self,
        method: bytes,
        uri: bytes,
        version: bytes,
        headers: Headers,
        length: int | None,
        keepAlive: bool,
        upgrade: bool,
    ) -> None:
        req = self.requestFactory(self)
        req.requestHeaders = headers
        req.method = method
        req.uri = uri
        req.clientproto = version
        req._length = length
        req._received = False
        req._persistent = keepAlive and version == _HTTP11
        req._upgrade = upgrade
        raw = headers._rawHeaders
        if (
            b"expect" in raw
            and version == _HTTP11
            and length != 0
            and raw[b"expect"][-1].lower() == b"100-continue"
        ):
            req._expect100 = True
        if not req._streamBody:
            req.gotLength(length)
        self._current = req
        self._headStart = None
        requests = self.requests
        requests.append(req)
        if len(requests) == 1:
            self._startHead()
        elif len(requests) > self.maxPipelinedRequests:
            self._pauseReading(_PIPELINE)

    def bodyReceived(self, data: bytes) -> None:
        req = self._current
        if req._started:
            req.handleContentChunk(data)
            return
        if req._streamBody:
            if req._early is None:
                req._early = []
            req._early.append(data)
        else:
            req.handleContentChunk(data)
        if self.requests[0] is not req:
            req._buffered += len(data)
            self._queuedBytes += len(data)
            if self._queuedBytes > self.maxPipelineBuffer:
                self._pauseReading(_PIPELINE)

    def messageComplete(self) -> None:
        req = self._current
        req._received = True
        if req._started:
            if req._streamBody:
                req._streamEnded()
        elif self.requests and self.requests[0] is req:
            self._startHead()

    def upgradeReceived(self, rest: bytes) -> None:
        self._upgradeData = []
        self._bufferUpgrade(rest)

    def _bufferUpgrade(self, data: bytes) -> None:
        assert self._upgradeData is not None
        if data:
            self._upgradeData.append(data)
            if sum(map(len, self._upgradeData)) > self.maxPipelineBuffer:
                self._pauseReading(_UPGRADE)

    # -- processing, in order -----------------------------------------------------------

    def _startHead(self) -> None:
        """Process the first waiting request if it is ready."""
        req = self.requests[0]
        if req._buffered:
            self._queuedBytes -= req._buffered
            req._buffered = 0
        if req._started or not (req._received or req._streamBody):
            if req._expect100 and not req._received:
                req._expect100 = False
                self.transport.write(_CONTINUE)
            return
        req._started = True
        early = req._early
        try:
            req.requestReceived(req.method, req.uri, req.clientproto)
            if req._streamBody and not req.finished and not req._disconnected:
                if req._expect100 and not req._received:
                    req._expect100 = False
                    self.transport.write(_CONTINUE)
                if early:
                    req._early = None
                    for chunk in early:
                        req.handleContentChunk(chunk)
                if req._received:
                    req._streamEnded()
        except Exception:
            req.processingFailed(Failure())

    def requestDone(self, request: Any) -> None:
        """The first request's response is complete. Twisted: ``requestDone``."""
        requests = self.requests
        if not requests or requests[0] is not request:
            raise TypeError("requestDone called for a request that is not the first")
        del requests[0]
        if request._early is not None:
            request._early = None
        if self._lost:
            return
        if not (request._persistent and request._received) or (
            request._upgrade and self._rawReceiver is None
        ):
            self._closeAfterWrites()
            return
        if requests:
            self._startHead()
        elif self._errorPending is not None:
            self._sendError(self._errorPending)
            return
        if self._readFlags & _PIPELINE and (
            len(requests) <= self.maxPipelinedRequests
            and self._queuedBytes <= self.maxPipelineBuffer
        ):
            self._resumeReading(_PIPELINE)

    def _parseFailed(self, e: HTTPParseError) -> None:
        log.msg(f"Rejecting request from {self._peerText()}: {e.status} {e.reason}")
        req = self._current
        if req is not None and not req._received and req in self.requests:
            # The error is in this request's body: it never completes.
            if self.requests[0] is req and req._started:
                started = req.startedWriting
                self.requests.remove(req)
                req.connectionLost(Failure(e))
                if started:
                    self._closeAfterWrites()
                    return
            else:
                self.requests.remove(req)
                self._queuedBytes -= req._buffered
                req.connectionLost(Failure(e))
        self._errorPending = e
        self._pauseReading(_ERROR)
        if not self.requests:
            self._sendError(e)

    def _sendError(self, e: HTTPParseError) -> None:
        self.transport.write(_errorResponse(e.status))
        self._closeAfterWrites()

    def _closeAfterWrites(self) -> None:
        self._closing = True
        self._cancelTimers()
        transport = self.transport
        if getattr(transport, "producer", None) is self:
            transport.unregisterProducer()
        transport.loseConnection()

    # -- writing -----------------------------------------------------------------------

    def writeHeaders(self, version: bytes, code: bytes, reason: bytes, headers: Headers) -> None:
        """Send a response head. Twisted: ``HTTPChannel.writeHeaders``."""
        self.write(self._head(version, code, reason, headers))

    def _head(self, version: bytes, code: bytes, reason: bytes, headers: Headers) -> bytes:
        """The response head :meth:`writeHeaders` sends (``Connection`` settled)."""
        req = self.requests[0] if self.requests else None
        if req is not None:
            raw = headers._rawHeaders
            conn = raw.get(b"connection")
            # find(), not `in`: CPython 3.11's `bytes in bytes` first formats and drops a TypeError
            if conn is not None and any(v.lower().find(b"close") >= 0 for v in conn):
                req._persistent = False
            elif not req._persistent and version == _HTTP11 and not req._upgrade:
                raw[b"connection"] = [b"close"]
        out = [b" ".join((version, code, reason))]
        headers._encode(out)
        out.append(b"\r\n")  # joined: the last field's CRLF, then the empty line
        return b"\r\n".join(out)

    def write(self, data: bytes) -> None:
        """Send raw bytes to the client."""
        self._lastActivity = self._seconds()
        self.transport.write(data)

    def writeSequence(self, seq: Any) -> None:
        self.write(b"".join(seq))

    def loseConnection(self) -> None:
        """Close once written data is sent."""
        self._closeAfterWrites()

    def getPeer(self) -> Any:
        return self.transport.getPeer()

    def getHost(self) -> Any:
        return self.transport.getHost()

    def _peerText(self) -> str:
        try:
            peer = self.transport.getPeer()
            return f"{peer.host}:{peer.port}"
        except Exception:
            return "?"

    # -- taking over the connection (CONNECT, Upgrade) -------------------------------------

    def _takeOver(self, receiver: Any, lost: Any) -> bytes:
        """Hand the raw connection to a tunnel; return bytes already received.

        After this, ``receiver(data)`` gets every byte from the client and
        ``lost(reason)`` the end of the connection.  The channel stops being
        the transport's producer so the tunnel can register its own.
        """
        self._rawReceiver = receiver
        self._rawLost = lost
        self._cancelTimers()
        data = b"".join(self._upgradeData or ())
        self._upgradeData = None
        self.transport.unregisterProducer()
        self._readFlags = 0
        self.transport.resumeProducing()
        return data

    # -- timeouts ---------------------------------------------------------------------------

    def _scheduleTimer(self) -> None:
        delays = [t for t in (self.timeOut, self.headerTimeout) if t is not None]
        if delays:
            self._timer = self._clock.callLater(min(delays), self._onTimer)

    def _cancelTimers(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            if timer.active():
                timer.cancel()
        if self._pullCall is not None and self._pullCall.active():
            self._pullCall.cancel()
        self._pullCall = None

    def _onTimer(self) -> None:
        self._timer = None
        if self._lost or self._closing:
            return
        now = self._seconds()
        next_: list[float] = []
        headStart = self._headStart
        if self.headerTimeout is not None and headStart is not None and not self._readFlags:
            deadline = headStart + self.headerTimeout
            if now >= deadline:
                log.msg(f"Request head from {self._peerText()} took too long; closing")
                if self.requests:
                    self._closeAfterWrites()
                else:
                    self._sendError(HTTPParseError(408, "request head deadline"))
                return
            next_.append(deadline)
        if self.timeOut is not None:
            deadline = self._lastActivity + self.timeOut
            if now >= deadline and self._rawReceiver is None:
                self.timeoutConnection()
                return
            next_.append(deadline)
        if self.headerTimeout is not None:
            next_.append(now + self.headerTimeout)
        self._timer = self._clock.callLater(max(min(next_) - now, 0.001), self._onTimer)

    def timeoutConnection(self) -> None:
        """The idle timeout expired. Twisted: ``HTTPChannel.timeoutConnection``."""
        log.msg(f"Timing out client: {self._peerText()}")
        self._closeAfterWrites()
