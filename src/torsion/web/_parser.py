"""Sans-IO HTTP/1.1 message parsing: llhttp (through httptools) plus our checks.

llhttp in its default strict mode already rejects most framing tricks (a
second ``Content-Length``, ``Content-Length`` with ``Transfer-Encoding``,
obs-fold, bare CR or LF, whitespace before a colon, bad chunk sizes, control
characters in the request line).  On top of it we reject, never guess:

* any ``Transfer-Encoding`` other than exactly one ``chunked`` (any case);
* ``Transfer-Encoding`` in an HTTP/1.0 message;
* a ``Content-Length`` that is not plain digits, or a second one;
* more than one ``Host``;
* HTTP/0.9 (400) and HTTP/2+ request lines (505);
* a request line plus headers above the size limit (431), too many headers
  (431), a body above the configured limit (413), oversized trailers (431).

The parsers do no I/O and keep no clock: they call methods of a *sink*
object.  A :class:`HTTPParseError` carries the status code to answer with.
After an error a parser is dead; build a new one for a new connection.
"""

from __future__ import annotations

from typing import Any

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpRequestParser,
    HttpResponseParser,
)

from torsion._monomorphic import ownCopies
from torsion.web._headers import Headers

__all__ = ["HTTPParseError", "RequestParser", "ResponseParser"]

_CL = b"content-length"
_TE = b"transfer-encoding"
_HOST = b"host"
_MAX_CL_DIGITS = 18
_VERSIONS = {"1.1": b"HTTP/1.1", "1.0": b"HTTP/1.0"}
_HTTP11 = _VERSIONS["1.1"]
_new = object.__new__


class HTTPParseError(Exception):
    """A message that must be refused.

    Attributes:
        status: the HTTP status code to answer with (400, 413, 431, 505, or
            502 for a bad upstream response).
        reason: a short human-readable explanation (for logs).
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


def _translate(e: Exception, default: int) -> Exception:
    """Map an httptools exception to ours (or to the sink's own exception)."""
    if isinstance(e, HttpParserCallbackError):
        ctx = e.__context__
        if isinstance(ctx, Exception):
            return ctx
    return HTTPParseError(default, str(e) or type(e).__name__)


class _Base:
    """Header bookkeeping shared by both directions."""

    _parser: Any

    def __init__(self, sink: Any, maxHeaderBytes: int, maxHeaders: int) -> None:
        self.sink = sink
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaders = maxHeaders
        self._dead = False
        # Whether on_header must add up field sizes: only when the bytes fed
        # could exceed maxHeaderBytes (see _feed), and always after a head.
        self._countSize = True
        self._reset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The request and response parsers run these per message: each gets
        # its own inline caches (see torsion._monomorphic).
        ownCopies(cls, ("on_header", "_countFields", "_endHead", "_feed", "_resetState"))

    def _reset(self) -> None:
        self._resetState()

    def _resetState(self) -> None:
        # (Headers.__init__ skipped: one Python call less per message.)
        self._headers = headers = _new(Headers)
        self._raw: dict[bytes, list[bytes]] = {}
        headers._rawHeaders = self._raw
        self._size = 0
        self._length: int | None = None
        self._chunked = False
        self._headPending = True
        self._rawHead = 0
        self._repeated = False  # some field name came more than once

    def on_header(self, name: bytes, value: bytes) -> None:
        # Hot path (one call from llhttp per field).  llhttp (strict) has
        # already refused CR, LF and NUL in values and bad characters in
        # names.  The size is checked here when the data fed could exceed
        # the limit; the field count and the framing fields when the head
        # (or the trailer section) is complete: the size limit already
        # bounds the memory in between.
        if self._countSize:
            self._size = size = self._size + len(name) + len(value) + 4
            if size > self.maxHeaderBytes:
                raise HTTPParseError(431, "header section too large")
        key = name.lower()
        raw = self._raw
        # (`in` and a subscript, not raw.get(): no method call per field.)
        if key in raw:
            raw[key].append(value)
            self._repeated = True
        else:
            raw[key] = [value]

    def _countFields(self, raw: dict[bytes, list[bytes]]) -> None:
        # One value per name unless a name came again (then add them up).
        if len(raw) > self.maxHeaders or (
            self._repeated and sum(map(len, raw.values())) > self.maxHeaders
        ):
            raise HTTPParseError(431, "too many header fields")

    def _endHead(self, version: str) -> bytes:
        """The head is complete: check its field count, framing fields and version.

        Returns the version bytes.  Fields after this are trailers (counted
        in full, then dropped).
        """
        raw = self._raw
        if len(raw) > self.maxHeaders or self._repeated:
            self._countFields(raw)
        values = raw.get(_CL)
        if values is not None:
            value = values[0]
            if len(values) > 1 or not value.isdigit() or len(value) > _MAX_CL_DIGITS:
                raise HTTPParseError(400, "bad or repeated Content-Length")
            self._length = int(value)
        if _TE in raw:
            values = raw[_TE]
            if len(values) > 1 or values[0].strip(b" \t").lower() != b"chunked":
                raise HTTPParseError(400, "Transfer-Encoding other than a single chunked")
            self._chunked = True
        if _HOST in raw and len(raw[_HOST]) > 1:
            raise HTTPParseError(400, "repeated Host")
        if self._chunked:
            if self._length is not None:
                raise HTTPParseError(400, "Content-Length with Transfer-Encoding")
            if version != "1.1":
                raise HTTPParseError(400, "Transfer-Encoding in an HTTP/1.0 message")
        self._raw = {}  # trailers land here and are dropped
        self._headPending = False
        self._countSize = True  # trailers (and a pipelined head) are counted
        if version == "1.1":  # (a str comparison: no hashing of a new str)
            return _HTTP11
        v = _VERSIONS.get(version)
        if v is None:
            if version.startswith("0."):
                raise HTTPParseError(400, "HTTP/0.9 is not supported")
            raise HTTPParseError(505, f"HTTP/{version} is not supported")
        return v

    def _feed(self, data: bytes, default: int) -> int:
        """Feed ``data``; return the offset of upgraded bytes, or -1."""
        if self._dead:
            raise HTTPParseError(default, "parser already failed")
        if self._headPending:
            # A head parsed during this call holds at most the bytes of it
            # fed before (_rawHead) plus these: when that cannot exceed the
            # limit, on_header need not add up field sizes.  (After a head,
            # trailers and pipelined heads are always counted.)
            before = self._rawHead
            self._rawHead = total = before + len(data)
            count = total > self.maxHeaderBytes
            if count and self._size < before:
                self._size = before  # this head so far: an upper bound
            self._countSize = count
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade as e:
            return int(e.args[0])
        except (HttpParserCallbackError, HttpParserError) as e:
            self._dead = True
            raise _translate(e, default) from None
        except BaseException:
            self._dead = True
            raise
        if self._headPending and self._rawHead > self.maxHeaderBytes:
            self._dead = True
            raise HTTPParseError(431, "header section too large")
        return -1


class RequestParser(_Base):
    """Strict HTTP/1.x request parser (server side).

    Sink methods, called synchronously from :meth:`feed`:

    * ``headReceived(method, uri, version, headers, length, keepAlive, upgrade)``
      where ``length`` is the body length (``None`` for chunked) and
      ``upgrade`` is true for CONNECT and ``Connection: upgrade`` requests;
    * ``bodyReceived(data)``, ``messageComplete()``;
    * ``upgradeReceived(rest)`` once, with the bytes that follow an upgrade
      request; the parser takes no more data after it.

    Args:
        sink: the object receiving the calls above.
        maxHeaderBytes: limit for the request line plus headers (431).
        maxHeaders: limit for the number of header fields (431).
        maxBodySize: limit for a request body, or None (413).
    """

    def __init__(
        self,
        sink: Any,
        maxHeaderBytes: int = 16384,
        maxHeaders: int = 100,
        maxBodySize: int | None = None,
    ) -> None:
        super().__init__(sink, maxHeaderBytes, maxHeaders)
        self.maxBodySize = maxBodySize
        self._parser = HttpRequestParser(self)
        self.upgraded = False

    def _reset(self) -> None:
        self._resetState()
        self._url = b""
        self._bodySize = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._size += len(url)
        if self._size > self.maxHeaderBytes:
            raise HTTPParseError(431, "request line too long")

    def on_headers_complete(self) -> None:
        parser = self._parser
        keepAlive = parser.should_keep_alive()
        # llhttp (strict) takes only versions 0.9, 1.0, 1.1 and 2.0, and keeps
        # a connection without a Connection field alive only for 1.1: then
        # the version need not be formatted (get_http_version uses
        # str.format; a test pins this against llhttp).
        if keepAlive and b"connection" not in self._raw:
            version = self._endHead("1.1")
        else:
            version = self._endHead(parser.get_http_version())
        length = None if self._chunked else (self._length or 0)
        limit = self.maxBodySize
        if limit is not None and length is not None and length > limit:
            raise HTTPParseError(413, "request body too large")
        self.sink.headReceived(
            parser.get_method(),
            self._url,
            version,
            self._headers,
            length,
            keepAlive,
            parser.should_upgrade(),
        )

    def on_body(self, data: bytes) -> None:
        if self._chunked and self.maxBodySize is not None:
            self._bodySize += len(data)
            if self._bodySize > self.maxBodySize:
                raise HTTPParseError(413, "request body too large")
        self.sink.bodyReceived(data)

    def on_message_complete(self) -> None:
        if self._raw:
            self._countFields(self._raw)  # the trailer section
        self._headPending = True
        self._rawHead = 0
        self.sink.messageComplete()
        # Ready for the next message (instead of an on_message_begin
        # callback from llhttp: one Python call less per message).
        self._reset()

    def feed(self, data: bytes) -> None:
        """Parse ``data``.

        Raises:
            HTTPParseError: the request is malformed or over a limit.
        """
        offset = self._feed(data, 400)
        if offset >= 0:
            self._dead = True
            self.upgraded = True
            self.sink.upgradeReceived(data[offset:])


class ResponseParser(_Base):
    """Strict HTTP/1.x response parser (client side, for upstream responses).

    Sink methods: ``statusReceived(version, code, reason, headers, length)``
    (``length``: body length, ``None`` for chunked, ``-1`` when the body ends
    with the connection), ``bodyReceived(data)``, ``messageComplete()``,
    ``upgradeReceived(rest)`` after a ``101``.  Interim (1xx other than 101)
    responses are reported like others; the sink decides.

    Call :meth:`expectNoBody` before feeding the response to a HEAD request,
    and :meth:`feedEOF` when the connection ends.
    """

    def __init__(self, sink: Any, maxHeaderBytes: int = 65536, maxHeaders: int = 200) -> None:
        super().__init__(sink, maxHeaderBytes, maxHeaders)
        self._parser = HttpResponseParser(self)
        self._noBody = False
        self._eofBody = False
        self.upgraded = False

    def expectNoBody(self) -> None:
        """The next response answers a HEAD request: it ends after its headers."""
        self._noBody = True

    def _reset(self) -> None:
        self._resetState()
        self._reason = b""

    def on_status(self, reason: bytes) -> None:
        self._reason += reason
        self._size += len(reason)

    def on_headers_complete(self) -> None:
        parser = self._parser
        version = self._endHead(parser.get_http_version())
        code = parser.get_status_code()
        if self._chunked:
            length: int | None = None
        elif self._length is not None:
            length = self._length
        elif code < 200 or code in (204, 304):
            length = 0
        else:
            length = -1
        self._eofBody = length == -1
        if self._noBody and code >= 200:
            self._noBody = False
            self.sink.statusReceived(version, code, self._reason, self._headers, 0)
            self._headPending = True
            self._rawHead = 0
            self.sink.messageComplete()
            raise _HeadDone()
        self.sink.statusReceived(version, code, self._reason, self._headers, length)

    def on_body(self, data: bytes) -> None:
        self.sink.bodyReceived(data)

    def on_message_complete(self) -> None:
        if self._raw:
            self._countFields(self._raw)  # the trailer section
        self._headPending = True
        self._rawHead = 0
        self._eofBody = False
        self.sink.messageComplete()
        self._reset()  # ready for the next message

    def feed(self, data: bytes) -> None:
        """Parse ``data``.

        Raises:
            HTTPParseError: (502) the response is malformed or over a limit.
        """
        try:
            offset = self._feed(data, 502)
        except _HeadDone:
            # A HEAD response ended at its headers; llhttp expected a body,
            # so continue with a fresh parser (nothing may follow).
            self._parser = HttpResponseParser(self)
            self._dead = False
            self._reset()
            return
        if offset >= 0:
            self._dead = True
            self.upgraded = True
            self.sink.upgradeReceived(data[offset:])

    def feedEOF(self) -> bool:
        """The connection ended: complete a close-delimited body.

        Returns:
            True if a response ended cleanly here (or none was in progress),
            False if the response was cut short.
        """
        if self._dead:
            return False
        if self._eofBody:
            self._eofBody = False
            self._dead = True
            self.sink.messageComplete()
            return True
        return self._headPending and self._rawHead == 0


class _HeadDone(Exception):
    """Internal: stop llhttp after the headers of a response to HEAD."""
