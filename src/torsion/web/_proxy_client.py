"""The upstream side of the proxy: ``ProxyClient``, its factory and the pool.

One :class:`ProxyClient` is one upstream HTTP/1.1 connection.  It sends a
request, parses the response strictly and relays it to the ``father``
request through Twisted's hooks (``handleStatus``, ``handleHeader``,
``handleEndHeaders``, ``handleResponsePart``, ``handleResponseEnd``), then
goes back to the :class:`ConnectionPool` for the next request to the same
host and port.  The upstream transport is registered as the producer of the
client's response, so a slow client slows the origin instead of filling
memory.
"""

from __future__ import annotations

from typing import Any

from torsion.internet import error, protocol
from torsion.python import log
from torsion.python.failure import Failure
from torsion.web._parser import HTTPParseError, ResponseParser
from torsion.web._proxy_pool import ConnectionPool
from torsion.web._proxy_rewrite import responseHeaders
from torsion.web._responses import CODE_BYTES, CODE_INTS

__all__ = ["ConnectionPool", "ProxyClient", "ProxyClientFactory"]

_OVERWRITE = (b"server", b"date", b"content-type")


class ProxyClient(protocol.Protocol):
    """Sends one request upstream and relays the response to ``father``.

    Twisted: ``twisted.web.proxy.ProxyClient`` (which is an ``HTTPClient``).
    Differences: HTTP/1.1 with keep-alive (the connection is pooled), the
    body is streamed rather than passed whole as ``data`` (``data`` is still
    sent first when given), chunked responses are decoded, and hop-by-hop
    headers are dropped both ways.

    Args:
        command: the method.
        rest: the request target (path and query).
        version: the client's HTTP version (informational; upstream is 1.1).
        headers: request headers as a dict (Twisted) or prebuilt head bytes.
        data: body bytes to send first.
        father: the :class:`ProxyRequest` being answered.
    """

    _finished = False
    _pool: Any = None
    _key: Any = None
    _timer: Any = None
    _busy = False
    _reused = False
    _gotStatus = False
    _bodyChunked = False
    _upgraded = False
    _tunnel: Any = None
    _onLost: Any = None
    _idleSince = 0.0
    _code = 0
    _lastActivity = 0.0
    #: Whether handleHeader is ProxyClient's own (headers then move as a dict).
    _plainHeaders = True
    #: Whether handleEndHeaders is overridden (ProxyClient's does nothing).
    _endHook = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plainHeaders = cls.handleHeader is ProxyClient.handleHeader
        cls._endHook = cls.handleEndHeaders is not ProxyClient.handleEndHeaders
        if "bodyReceived" not in cls.__dict__:
            # The parser calls bodyReceived: straight to the Twisted hook.
            cls.bodyReceived = cls.handleResponsePart  # type: ignore[attr-defined]

    def __init__(
        self,
        command: bytes,
        rest: bytes,
        version: bytes,
        headers: Any,
        data: bytes,
        father: Any,
    ) -> None:
        # Instance copies of the defaults read per response (cheaper on 3.11);
        # the factory sets _pool and _key after this.
        self._pool = None
        self._key = None
        self._timer = None
        self._tunnel = None
        self._finished = False
        self._busy = False
        self._gotStatus = False
        self._upgraded = False
        self.father = father
        self.command = command
        self.rest = rest
        if isinstance(headers, dict):
            headers.pop(b"proxy-connection", None)
            headers.pop(b"keep-alive", None)
        self.headers = headers
        self.data = data
        self._parser = ResponseParser(self)

    # -- sending ----------------------------------------------------------------------

    def _head(self) -> bytes:
        headers = self.headers
        if isinstance(headers, bytes):
            return headers
        out = [self.command, b" ", self.rest, b" HTTP/1.1\r\n"]
        for name, value in headers.items():
            if name.lower() in (b"connection", b"content-length", b"transfer-encoding"):
                continue
            out.append(name + b": " + value + b"\r\n")
        out.append(b"Content-Length: %d\r\n\r\n" % len(self.data))
        return b"".join(out)

    def connectionMade(self) -> None:
        self._start()

    def _start(self) -> None:
        self._busy = True
        self._finished = False
        self._gotStatus = False
        father = self.father
        if self.command == b"HEAD":
            self._parser.expectNoBody()
        self._touch()
        self.transport.write(self._head())
        if self.data:
            self.transport.write(self.data)
        attach = getattr(father, "_upstreamReady", None)
        if attach is not None:
            attach(self)

    def sendBody(self, data: bytes, chunked: bool) -> None:
        """Forward a piece of the request body."""
        if chunked:
            self.transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self.transport.write(data)

    # -- receiving --------------------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        tunnel = self._tunnel
        if tunnel is not None:
            tunnel(data)
            return
        if not self._busy:
            # An idle pooled connection must stay silent.
            self.transport.abortConnection()
            return
        pool = self._pool
        if pool is not None:
            self._lastActivity = pool._seconds()
        try:
            self._parser.feed(data)
        except HTTPParseError as e:
            self._badResponse(e)
            return
        if self._busy and self._gotStatus and not self._upgraded:
            # The body continues: let the client's pace drive our reads.
            father = self.father
            if father is not None and father.producer is None and not father.finished:
                father.registerProducer(self.transport, True)

    def statusReceived(
        self, version: bytes, code: int, reason: bytes, headers: Any, length: int | None
    ) -> None:
        if code < 200 and code != 101:
            return  # interim responses: the proxy already answered 100-continue
        self._gotStatus = True
        self._code = code
        self._length = length
        self.handleStatus(version, CODE_BYTES[code], reason)
        father = self.father
        if father is None or father.finished:
            return
        via = getattr(father, "_via", None)
        if code == 101:
            raw = dict(headers._rawHeaders)
        else:
            # (The parser made this dict for this response alone: changed in place.)
            raw = responseHeaders(
                headers._rawHeaders, via, length is not None and length >= 0, copy=False
            )
        if self._plainHeaders:
            target = father.responseHeaders._rawHeaders
            if not target:
                father.responseHeaders._rawHeaders = raw
            else:
                self._mergeHeaders(target, raw)
        else:
            from torsion.web._headers import canonicalName

            for name, values in raw.items():
                for value in values:
                    self.handleHeader(canonicalName(name), value)
        if self._endHook:
            self.handleEndHeaders()

    @staticmethod
    def _mergeHeaders(target: dict[bytes, list[bytes]], raw: dict[bytes, list[bytes]]) -> None:
        for name, values in raw.items():
            if name in _OVERWRITE:
                target[name] = values
            else:
                old = target.get(name)
                target[name] = values if old is None else old + values

    def messageComplete(self) -> None:
        if not self._gotStatus or self._code == 101:
            return  # end of an interim response, or an upgrade follows
        self._busy = False
        self.handleResponseEnd()
        self._release()

    def upgradeReceived(self, rest: bytes) -> None:
        self._upgraded = True
        self._busy = False
        self._cancelTimer()
        father = self.father
        if father is not None and hasattr(father, "_upgradeAccepted"):
            father._upgradeAccepted(self, rest)
        else:
            self.transport.loseConnection()

    # -- Twisted's hooks --------------------------------------------------------------

    def handleStatus(self, version: bytes, code: bytes, message: bytes) -> None:
        """The status line arrived. Twisted: ``ProxyClient.handleStatus``."""
        father = self.father
        if father is not None and not father.finished:
            father.setResponseCode(CODE_INTS[code], message)

    def handleHeader(self, key: bytes, value: bytes) -> None:
        """One response header (only called when overridden in a subclass).

        Twisted: ``ProxyClient.handleHeader``.
        """
        father = self.father
        if key.lower() in _OVERWRITE:
            father.responseHeaders.setRawHeaders(key, [value])
        else:
            father.responseHeaders.addRawHeader(key, value)

    def handleEndHeaders(self) -> None:
        """All headers are in. Twisted: ``HTTPClient.handleEndHeaders``.

        (The upstream transport becomes the response's producer as soon as
        a body spans more than one read.)
        """

    def handleResponsePart(self, buffer: bytes) -> None:
        """A piece of the body. Twisted: ``ProxyClient.handleResponsePart``."""
        father = self.father
        if father is not None and not father.finished and not father._disconnected:
            father.write(buffer)

    def handleResponseEnd(self) -> None:
        """The response is complete. Twisted: ``ProxyClient.handleResponseEnd``."""
        if self._finished:
            return
        self._finished = True
        father = self.father
        if father is None or father._disconnected or father.finished:
            return
        if father.producer is not None:
            father.unregisterProducer()
        if not father.startedWriting and father.code >= 200:
            father.write(b"")
        father.finish()

    # -- lifecycle ------------------------------------------------------------------------

    def _release(self) -> None:
        """Back to the pool, or closed if it cannot be reused."""
        father = self.father
        self.father = None
        self.headers = self.data = b""
        pool = self._pool
        reusable = (
            pool is not None
            and self._parser._parser.should_keep_alive()
            and not self._parser._dead
            and father is not None
            and getattr(father, "_upstreamBodyDone", True)
        )
        if reusable:
            pool.release(self)
        else:
            self.transport.loseConnection()

    def _badResponse(self, e: HTTPParseError) -> None:
        log.msg(f"Bad response from upstream: {e.reason}")
        self._busy = False
        father = self.father
        self.father = None
        self.transport.abortConnection()
        if father is not None:
            _fail(father, 502, f"bad upstream response: {e.reason}")

    def _touch(self) -> None:
        pool = self._pool
        if pool is None:
            return
        self._lastActivity = pool._seconds()
        if self._timer is None:
            self._timer = pool.clock.callLater(pool.timeout, self._checkTimeout)

    def _checkTimeout(self) -> None:
        self._timer = None
        pool = self._pool
        if not self._busy or pool is None:
            return
        left = self._lastActivity + pool.timeout - pool._seconds()
        if left > 0:
            self._timer = pool.clock.callLater(left, self._checkTimeout)
            return
        father = self.father
        self.father = None
        self._busy = False
        self.transport.abortConnection()
        if father is not None:
            _fail(father, 504, "upstream timed out")

    def _cancelTimer(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            if timer.active():
                timer.cancel()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self._cancelTimer()
        onLost = self._onLost
        if onLost is not None:
            self._onLost = self._tunnel = None
            onLost(reason)
        pool = self._pool
        if pool is not None:
            pool.forget(self)
        father = self.father
        self.father = None
        busy = self._busy
        self._busy = False
        if father is None or not busy:
            return
        if self._gotStatus:
            # A close-delimited body ends here; anything else was cut short.
            if self._parser.feedEOF():
                return
            if not father._disconnected and not father.finished:
                abort = getattr(father, "_abort", None)
                if abort is not None:
                    abort()
                elif father.channel is not None:
                    father.channel.loseConnection()
            return
        if self._reused and hasattr(father, "_retry") and father._retry():
            return
        _fail(father, 502, f"upstream closed: {reason.getErrorMessage()}")


# The parser's sink call for a piece of the body goes straight to the Twisted
# hook (subclasses get the same in __init_subclass__).
ProxyClient.bodyReceived = ProxyClient.handleResponsePart  # type: ignore[attr-defined]


class ProxyClientFactory(protocol.ClientFactory):
    """Builds the :class:`ProxyClient` for one request.

    Twisted: ``twisted.web.proxy.ProxyClientFactory``.  A failed connection
    answers 502 (504 on timeout) instead of Twisted's 501.
    """

    protocol: Any = ProxyClient
    noisy = False

    def __init__(
        self,
        command: bytes,
        rest: bytes,
        version: bytes,
        headers: Any,
        data: bytes,
        father: Any,
    ) -> None:
        self.father = father
        self.command = command
        self.rest = rest
        self.headers = headers
        self.data = data
        self.version = version
        self.pool: ConnectionPool | None = None
        self.key: Any = None

    def buildProtocol(self, addr: Any) -> Any:
        p = self.protocol(
            self.command, self.rest, self.version, self.headers, self.data, self.father
        )
        pool = self.pool
        if pool is not None:
            p._pool = pool
            p._key = self.key
            pool.opened(p)
        return p

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """Answer the request with 502 (504 if the connect timed out)."""
        father = self.father
        if father is None:
            return
        if reason.check(error.TimeoutError):
            status = 504
        else:
            status = 502
        _fail(father, status, f"could not connect: {reason.getErrorMessage()}")


def _fail(father: Any, status: int, why: str) -> None:
    """Tell ``father`` the upstream failed (a plain Request gets a short answer)."""
    failed = getattr(father, "_upstreamFailed", None)
    if failed is not None:
        failed(status, why)
        return
    if father.finished or father._disconnected:
        return
    if father.startedWriting:
        if father.channel is not None:
            father.channel.loseConnection()
        return
    body = b"Could not connect\n" if status == 502 else b"Gateway timeout\n"
    father.setResponseCode(status)
    father.responseHeaders.setRawHeaders(b"Content-Type", [b"text/plain"])
    father.responseHeaders.setRawHeaders(b"Content-Length", [b"%d" % len(body)])
    father.write(body)
    father.finish()
