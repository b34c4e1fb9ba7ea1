"""One HTTP request and its response. Twisted: ``twisted.web.http.Request``."""

from __future__ import annotations

import tempfile
import warnings
from io import BytesIO
from typing import IO, Any, AnyStr
from urllib.parse import parse_qs

from torsion.internet._defer import Deferred
from torsion.python import log
from torsion.python.failure import Failure
from torsion.web._headers import Headers
from torsion.web._responses import CODE_BYTES, NO_BODY_CODES, RESPONSES

_new = object.__new__

__all__ = ["Request"]

_QUEUED_SENTINEL = object()
_SPOOL_LIMIT = 100000
_FORM = b"application/x-www-form-urlencoded"


def _parseQS(data: bytes) -> dict[bytes, list[bytes]]:
    """Twisted's bytes ``parse_qs``: any byte value survives (latin-1 round trip)."""
    out: dict[bytes, list[bytes]] = {}
    text = data.decode("latin-1")
    for k, vs in parse_qs(text, keep_blank_values=True, encoding="latin-1").items():
        out[k.encode("latin-1")] = [v.encode("latin-1") for v in vs]
    return out


def _noWrite(data: bytes) -> None:
    """Body writes after a bodiless response head (HEAD, 204, 304) are dropped."""


class Request:
    """A request received on an :class:`HTTPChannel`, and its response.

    Twisted: ``twisted.web.http.Request``.  Subclass it and override
    :meth:`process`, then ``write()`` and ``finish()`` the response.

    Attributes:
        method: the request method, e.g. ``b"GET"``.
        uri: the request target as sent.
        path: ``uri`` without the query string.
        args: the query (and url-encoded form) arguments, name -> values.
        clientproto: ``b"HTTP/1.1"`` or ``b"HTTP/1.0"``.
        requestHeaders: the request's :class:`Headers`.
        responseHeaders: the response's :class:`Headers`.
        content: a file holding the request body (read from position 0).
        code: the response status code (200 until changed).
        code_message: its reason phrase.
        sentLength: body bytes written so far.
        finished: set once :meth:`finish` ran.
        channel: the :class:`HTTPChannel`, or None once disconnected.
    """

    producer: Any = None
    streamingProducer = False
    finished = 0
    startedWriting = 0
    chunked = 0
    sentLength = 0
    code = 200
    code_message = b"OK"
    method = b"(no method yet)"
    uri = b"(no uri yet)"
    path = b"(no path yet)"
    clientproto = b"(no clientproto yet)"
    content: IO[bytes] | None = None
    etag: bytes | None = None
    lastModified: Any = None
    queued = 0
    _disconnected = False
    #: When True the channel calls :meth:`process` as soon as the headers
    #: are in, and the body then arrives through :meth:`handleContentChunk`.
    _streamBody = False
    # Channel bookkeeping (set by HTTPChannel.headReceived).
    _length: int | None = 0
    _upgrade = False
    _persistent = True
    _received = True
    _started = False
    _early: list[bytes] | None = None
    _buffered = 0
    _expect100 = False

    def __init__(self, channel: Any, queued: Any = _QUEUED_SENTINEL) -> None:
        self.channel = channel
        # Instance copies of the defaults read most per request (cheaper to
        # read than class attributes on CPython 3.11).  The others stay class
        # defaults: past 30 attributes CPython 3.11 moves an instance's
        # attributes into a dict of its own, which made each request about
        # 10,000 instructions dearer (a proxied request sets about 30).
        self.finished = 0
        self.startedWriting = 0
        self.sentLength = 0
        self.code = 200
        self.code_message = b"OK"
        # (Headers.__init__ skipped: two Python calls less per request.)
        self.requestHeaders = headers = _new(Headers)
        headers._rawHeaders = {}
        self.responseHeaders = headers = _new(Headers)
        headers._rawHeaders = {}
        self.notifications: list[Deferred[None]] = []
        self.args: dict[bytes, list[bytes]] = {}
        self.cookies: list[bytes] = []
        self.transport = getattr(channel, "transport", None)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} at 0x{id(self):x} method={self.method.decode('latin-1')}"
            f" uri={self.uri.decode('latin-1')} clientproto="
            f"{self.clientproto.decode('latin-1')}>"
        )

    # -- receiving -------------------------------------------------------------

    def gotLength(self, length: int | None) -> None:
        """The body length is known (None: chunked). Twisted: ``Request.gotLength``."""
        if self._streamBody:
            return
        if length is not None and length < _SPOOL_LIMIT:
            self.content = BytesIO()
        else:
            self.content = tempfile.TemporaryFile()  # noqa: SIM115

    def handleContentChunk(self, data: bytes) -> None:
        """A piece of the body. Twisted: ``Request.handleContentChunk``."""
        if self.content is not None:
            self.content.write(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """The request is in: set the attributes and call :meth:`process`.

        Twisted: ``Request.requestReceived``.
        """
        content = self.content
        if content is not None:
            content.seek(0, 0)
        self.method, self.uri, self.clientproto = command, path, version
        # find(), not `in`: CPython 3.11's `bytes in bytes` first formats and drops a TypeError
        if path.find(b"?") >= 0:
            self.path, query = path.split(b"?", 1)
            self.args = _parseQS(query)
        else:
            self.path = path
        if content is not None and command == b"POST":
            ctype = self.requestHeaders._rawHeaders.get(b"content-type")
            if ctype and ctype[0].split(b";", 1)[0].strip().lower() == _FORM:
                try:
                    for k, v in _parseQS(content.read()).items():
                        self.args.setdefault(k, []).extend(v)
                finally:
                    content.seek(0, 0)
        self.process()

    def process(self) -> None:
        """Handle the request; override in a subclass. Twisted: ``Request.process``."""

    def _streamEnded(self) -> None:
        """The whole body arrived (requests with ``_streamBody`` only)."""

    # -- request information -----------------------------------------------------

    def getHeader(self, key: AnyStr) -> AnyStr | None:
        """The last value of request header ``key``. Twisted: ``Request.getHeader``."""
        values = self.requestHeaders.getRawHeaders(key)
        if values is not None:
            return values[-1]
        return None

    def getAllHeaders(self) -> dict[bytes, bytes]:
        """Request headers as a dict of lowercase name -> last value."""
        return {k: v[-1] for k, v in self.requestHeaders._rawHeaders.items()}

    def getClientAddress(self) -> Any:
        """The client's address. Twisted: ``Request.getClientAddress``."""
        return self.channel.getPeer() if self.channel is not None else None

    def getHost(self) -> Any:
        """The local address the request arrived on. Twisted: ``Request.getHost``."""
        return self.channel.getHost() if self.channel is not None else None

    def getRequestHostname(self) -> bytes:
        """The host name the client asked for (from ``Host``, without the port)."""
        host = self.getHeader(b"host")
        if host:
            if host.startswith(b"["):
                return host.split(b"]", 1)[0] + b"]"
            return host.rsplit(b":", 1)[0]
        addr = self.getHost()
        return str(getattr(addr, "host", "")).encode("ascii")

    def isSecure(self) -> bool:
        """Whether the request came over TLS. Twisted: ``Request.isSecure``."""
        return False

    # -- responding ----------------------------------------------------------------

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        """Set the status. Twisted: ``Request.setResponseCode``.

        Raises:
            TypeError: if ``code`` is not an int.
        """
        if not isinstance(code, int):
            raise TypeError(f"HTTP response code must be int, not {type(code)!r}")
        self.code = code
        if message is not None:
            if isinstance(message, str):
                message = message.encode("latin-1")
            self.code_message = message.replace(b"\r", b" ").replace(b"\n", b" ")
        else:
            self.code_message = RESPONSES.get(code, b"Unknown Status")

    def setHeader(self, name: str | bytes, value: str | bytes) -> None:
        """Set one response header value. Twisted: ``Request.setHeader``."""
        self.responseHeaders.setRawHeaders(name, [value])

    def write(self, data: bytes) -> None:
        """Send part of the body; the first call sends the status and headers.

        Twisted: ``Request.write``.  With HTTP/1.1 and no ``Content-Length``
        the body is sent chunked.

        Raises:
            RuntimeError: after :meth:`finish`.
        """
        if self.finished:
            raise RuntimeError("Request.write called on a request after Request.finish was called.")
        if self._disconnected:
            return
        head = b""
        if not self.startedWriting:
            self.startedWriting = 1
            headers = self.responseHeaders
            raw = headers._rawHeaders
            number = self.code
            proto = self.clientproto
            bodiless = number in NO_BODY_CODES or self.method == b"HEAD"
            if proto == b"HTTP/1.1" and not bodiless and b"content-length" not in raw:
                raw[b"transfer-encoding"] = [b"chunked"]
                self.chunked = 1
            if self.etag is not None:
                raw[b"etag"] = [self.etag]
            if self.cookies:
                raw[b"set-cookie"] = list(self.cookies)
            code = CODE_BYTES[number]
            channel = self.channel
            if getattr(channel, "_plainHead", False) and not bodiless:
                # The channel's own writeHeaders: the head goes out with the
                # first piece of the body, in one write (below).
                head = channel._head(proto, code, self.code_message, headers)
            else:
                channel.writeHeaders(proto, code, self.code_message, headers)
                if bodiless:
                    self.write = _noWrite  # type: ignore[method-assign]
                    return
        if data:
            self.sentLength += len(data)
            if self.chunked:
                data = b"%x\r\n%b\r\n" % (len(data), data)
            self.channel.write(head + data if head else data)
        elif head:
            self.channel.write(head)

    def writeSequence(self, seq: Any) -> None:
        """Write each piece of ``seq``."""
        for data in seq:
            self.write(data)

    def finish(self) -> None:
        """The response is complete. Twisted: ``Request.finish``.

        Raises:
            RuntimeError: if the connection was lost already.
        """
        if self._disconnected:
            raise RuntimeError(
                "Request.finish called on a request after its connection was lost; "
                "use Request.notifyFinish to keep track of this."
            )
        if self.finished:
            warnings.warn("Warning! request.finish called twice.", stacklevel=2)
            return
        if not self.startedWriting:
            if b"content-length" not in self.responseHeaders._rawHeaders and not (
                self.method == b"HEAD" or self.code in NO_BODY_CODES
            ):
                self.responseHeaders._rawHeaders[b"content-length"] = [b"0"]
            self.write(b"")
        if self.chunked:
            self.channel.write(b"0\r\n\r\n")
        self.finished = 1
        channel = self.channel
        factory = getattr(channel, "factory", None)
        if factory is not None:
            factory.log(self)
        self._cleanup()

    def _cleanup(self) -> None:
        channel = self.channel
        if channel is not None:
            channel.requestDone(self)
        content = self.content
        if content is not None:
            try:
                content.close()
            except OSError:
                pass
        notifications, self.notifications = self.notifications, []
        for d in notifications:
            d.callback(None)

    def notifyFinish(self) -> Deferred[None]:
        """A Deferred firing None when the response is done, or failing if the
        connection is lost first. Twisted: ``Request.notifyFinish``."""
        d: Deferred[None] = Deferred()
        self.notifications.append(d)
        return d

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Let ``producer`` feed the response body. Twisted: ``Request.registerProducer``.

        Raises:
            ValueError: if a producer is registered already.
        """
        if self.producer is not None:
            raise ValueError(
                f"registering producer {producer!r} before previous one "
                f"({self.producer!r}) was unregistered"
            )
        self.streamingProducer = streaming
        self.producer = producer
        if self.channel is not None:
            self.channel.registerProducer(producer, streaming)
        else:
            producer.stopProducing()

    def unregisterProducer(self) -> None:
        """Detach the producer. Twisted: ``Request.unregisterProducer``."""
        if self.channel is not None:
            self.channel.unregisterProducer()
        self.producer = None

    def loseConnection(self) -> None:
        """Close the connection after what was written."""
        if self.channel is not None:
            self.channel.loseConnection()

    def processingFailed(self, reason: Failure) -> None:
        """``process`` raised: log it and answer 500. Twisted: ``Request.processingFailed``."""
        log.err(reason, f"Error processing {self!r}")
        if not self.startedWriting and not self._disconnected:
            body = b"Processing Failed"
            self.setResponseCode(500)
            self.responseHeaders._rawHeaders = {
                b"content-type": [b"text/plain"],
                b"content-length": [b"%d" % len(body)],
                b"connection": [b"close"],
            }
            self.write(body)
        if not self.finished and not self._disconnected:
            self.finish()

    def connectionLost(self, reason: Failure) -> None:
        """The connection closed before the response finished.

        Twisted: ``Request.connectionLost``: ``notifyFinish`` Deferreds fail.
        """
        self._disconnected = True
        self.channel = None
        content = self.content
        if content is not None:
            try:
                content.close()
            except OSError:
                pass
        notifications, self.notifications = self.notifications, []
        for d in notifications:
            d.errback(reason)
